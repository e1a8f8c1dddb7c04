#!/usr/bin/env bash
# Step-to-step hand-off of a pipeline run on agents (issue 14: p50 <= 10 ms): a chain of
# STEPS exec steps (`true`) run with `pipeline run --queue cpu --no-cache -q`, two idle
# agents on the queue. Hand-off of a step = its start (the agent's `task run` moved it to
# in_progress) - its parent's finish (the record's end), so it covers the agent noticing the
# child's exit, the ack + completion event, the controller's plan, task creation and push,
# the next claim and the spawn of `mlrun task run`. Median over all hand-offs of RUNS runs
# (and p90), on the local queue and on a redis-server started here on a free port.
#
#   bench/remote_handoff_bench.sh [MLRUN_BIN] [RUNS] [STEPS]     (default build/mlrun, 5, 20)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bin="$(realpath "${1:-$root/build/mlrun}")"
runs="${2:-5}"
steps="${3:-20}"
work=$(mktemp -d "${TMPDIR:-/tmp}/mlrun-handoff-XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

{
    echo "name: handoff"
    echo "parallelism: 1"
    echo "steps:"
    echo "  - {name: s1, template: exec, params: {command: 'true'}}"
    for i in $(seq 2 "$steps"); do
        echo "  - {name: s$i, template: exec, parents: [s$((i - 1))], params: {command: 'true'}}"
    done
} > "$work/chain.yaml"

# bench LABEL BROKER_FLAGS...
bench() {
    local label=$1; shift
    export MLRUN_HOME="$work/store-$label"
    "$bin" "$@" queue create cpu >/dev/null
    local agents=()
    for n in 1 2; do
        "$bin" "$@" agent daemon --queue cpu --name "$label-a$n" >"$work/$label-a$n.log" 2>&1 &
        agents+=($!); pids+=($!)
    done
    sleep 1
    local ids=()
    for r in $(seq "$runs"); do
        "$bin" "$@" pipeline run "$work/chain.yaml" --queue cpu --no-cache -q >"$work/$label-run$r.log" 2>&1
        ids+=("$(grep -o '^run [0-9a-z]*' "$work/$label-run$r.log" | cut -d' ' -f2)")
    done
    for a in "${agents[@]}"; do kill -TERM "$a"; done
    for a in "${agents[@]}"; do wait "$a" 2>/dev/null || true; done
    local files=()
    for id in "${ids[@]}"; do
        "$bin" "$@" task list --run "$id" --json >"$work/$label-$id.json"
        files+=("$work/$label-$id.json")
    done
    python3 - "$label" "${files[@]}" <<'PY'
import json, sys, statistics
gaps = []
for path in sys.argv[2:]:
    tasks = {t["step"]: t for t in json.load(open(path))}
    for i in range(2, len(tasks) + 1):
        gaps.append(tasks["s%d" % i]["started_ms"] - tasks["s%d" % (i - 1)]["finished_ms"])
gaps.sort()
p90 = gaps[int(0.9 * (len(gaps) - 1))]
print("%-6s hand-offs %3d  p50 %5.1f ms  p90 %5.1f ms  max %5.1f ms" % (sys.argv[1], len(gaps),
      statistics.median(gaps), p90, gaps[-1]))
PY
}

bench local
if command -v redis-server >/dev/null; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly yes --dir "$work" \
        --logfile "$work/redis.log" --daemonize no &
    pids+=($!)
    sleep 0.5
    bench redis --broker "redis://127.0.0.1:$port/0"
fi
