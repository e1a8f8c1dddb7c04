#!/usr/bin/env bash
# History must not cost (issue 9, DESIGN §9): the same 52-step run (noop 1 -> 50 -> 1,
# --no-cache) on an SQLite store holding N tasks against an empty one (budget: within
# 1.2x), and `task list --limit 50`, `task list --run R` (budget: < 10 ms) and `task show`
# (flat) on both, and every other filter of task list (--status, --tag, --project, --kind);
# `mlrun --version` too, so the query's share (a command less the start-up) is printed.
# Medians of RUNS interleaved rounds; ratios full/empty and the load average printed.
#
#   bench/store_history_bench.sh [BUILD_DIR] [N_TASKS] [RUNS]     (defaults: build 100000 9)
#
# The full store is filled directly with SQL from one record made by mlrun itself (filling
# is not what we measure); every 50 tasks share a run id. Needs python3's sqlite3 module.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
n_tasks="${2:-100000}"
runs="${3:-9}"
mlrun="$(cd "$build" && pwd)/mlrun"
templates="$here/../templates"
[[ -x "$mlrun" ]] || { echo "store_history_bench: no mlrun binary at $mlrun (build it first)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/mlrun_bench_XXXXXX")"
trap 'rm -rf "$work"' EXIT
empty="$work/empty"
full="$work/full"
model_empty="$(cd "$work" && MLRUN_HOME="$empty" "$mlrun" task create exec --name model --set 'command=echo hi' --tag bench)"
model_full="$(cd "$work" && MLRUN_HOME="$full" "$mlrun" task create exec --name model --set 'command=echo hi' --tag bench)"
python3 - "$full" "$model_full" "$n_tasks" <<'PY'
import json, os, sqlite3, sys, time
db, model_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = sqlite3.connect(os.path.join(db, "store.db"))
model = json.loads(con.execute("SELECT record FROM tasks WHERE id = ?", (model_id,)).fetchone()[0])
digits = "0123456789abcdefghijklmnopqrstuvwxyz"
def b36(x, width):
    s = ""
    for _ in range(width):
        s = digits[x % 36] + s
        x //= 36
    return s
t0 = int(time.time() * 1000) - 10 * n - 60000
statuses = ["completed", "failed", "draft", "completed", "published", "aborted"]
rows, tags = [], []
for i in range(n - 1):  # n - 1 plus the model record = n tasks
    rec = dict(model)
    rec["id"] = b36(t0 + 10 * i, 9) + b36(i, 5)
    rec["name"] = "task%d" % i
    rec["project"] = "bench/p%d" % (i % 5)
    rec["status"] = statuses[i % len(statuses)]
    rec["run_id"] = "run%d" % (i // 50)
    rec["created_ms"] = rec["updated_ms"] = t0 + 10 * i
    rec["values"] = {"accuracy": 0.5 + (i % 50) / 100.0, "rows": i}
    light = dict(rec, params={}, values={}, artifacts=[])
    rows.append((rec["id"], rec["name"], rec["project"], rec["type"], rec["kind"], rec["status"], rec["run_id"],
                 rec["step"], rec["parent"], rec["queue"], rec["cache_key"], rec["created_ms"], rec["updated_ms"],
                 json.dumps(light), json.dumps(rec)))
    tags += [(rec["id"], t) for t in rec["tags"]]
con.executemany("INSERT INTO tasks(id, name, project, type, kind, status, run_id, step, parent, queue, cache_key, "
                "created_ms, updated_ms, summary, record) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
con.executemany("INSERT INTO tags(task_id, tag) VALUES (?, ?)", tags)
con.commit()
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
PY
{
    echo "name: history52"
    echo "parallelism: 2"
    echo "steps:"
    echo "  - {name: first, template: noop}"
    printf '  - {name: mid, template: noop, parents: [first], foreach: {seed: ['
    seq -s, 1 50 | tr -d '\n'
    echo ']}}'
    echo "  - {name: last, template: noop, parents: [mid]}"
} > "$work/p52.yaml"
run_r="run$((n_tasks / 100))"
echo "stores: empty (1 task) and full ($(MLRUN_HOME="$full" "$mlrun" task list --json --all | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') tasks); $(nproc) cores; $("$mlrun" --version)"
pipe="--templates $templates pipeline run -q --no-cache $work/p52.yaml"
python3 "$here/bench_timing.py" "$runs" \
    "run52_empty=MLRUN_HOME=$empty $mlrun $pipe" \
    "run52_full=MLRUN_HOME=$full $mlrun $pipe" \
    "list50_empty=MLRUN_HOME=$empty $mlrun task list --limit 50" \
    "list50_full=MLRUN_HOME=$full $mlrun task list --limit 50" \
    "listrun_empty=MLRUN_HOME=$empty $mlrun task list --run $run_r" \
    "listrun_full=MLRUN_HOME=$full $mlrun task list --run $run_r" \
    "show_empty=MLRUN_HOME=$empty $mlrun task show $model_empty" \
    "show_full=MLRUN_HOME=$full $mlrun task show $model_full" \
    "status_empty=MLRUN_HOME=$empty $mlrun task list --status failed" \
    "status_full=MLRUN_HOME=$full $mlrun task list --status failed" \
    "tag_empty=MLRUN_HOME=$empty $mlrun task list --tag bench" \
    "tag_full=MLRUN_HOME=$full $mlrun task list --tag bench" \
    "project_empty=MLRUN_HOME=$empty $mlrun task list --project bench" \
    "project_full=MLRUN_HOME=$full $mlrun task list --project bench" \
    "kind_empty=MLRUN_HOME=$empty $mlrun task list --kind exec" \
    "kind_full=MLRUN_HOME=$full $mlrun task list --kind exec" \
    "version_empty=MLRUN_HOME=$empty $mlrun --version" \
    "version_full=MLRUN_HOME=$full $mlrun --version" \
    "true=/bin/true" > "$work/times.txt"
python3 - "$work/times.txt" "$runs" <<'PY'
import sys
t = dict((l.split()[0], float(l.split()[1])) for l in open(sys.argv[1]))
print("median of %s interleaved rounds, wall ms (/bin/true: %.2f ms); load average %s" %
      (sys.argv[2], t["true"], open("/proc/loadavg").read().split()[0]))
print("%-26s %10s %10s %8s  %s" % ("work", "empty ms", "full ms", "ratio", "budget"))
for key, what, budget in [("run52", "52-step noop run", "full <= 1.2x empty"),
                          ("list50", "task list --limit 50", "< 10 ms"),
                          ("listrun", "task list --run R (50)", "< 10 ms"),
                          ("show", "task show", "flat"),
                          ("status", "task list --status failed", "< 10 ms"),
                          ("tag", "task list --tag bench", "< 10 ms"),
                          ("project", "task list --project bench", "< 10 ms"),
                          ("kind", "task list --kind exec", "< 10 ms"),
                          ("version", "mlrun --version (start-up)", "")]:
    e, f = t[key + "_empty"], t[key + "_full"]
    print("%-26s %10.2f %10.2f %7.2fx  %s" % (what, e, f, f / e, budget))
# The query's share: a listing less the start-up every command pays.
v = t["version_full"]
print("query share on the full store (the command less mlrun --version): " +
      ", ".join("%s %.2f ms" % (k, t[k + "_full"] - v) for k in ("list50", "listrun", "show", "status", "tag", "project", "kind")))
PY
