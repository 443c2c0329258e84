#!/usr/bin/env bash
# Re-resolve the dependencies of pyproject.toml in a scratch environment and write
# requirements.lock. Run after changing a dependency range.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3.11 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet ".[test]"
{
    echo "# Exact versions the set-up installs (pip install --no-deps -r requirements.lock)."
    echo "# Regenerate with scripts/lock.sh after changing pyproject.toml; see docs/decisions.md for"
    echo "# why sqlglot's compiled extras (sqlglotc, sqlglotrs) are left out."
    "$tmp/venv/bin/pip" freeze --exclude-editable | grep -v -i -E '^(sqlglotc|sqlglotrs|cdp-warehouse)[= ]'
} > requirements.lock
echo "wrote requirements.lock"
