#!/usr/bin/env bash
# Create .venv/ in the repository root and install the locked dependencies and this
# project into it. Safe to run again: it does nothing when the environment is current.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
stamp="$venv/.cdp-installed"

find_python() {
    for candidate in "${PYTHON:-}" python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if [ -f "$stamp" ] && [ "$stamp" -nt requirements.lock ] && [ "$stamp" -nt pyproject.toml ]; then
    exit 0
fi

python=$(find_python) || {
    echo "error: Python 3.11 is required (tried \$PYTHON, python3.11, python3); install it or set PYTHON=/path/to/python3.11" >&2
    exit 2
}

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv with $($python --version)"
    "$python" -m venv "$venv"
fi
echo "installing locked dependencies into $venv (first time: about a minute)"
log="$venv/install.log"
pip_install() {
    # pip's output goes to a log, shown only if something fails.
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input "$@" >>"$log" 2>&1 || {
        grep -v '^WARNING: Location' "$log" >&2
        echo "error: installing the dependencies failed (full log: $log)" >&2
        exit 1
    }
}
: >"$log"
pip_install --no-deps -r requirements.lock
pip_install --no-deps -e .
# A compiled sqlglot extension breaks fakesnow; make sure none is left from an older set-up.
"$venv/bin/python" -m pip uninstall --quiet --yes sqlglotc sqlglotrs >/dev/null 2>&1 || true
touch "$stamp"
echo "environment ready: $venv"
