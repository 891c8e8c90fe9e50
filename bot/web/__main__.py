"""Run the web app: python -m bot.web"""

import logging
import sys

from aiohttp import web

from bot.settings import UnsafeSettingsError, get_settings
from bot.web.app import create_app

if __name__ == "__main__":
    try:
        settings = get_settings()
    except UnsafeSettingsError as exc:  # say why, without a traceback, and do not start
        print(exc, file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    web.run_app(create_app(settings), host=settings.web_host, port=settings.web_port,
                access_log=None, print=None)
