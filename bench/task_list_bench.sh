#!/usr/bin/env bash
# Control-command start-up (DESIGN §2, §9): `mlrun task list` on a folder store (folder:) of N tasks,
# against /bin/true, median of repeated runs. Budget: < 20 ms for 1,000 tasks.
# Also checks that mlrun does not load libtorch at start.
#
#   bench/task_list_bench.sh [BUILD_DIR] [N_TASKS] [RUNS]     (defaults: build 1000 30)
#
# Uses hyperfine when installed (apt-get install hyperfine), else a timing loop.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
n_tasks="${2:-1000}"
runs="${3:-30}"
mlrun="$(cd "$build" && pwd)/mlrun"
[[ -x "$mlrun" ]] || { echo "task_list_bench: no mlrun binary at $mlrun (build it first)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/mlrun_bench_XXXXXX")"
trap 'rm -rf "$work"' EXIT
export MLRUN_HOME="folder:$work/store"
store_dir="$work/store"

# The store is written directly (creation time is not what we measure); one record is
# made by mlrun itself and used as the model, so the records have the real schema.
model_id="$(cd "$work" && "$mlrun" task create exec --name model --set 'command=echo hi' --tag bench)"
python3 - "$store_dir" "$model_id" "$n_tasks" <<'EOF'
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
statuses = ["completed", "failed", "draft", "completed", "published", "aborted"]
for i in range(n - 1):  # n - 1 plus the model record = n tasks
    rec = dict(model)
    rec["id"] = b36(t0 + 10 * i, 9) + b36(i, 5)
    rec["name"] = "task-%04d" % i
    rec["project"] = "bench/p%d" % (i % 5)
    rec["status"] = statuses[i % len(statuses)]
    rec["created_ms"] = rec["updated_ms"] = t0 + 10 * i
    rec["params"] = dict(model["params"], command="echo %d" % i, seed=i)
    rec["values"] = {"accuracy": 0.5 + (i % 50) / 100.0, "rows": i}
    d = os.path.join(home, "tasks", rec["id"])
    os.makedirs(d)
    with open(os.path.join(d, "task.json"), "w") as f:
        json.dump(rec, f, indent=2)
EOF
count="$("$mlrun" task list --json --all | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
echo "store: $MLRUN_HOME with $count tasks"
[[ "$count" -eq "$n_tasks" ]] || { echo "task_list_bench: expected $n_tasks tasks, mlrun lists $count" >&2; exit 1; }

median_ms() { # command... -> median wall time in ms over $runs runs (timing loop)
    python3 - "$runs" "$@" <<'EOF'
import statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
for _ in range(3):
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
times = []
for _ in range(runs):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    times.append((time.perf_counter() - t) * 1000)
print("%.2f" % statistics.median(times))
EOF
}

echo
if command -v hyperfine >/dev/null; then
    hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/hyperfine.json" \
        -n true /bin/true \
        -n "mlrun --help" "$mlrun --help" \
        -n "mlrun task list ($n_tasks)" "$mlrun task list" \
        -n "mlrun task list --status failed" "$mlrun task list --status failed" \
        -n "mlrun task show" "$mlrun task show $model_id" >/dev/null
    python3 - "$work/hyperfine.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    # user+sys (CPU) time is the figure to trust on a loaded machine; wall time waits for cores.
    print("%-34s median %7.2f ms   min %7.2f ms   cpu (user+sys) %6.2f ms" %
          (r["command"], r["median"] * 1000, r["min"] * 1000, (r["user"] + r["system"]) * 1000))
EOF
else
    echo "(hyperfine not installed: timing loop of $runs runs)"
    printf '%-34s median %7s ms\n' "true" "$(median_ms /bin/true)"
    printf '%-34s median %7s ms\n' "mlrun --help" "$(median_ms "$mlrun" --help)"
    printf '%-34s median %7s ms\n' "mlrun task list ($n_tasks)" "$(median_ms "$mlrun" task list)"
    printf '%-34s median %7s ms\n' "mlrun task show" "$(median_ms "$mlrun" task show "$model_id")"
fi

echo
echo "ldd mlrun | grep -c torch: $(ldd "$mlrun" | grep -c torch || true)   (must be 0)"
echo "torch files opened by \`mlrun task list\` (LD_DEBUG=files): $(LD_DEBUG=files "$mlrun" task list 2>&1 >/dev/null | grep -c torch || true)   (must be 0)"
echo "libraries loaded at start:"
LD_DEBUG=files "$mlrun" task list 2>&1 >/dev/null | sed -n 's/.*file=\([^ ]*\) \[0\];  generating link map.*/\1/p' \
    | sort -u | sed 's/^/  /'
