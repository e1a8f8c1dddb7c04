#!/usr/bin/env bash
# The web page in a real browser (headless chromium): a token, a CSV submitted and a job run
# by an agent through the API, then the page at /#token=... must show the signed-in name and
# the job as completed in "My jobs" (its JavaScript fetched them). Run by ctest.
#   tests/server/web_page_check.sh build/mlrun
set -euo pipefail
mlrun="$(realpath "$1")"
command -v chromium >/dev/null || { echo "web_page_check: chromium missing: skipped"; exit 0; }
work="$(mktemp -d "${TMPDIR:-/tmp}/web_page_XXXXXX")"
export MLRUN_HOME="$work/.mlrun" MLRUN_BROKER="" MLRUN_TRACKING_URI=""
spid=""
cleanup() { [[ -n "$spid" ]] && kill "$spid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
token="$("$mlrun" server token create webuser 2>/dev/null)"
"$mlrun" server --listen 127.0.0.1:0 --templates exec >server.out 2>server.log &
spid=$!
for _ in $(seq 100); do grep -q 'listening on' server.out 2>/dev/null && break; sleep 0.1; done
url="$(grep -o 'http://[0-9.:]*' server.out)"
printf 'a,b,y\n1,2,0\n3,4,1\n' >t.csv
sub="$(curl -sf -H "Authorization: Bearer $token" -F name=web -F target=y -F file=@t.csv "$url/submissions" | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')"
job="$(curl -sf -H "Authorization: Bearer $token" -d "{\"submission_id\":\"$sub\",\"template\":\"exec\"}" "$url/jobs" | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')"
timeout 60 "$mlrun" agent daemon --queue server --once -q
dom="$(timeout 60 chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=5000 --dump-dom "$url/#token=$token" 2>/dev/null)"
grep -q 'signed in as webuser' <<<"$dom" || { echo "web_page_check: not signed in"; echo "$dom" | tail -20; exit 1; }
grep -q "<td>$job</td><td>exec</td><td>completed</td>" <<<"$dom" || { echo "web_page_check: job $job not shown completed"; echo "$dom" | grep -A3 jobs; exit 1; }
echo "web_page_check: ok (job $job completed on the page)"
