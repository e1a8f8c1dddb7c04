#!/usr/bin/env bash
# Start-up of control commands and of the agent's children (ARCHITECTURE.md, "Libraries and
# plugins"): hyperfine (-N, no shell) of /bin/true, `mlrun --version`, `mlrun task list` on an
# empty SQLite store and on one of N tasks (`--limit 50`), and `mlrun task run` of a no-op
# exec task (reset before each run), for this build and optionally another one (e.g. main's)
# measured in the same run; then the libraries mapped at start (ldd) and the loader's
# relocation counts (LD_DEBUG=statistics) of `--version`.
#
#   bench/startup_bench.sh [BUILD_DIR] [OTHER_BUILD_DIR] [N_TASKS] [RUNS]   (defaults: build "" 1000 100)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-$here/../build}" && pwd)"
other="${2:-}"
n_tasks="${3:-1000}"
runs="${4:-100}"
command -v hyperfine >/dev/null || { echo "startup_bench: needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
work="$(mktemp -d "${TMPDIR:-/tmp}/mlrun_startup_XXXXXX")"
trap 'rm -rf "$work"' EXIT
mlrun="$build/mlrun"

# The stores, made by this build: empty; N tasks (written as a folder store, then migrated:
# creation is not what is measured); one no-op exec task to run again and again.
"$mlrun" --home "$work/empty" task list >/dev/null
model_id="$("$mlrun" --home "folder:$work/big" task create exec --name model --set 'command=echo hi' --tag bench)"
python3 - "$work/big" "$model_id" "$n_tasks" <<'PY'
import json, os, sys, time
home, model_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = json.load(open(os.path.join(home, "tasks", model_id, "task.json")))
digits = "0123456789abcdefghijklmnopqrstuvwxyz"
def b36(x, width):
    s = ""
    for _ in range(width):
        s = digits[x % 36] + s
        x //= 36
    return s
t0 = int(time.time() * 1000) - 10 * n
for i in range(n - 1):
    rec = dict(model, id=b36(t0 + 10 * i, 9) + b36(i, 5), name="task-%04d" % i, status="completed")
    rec["created_ms"] = rec["updated_ms"] = t0 + 10 * i
    d = os.path.join(home, "tasks", rec["id"])
    os.makedirs(d)
    with open(os.path.join(d, "task.json"), "w") as f:
        json.dump(rec, f)
PY
"$mlrun" --home "$work/big" store migrate >/dev/null 2>&1
count="$("$mlrun" --home "$work/big" task list --all --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
[[ "$count" -eq "$n_tasks" ]] || { echo "startup_bench: expected $n_tasks tasks, found $count" >&2; exit 1; }
run_id="$("$mlrun" --home "$work/run" task create exec --name noop --set command=true)"

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $runs runs each"
builds=("$build")
[[ -n "$other" ]] && builds+=("$(cd "$other" && pwd)")
args=(-N --warmup 5 --runs "$runs" --export-json "$work/h.json" --style none)
names=(/bin/true)
cmds=(/bin/true)
for b in "${builds[@]}"; do
    tag="$(basename "$(dirname "$b")")/$(basename "$b")"
    names+=("$tag --version" "$tag task list (empty)" "$tag task list --limit 50 ($n_tasks)" "$tag task run (no-op)")
    cmds+=("$b/mlrun --version" "$b/mlrun --home $work/empty task list"
           "$b/mlrun --home $work/big task list --limit 50" "$b/mlrun --home $work/run task run $run_id")
done
hargs=()
for i in "${!cmds[@]}"; do
    if [[ "${cmds[$i]}" == *" task run "* ]]; then
        hargs+=(--prepare "${cmds[$i]%% *} --home $work/run task reset $run_id")
    else
        hargs+=(--prepare /bin/true)
    fi
    hargs+=(-n "${names[$i]}" "${cmds[$i]}")
done
hyperfine "${args[@]}" "${hargs[@]}" >/dev/null
python3 - "$work/h.json" <<'PY'
import json, statistics, sys
res = json.load(open(sys.argv[1]))["results"]
base = statistics.median(res[0]["times"])
print(f"{'command':52} {'median':>9} {'mean':>9} {'x /bin/true':>12}")
for r in res:
    m = statistics.median(r["times"])
    print(f"{r['command']:52} {m*1e3:7.2f}ms {r['mean']*1e3:7.2f}ms {m/base:11.1f}x")
PY
for b in "${builds[@]}"; do
    stats="$(LD_DEBUG=statistics "$b/mlrun" --version 2>&1 >/dev/null)"
    relocs="$(sed -n 's/.*final number of relocations: \([0-9]*\).*/\1/p' <<<"$stats")"
    relative="$(sed -n 's/.*number of relative relocations: \([0-9]*\).*/\1/p' <<<"$stats")"
    echo "$b/mlrun: $(ldd "$b/mlrun" | wc -l) libraries at start (ldd), $relocs symbol relocations + $relative relative (LD_DEBUG=statistics, --version)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
