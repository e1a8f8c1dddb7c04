#!/usr/bin/env bash
# The single-machine submission stack (the seed's docker-compose, without Docker): a
# redis-server, one agent and `mlrun server`, all on loopback, stopped together on Ctrl-C.
#
#   scripts/stack.sh [--templates ALLOW-LIST] [--tracking URI] [--port 8000] [--redis-port 6390]
#                    [--home DIR] [--mlrun PATH]
#
# Then: `mlrun --home DIR server token create me` and open http://127.0.0.1:8000/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mlrun="$here/../build/mlrun"
home="${MLRUN_HOME:-$PWD/.mlrun}"
port=8000
redis_port=6390
templates="$here/../examples/titanic/pipeline.yaml"
tracking=""
while [[ $# -gt 0 ]]; do
    case "$1" in
    --templates) templates="$2"; shift 2 ;;
    --tracking) tracking="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --redis-port) redis_port="$2"; shift 2 ;;
    --home) home="$2"; shift 2 ;;
    --mlrun) mlrun="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "stack.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[[ -x "$mlrun" ]] || { echo "stack.sh: no mlrun binary at $mlrun (build first, or --mlrun PATH)" >&2; exit 2; }
mkdir -p "$home/redis"
broker="redis://127.0.0.1:$redis_port/0"
pids=()
stop() {
    trap - INT TERM EXIT
    echo "stack.sh: stopping" >&2
    for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop INT TERM EXIT

redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$home/redis" --appendonly yes --save '' \
    --protected-mode yes >"$home/redis/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$redis_port" ping >/dev/null || { echo "stack.sh: redis-server did not start" >&2; exit 1; }

export MLRUN_HOME="$home" MLRUN_BROKER="$broker"
[[ -n "$tracking" ]] && export MLRUN_TRACKING_URI="$tracking"
"$mlrun" server --listen "127.0.0.1:$port" --templates "$templates" &
pids+=($!)
sleep 0.5
"$mlrun" agent daemon --queue server &
pids+=($!)
echo "stack.sh: store $home, broker $broker, server http://127.0.0.1:$port (Ctrl-C stops all)" >&2
wait -n "${pids[@]}" || true
