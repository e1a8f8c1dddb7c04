#!/usr/bin/env bash
# The web page in a real browser (headless chromium under the DevTools protocol): a user types
# the token, picks a file, clicks Submit, and the page shows the job completed in "My jobs"
# and ranked on the leaderboard (tests/server/web_page_browser.py starts its own redis-server,
# server and agent). Skipped, said so, when chromium or redis-server is missing. Run by ctest.
#   tests/server/web_page_check.sh build/mlrun
set -euo pipefail
command -v chromium >/dev/null || { echo "web_page_check: chromium missing: skipped"; exit 0; }
exec timeout 300 python3 "$(dirname "$0")/web_page_browser.py" "$1"
