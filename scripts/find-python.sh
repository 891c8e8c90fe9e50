#!/usr/bin/env bash
# Print a Python interpreter matching .python-version (3.10): pyenv and uv both read that file.
set -u
want=$(tr -d '[:space:]' < "$(dirname "$0")/../.python-version")
candidates=()
command -v pyenv >/dev/null 2>&1 && candidates+=("$(pyenv which python 2>/dev/null)")
command -v uv >/dev/null 2>&1 && candidates+=("$(uv python find "$want" 2>/dev/null)")
candidates+=("$(command -v "python$want" 2>/dev/null)" "$(command -v python3 2>/dev/null)")
for py in "${candidates[@]}"; do
  [ -n "$py" ] && [ -x "$py" ] || continue
  if "$py" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" 2>/dev/null; then
    echo "$py"; exit 0
  fi
done
echo "Loket needs Python $want (Rasa 3.6 does not install on newer Python)." >&2
echo "Install it, e.g. 'pyenv install $want' or 'uv python install $want', and run make again." >&2
exit 1
