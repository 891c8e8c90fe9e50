"""`python -m bot.cli` is `loket`."""

import sys

from bot.cli import main

sys.exit(main())
