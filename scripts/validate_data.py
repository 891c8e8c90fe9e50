"""`rasa data validate`, failing on every warning except responses that only actions send.

Rasa reports responses that no story or rule mentions as unused, also when a default action
(two-stage fallback) or a custom action sends them. Those are listed here, each with its sender;
any other warning (unused intent, conflicting rules, bad story) fails the check.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# response -> what sends it
SENT_BY_ACTIONS = {
    "utter_default": "action_default_fallback (Rasa default, overridden in actions/unanswered.py)",
    "utter_ask_rephrase": "action_default_ask_rephrase (two-stage fallback)",
    "utter_back_to_form": "actions/forms.py after answering a question inside a form",
}
# Rasa's own note that a retrieval intent appears both in the domain and in the NLU data.
IGNORED = [re.compile(r"duplicated intents have been found across multiple domain files: faq$")]


def main() -> int:
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    cmd = [str(Path(sys.executable).with_name("rasa")), "data", "validate", "--domain", "domain",
           "--data", "data", "--config", "config.yml"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    output = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    warnings = sorted({m.strip() for m in re.findall(r"UserWarning: (.*)", output)})
    problems = []
    for warning in warnings:
        unused = re.match(r"The utterance '(\w+)' is not used in any story or rule\.", warning)
        if unused and unused.group(1) in SENT_BY_ACTIONS:
            continue
        if any(p.search(warning) for p in IGNORED):
            continue
        problems.append(warning)
    if proc.returncode != 0 or problems:
        print(output[-4000:] if proc.returncode != 0 else "", file=sys.stderr)
        for p in problems:
            print(f"data validate: {p}", file=sys.stderr)
        return 1
    print(f"rasa data validate: clean ({len(warnings)} known notes about responses sent by actions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
