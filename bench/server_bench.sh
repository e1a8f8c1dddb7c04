#!/usr/bin/env bash
# Submission server load (DESIGN §9): GET /jobs/{id}/status from `mlrun server` and from a
# FastAPI + uvicorn app (bench/server_fastapi.py, Debian python3-fastapi) over the same
# store, both measured by wrk in the same run (64 connections, 20,000 requests each:
# errors, p99, requests/s and their ratio); then 50 parallel 10 MB uploads, each checked
# stored intact (sha256), with the server's peak RSS.
#   bench/server_bench.sh [build/mlrun]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mlrun="$(realpath "${1:-$here/../build/mlrun}")"
work="$(mktemp -d "${TMPDIR:-/tmp}/server_bench_XXXXXX")"
export MLRUN_HOME="$work/.mlrun"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
port=$((20000 + RANDOM % 20000)); fport=$((port + 1))
token="$("$mlrun" server token create bench --rate 0 --submissions-per-day 1000 --concurrent-jobs 1000 2>/dev/null)"
"$mlrun" server --listen "127.0.0.1:$port" --templates exec --threads 64 --max-upload-mb 16 2>"$work/access.log" >"$work/server.out" &
spid=$!; pids+=($spid)
(cd "$here" && /usr/bin/python3 -m uvicorn server_fastapi:app --host 127.0.0.1 --port "$fport" --log-level warning) &
pids+=($!)
for _ in $(seq 100); do curl -sf "127.0.0.1:$port/health" >/dev/null && curl -s "127.0.0.1:$fport/docs" >/dev/null && break; sleep 0.1; done
printf 'a,b,y\n1,2,0\n3,4,1\n' >t.csv
sub="$(curl -sf -H "Authorization: Bearer $token" -F name=b -F target=y -F file=@t.csv "127.0.0.1:$port/submissions" | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')"
job="$(curl -sf -H "Authorization: Bearer $token" -d "{\"submission_id\":\"$sub\",\"template\":\"exec\"}" "127.0.0.1:$port/jobs" | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')"
a="$(curl -s -H "Authorization: Bearer $token" "127.0.0.1:$port/jobs/$job/status")"
b="$(curl -s -H "Authorization: Bearer $token" "127.0.0.1:$fport/jobs/$job/status")"
[[ "$(python3 -c "import json,sys;print(json.loads(sys.argv[1])['status'])" "$a")" == \
   "$(python3 -c "import json,sys;print(json.loads(sys.argv[1])['status'])" "$b")" ]] || { echo "answers differ: $a / $b"; exit 1; }

# wrk runs for a duration: long enough for at least 20,000 requests of the slower server
# (wrk cannot stop at a count without throttling); the script reports p50/p99 and non-2xx.
cat >count.lua <<LUA
request = function()
  return wrk.format("GET", "/jobs/$job/status", {["Authorization"] = "Bearer $token"})
end
done = function(summary, latency, requests)
  io.write(string.format("requests %d errors %d non2xx %d p50_ms %.2f p99_ms %.2f\n", summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
measure() { # name port
    local out
    out="$(wrk -t4 -c64 -d"${BENCH_SECONDS:-30}s" --latency -s count.lua "http://127.0.0.1:$2" 2>&1)"
    local rps; rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    echo "$1: $(grep '^requests' <<<"$out") req_s $rps"
    echo "$rps" >"$work/$1.rps"
}
echo "== GET /jobs/{id}/status, 64 connections, 20,000 requests"
measure mlrun "$port"
measure fastapi "$fport"
python3 -c "import sys;a,b=float(open('$work/mlrun.rps').read()),float(open('$work/fastapi.rps').read());print(f'ratio mlrun/fastapi: {a/b:.1f}x')"

echo "== 50 parallel 10 MB uploads"
head -c $((8 << 20)) /dev/urandom >raw.bin; base64 -w 100 raw.bin >base.csv
for i in $(seq 50); do { echo "$i"; head -c $(((10 << 20) - 3)) base.csv; } >"up$i.csv"; done
peak=0
( while kill -0 "$spid" 2>/dev/null; do awk '/VmRSS/ {print $2}' "/proc/$spid/status" >>rss.txt; sleep 0.05; done ) &
watch=$!
start=$(date +%s.%N)
ups=()
for i in $(seq 50); do
    curl -s -o "r$i.json" -H "Authorization: Bearer $token" -F name="u$i" -F target=y -F "file=@up$i.csv" "127.0.0.1:$port/submissions" &
    ups+=($!)
done
wait "${ups[@]}" || true
end=$(date +%s.%N)
kill "$watch" 2>/dev/null || true
ok=0
for i in $(seq 50); do
    want="$(sha256sum "up$i.csv" | cut -d' ' -f1)"
    got="$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1])).get("sha256",""))' "r$i.json" 2>/dev/null || true)"
    ds="$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1])).get("dataset_id",""))' "r$i.json" 2>/dev/null || true)"
    stored="$(sha256sum "$MLRUN_HOME/datasets/$ds/up$i.csv" 2>/dev/null | cut -d' ' -f1 || true)"
    [[ "$got" == "$want" && "$stored" == "$want" ]] && ok=$((ok + 1))
done
peak="$(sort -n rss.txt | tail -1)"
echo "uploads intact: $ok/50 in $(python3 -c "print(f'{$end-$start:.1f}')") s; server peak RSS $((peak / 1024)) MiB (500 MiB uploaded)"
