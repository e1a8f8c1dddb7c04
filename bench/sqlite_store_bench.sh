#!/usr/bin/env bash
# `mlrun task list --all` (every task, piped to /dev/null) and `task list --run R`
# (a run of 50 tasks) on a store of N tasks: the folder store against the SQLite store.
#
#   bench/sqlite_store_bench.sh [BUILD_DIR] [N_TASKS] [RUNS]     (defaults: build 100000 10)
#
# Both stores are written directly from one record made by mlrun itself (creation time is
# not what we measure). Needs hyperfine and python3's sqlite3 module.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
n_tasks="${2:-100000}"
runs="${3:-10}"
mlrun="$(cd "$build" && pwd)/mlrun"
[[ -x "$mlrun" ]] || { echo "sqlite_store_bench: no mlrun binary at $mlrun (build it first)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/mlrun_bench_XXXXXX")"
trap 'rm -rf "$work"' EXIT
folder="$work/folder"
db="$work/sqlite"
model_id="$(cd "$work" && MLRUN_HOME="sqlite:$db" "$mlrun" task create exec --name model --set 'command=echo hi' --tag bench)"
python3 - "$folder" "$db" "$model_id" "$n_tasks" <<'PY'
import json, os, sqlite3, sys, time
folder, db, model_id, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
con = sqlite3.connect(os.path.join(db, "store.db"))
model = json.loads(con.execute("SELECT record FROM tasks WHERE id = ?", (model_id,)).fetchone()[0])
digits = "0123456789abcdefghijklmnopqrstuvwxyz"
def b36(x, width):
    s = ""
    for _ in range(width):
        s = digits[x % 36] + s
        x //= 36
    return s
t0 = int(time.time() * 1000) - 10 * n
statuses = ["completed", "failed", "draft", "completed", "published", "aborted"]
os.makedirs(os.path.join(folder, "tasks"))
with open(os.path.join(folder, "store.json"), "w") as f:
    json.dump({"schema_version": 1, "created_ms": t0}, f)
rows, tags = [], []
for i in range(n):
    rec = dict(model)
    rec["id"] = b36(t0 + 10 * i, 9) + b36(i, 5)
    rec["name"] = "task%d" % i
    rec["status"] = statuses[i % len(statuses)]
    rec["run_id"] = "run%d" % (i // 50)
    rec["created_ms"] = rec["updated_ms"] = t0 + 10 * i
    light = dict(rec, params={}, values={}, artifacts=[])
    rows.append((rec["id"], rec["name"], rec["project"], rec["type"], rec["kind"], rec["status"], rec["run_id"],
                 rec["step"], rec["parent"], rec["queue"], rec["cache_key"], rec["created_ms"], rec["updated_ms"],
                 json.dumps(light), json.dumps(rec)))
    tags += [(rec["id"], t) for t in rec["tags"]]
    d = os.path.join(folder, "tasks", rec["id"])
    os.mkdir(d)
    with open(os.path.join(d, "task.json"), "w") as f:
        json.dump(rec, f, indent=2)
con.execute("DELETE FROM tags")
con.execute("DELETE FROM tasks")
con.executemany("INSERT INTO tasks(id, name, project, type, kind, status, run_id, step, parent, queue, cache_key, "
                "created_ms, updated_ms, summary, record) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
con.executemany("INSERT INTO tags(task_id, tag) VALUES (?, ?)", tags)
con.commit()
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
PY
run="run$((n_tasks / 100))"
echo "stores of $n_tasks tasks; run $run has 50"
hyperfine -N --warmup 2 --runs "$runs" --export-markdown "$work/table.md" \
    -n "folder: task list" "$mlrun --home folder:$folder task list --all" \
    -n "sqlite: task list" "$mlrun --home sqlite:$db task list --all" \
    -n "folder: task list --run" "$mlrun --home folder:$folder task list --run $run" \
    -n "sqlite: task list --run" "$mlrun --home sqlite:$db task list --run $run" >/dev/null
cat "$work/table.md"
