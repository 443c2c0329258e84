#!/usr/bin/env bash
# Render the demo warehouse's report (`cdp report`) and take a PNG screenshot of it with headless
# Chromium (Debian's package) into docs/images/report.png, the picture the README shows.
#
#   scripts/screenshot_report.sh [WIDTHxHEIGHT]      # default 1400x3000: the whole page
#
# The warehouse is CDP_DUCKDB_PATH, else data/cdp.duckdb (`make demo` builds it).
set -euo pipefail
cd "$(dirname "$0")/.."

size="${1:-1400x3000}"
python="${PYTHON:-.venv/bin/python}"
chromium="$(command -v chromium || true)"
[ -n "$chromium" ] || { echo "error: chromium is not installed; apt-get install chromium" >&2; exit 2; }

page="$(mktemp -d)/report.html"
trap 'rm -rf "$(dirname "$page")"' EXIT
"$python" -m orchestration.cli report --output "$page"

mkdir -p docs/images
"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=5000 \
    --window-size="${size/x/,}" --screenshot="$PWD/docs/images/report.png" "file://$page" 2>/dev/null
echo "wrote docs/images/report.png ($size)"
