#!/usr/bin/env bash
# End-to-end checks of the real binary on the example pipelines, as CI uses mlrun:
# smoke profile, gates, JUnit and Markdown reports, baseline comparison, exit codes,
# caching, and the full Titanic run's quality bar. Run after the unit tests.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mlrun="$root/${BUILD_DIR:-build}/mlrun"
work=$(mktemp -d "${TMPDIR:-/tmp}/mlrun-e2e-XXXXXX")
trap 'rm -rf "$work"' EXIT
export MLRUN_HOME="$work/store"
passed=0
failed=0
check() { # check NAME COMMAND...: the command's exit status decides
  local name=$1; shift
  if "$@"; then
    passed=$((passed + 1)); echo "ok    $name"
  else
    failed=$((failed + 1)); echo "FAIL  $name"
  fi
}
run() { # run EXPECTED_EXIT LOGFILE ARGS...: mlrun with the exit code we expect
  local expected=$1 log=$2; shift 2
  "$mlrun" "$@" >"$log" 2>&1
  local rc=$?
  if [ "$rc" -ne "$expected" ]; then
    echo "      mlrun $* exited $rc, expected $expected; last lines:"; tail -5 "$log" | sed 's/^/      | /'
    return 1
  fi
}
titanic=examples/titanic/pipeline.yaml
run_of() { grep -o 'run [0-9a-z]* completed' "$1" | tail -1 | cut -d' ' -f2; } # LOG -> its completed run
summary_board() { # RUN -> the path of its summary's leaderboard.json
  "$mlrun" task list --all --run "$1" --kind summary --json | python3 -c '
import json, sys, urllib.parse
task = json.load(sys.stdin)[-1]
print(urllib.parse.urlparse([a["uri"] for a in task["artifacts"] if a["name"] == "leaderboard.json"][0]).path)'
}
leaderboard_metrics() { # RUN -> the test metrics of every ranked model, as JSON
  "$mlrun" task list --all --run "$1" --kind summary --json | python3 -c '
import json, sys, urllib.parse
task = json.load(sys.stdin)[-1]
uri = [a["uri"] for a in task["artifacts"] if a["name"] == "leaderboard.json"][0]
board = json.load(open(urllib.parse.urlparse(uri).path))
print(json.dumps({m["model"]: m["test"] for m in board["models"]}, sort_keys=True))'
}

# 1. Smoke run with a gate and reports, in under a minute.
start=$(date +%s)
check "titanic smoke run passes its gate" run 0 "$work/smoke.log" pipeline run $titanic --smoke --gate 'roc_auc>=0.8' \
  --junit "$work/out.xml" --summary-md "$work/summary.md"
elapsed=$(( $(date +%s) - start ))
check "smoke run took ${elapsed}s (< 60 s)" test "$elapsed" -lt 60
check "JUnit file parses and counts 9 steps and 1 gate" python3 - "$work/out.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
suites = {s.get("name"): s for s in root.findall("testsuite")}
steps, gates = suites["titanic.steps"], suites["titanic.gates"]
assert len(steps.findall("testcase")) == int(steps.get("tests")) == 9, steps.get("tests")
assert len(gates.findall("testcase")) == int(gates.get("tests")) == 1
assert root.get("failures") == "0", root.get("failures")
assert {c.get("name") for c in steps} >= {"preprocess", "train::mlp", "summary"}
PY
check "Markdown summary names the recommended model" grep -q '^\*\*Recommended:\*\*' "$work/summary.md"
smoke_run=$(run_of "$work/smoke.log")
check "the search step recorded its 2 smoke trials as child tasks" sh -c "'$mlrun' task list --all --run $smoke_run --tag trial | grep -c 'search/trial-' | grep -qx 2"
check "the run records its smoke profile" sh -c "'$mlrun' pipeline show $smoke_run --json | grep -q '\"smoke\": true'"

# 1b. Data checked before a run: a wrong target exits 2 with a did-you-mean and records no run;
#     the same smoke run on a gzip-compressed copy of the data gives the same leaderboard.
runs_before=$("$mlrun" pipeline list | wc -l)
check "a wrong target exits 2 before any step" run 2 "$work/target.log" pipeline run $titanic --smoke \
  --set preprocess.data.target=Survived
check "the wrong target's line suggests the column" grep -q 'target "Survived" is not a column of titanic3.arff; did you mean "survived"?' "$work/target.log"
check "the refused run recorded nothing" test "$("$mlrun" pipeline list | wc -l)" -eq "$runs_before"
mkdir -p "$work/gz" && gzip -c -n examples/titanic/titanic3.arff >"$work/gz/titanic3.arff.gz"
check "titanic smoke run on titanic3.arff.gz completes" run 0 "$work/gz.log" pipeline run $titanic --smoke \
  --set preprocess.data.path="$work/gz/titanic3.arff.gz"
gz_run=$(run_of "$work/gz.log")
check "the .arff.gz run has the plain file's leaderboard" \
  test -n "$gz_run" -a "$(leaderboard_metrics "$smoke_run")" = "$(leaderboard_metrics "$gz_run")"

# 1c. Wine (3 classes, 5-fold cross-validation, calibrated vote-based models), smoke profile.
check "wine smoke run completes" run 0 "$work/wine.log" pipeline run examples/wine/pipeline.yaml --smoke
wine_run=$(run_of "$work/wine.log")
check "wine: every model ranked, metrics in [0, 1], ECE beside log loss, multi-class on cv" \
  python3 - "$(summary_board "$wine_run")" <<'PY'
import json, math, sys
board = json.load(open(sys.argv[1]))
models = {m["kind"]: m for m in board["models"]}
assert set(models) == {"logreg", "random_forest", "boost", "knn", "xgboost"}, sorted(models)
assert not board["error_models"], board["error_models"]
assert board["positive_class"] is None, board["positive_class"]  # multi-class: no positive class
assert board["selection"] == "cv", board["selection"]
for kind, m in models.items():
    assert m["cv"]["k"] == 5 and m["score_std"] is not None, (kind, m["cv"])
    test = m["test"]
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "ece"):
        v = test[key]
        assert v is not None and 0 <= v <= 1 and math.isfinite(v), (kind, key, v)
    assert test["log_loss"] >= 0, (kind, test["log_loss"])
    assert m["test_ci"]["low"] <= m["test_score"] <= m["test_ci"]["high"], (kind, m["test_ci"])
PY
"$mlrun" task list --all --run "$wine_run" --kind train_model --json >"$work/wine-train.json"
check "wine: 3x3 confusion matrices; random_forest, boost, knn calibrated (sigmoid on valid), the others not" \
  python3 - "$work/wine-train.json" <<'PY'
import json, sys, urllib.parse
seen = set()
for task in json.load(open(sys.argv[1])):
    uri = [a["uri"] for a in task["artifacts"] if a["name"] == "metrics.json"][0]
    m = json.load(open(urllib.parse.urlparse(uri).path))
    kind, cal = m["model_kind"], m["calibration"]
    seen.add(kind)
    cm = m["test"]["confusion_matrix"]
    assert len(cm) == 3 and all(len(r) == 3 for r in cm), (kind, cm)
    assert m["positive_class"] is None, (kind, m["positive_class"])
    if kind in ("random_forest", "boost", "knn"):
        assert cal["method"] == "sigmoid" and cal["fitted_on"] == "valid", (kind, cal)
    else:
        assert cal["method"] == "none", (kind, cal)
assert seen == {"logreg", "random_forest", "boost", "knn", "xgboost"}, sorted(seen)
PY

# 2. A gate above what the model reaches: exit 1 and say which metric, value and bound.
check "an unreachable gate exits 1" run 1 "$work/gate.log" pipeline run $titanic --smoke --gate 'roc_auc>=0.99'
check "the gate failure names metric, value and bound" grep -qE 'gate failed: roc_auc 0\.[0-9]+ misses >= 0\.9900' "$work/gate.log"
check "bad gate syntax exits 2 with the expected form" run 2 "$work/badgate.log" pipeline run $titanic --gate 'roc_auc>>1'
check "the bad gate message shows the form" grep -q "expected METRIC OP NUMBER" "$work/badgate.log"

# 3. Baseline: a worse setting (no sex, no class) is flagged against the smoke run.
check "a drop against the baseline exits 1" run 1 "$work/baseline.log" pipeline run $titanic --smoke \
  --set 'preprocess.data.drop=[boat,body,home.dest,name,ticket,cabin,sex,pclass]' \
  --baseline "$smoke_run" --max-drop roc_auc=0.02
check "the baseline failure says worse by how much" grep -q "vs baseline" "$work/baseline.log"

# 4. The full Titanic pipeline: quality bar, every step shown, cached and identical second run.
check "full titanic run completes" run 0 "$work/full.log" pipeline run $titanic
full_run=$(grep -o 'run [0-9a-z]* completed' "$work/full.log" | tail -1 | cut -d' ' -f2)
best=$(grep -E '^ +1 ' "$work/full.log" | awk '{print $4}')
check "best test ROC AUC $best >= 0.83" python3 -c "import sys; sys.exit(0 if float('$best') >= 0.83 else 1)"
check "pipeline show lists every step" sh -c "'$mlrun' pipeline show $full_run | grep -cE '^ *(\`- )?(preprocess|train::[a-z_]+|search|summary|inference) +completed' | grep -qx 9"
check "second identical run is all cached" run 0 "$work/full2.log" pipeline run $titanic
check "no step ran again" sh -c "! grep -qE ': started on slot' '$work/full2.log'"
check "identical leaderboard" bash -c "diff <(grep -E '^ +[0-9] ' '$work/full.log') <(grep -E '^ +[0-9] ' '$work/full2.log')"
check "the model registry holds the recommended model" sh -c "'$mlrun' model list | grep -q examples-titanic"
check "model show reads as text: name, version, metrics" sh -c "'$mlrun' model show examples-titanic | grep -qE '^model +examples-titanic v[0-9]+' && '$mlrun' model show examples-titanic | grep -qE '^METRIC'"
"$mlrun" model pull examples-titanic --to "$work/bundle" >/dev/null
bundle_task=$(MLRUN_HOME="$work/elsewhere" "$mlrun" task create inference --set model.bundle="$work/bundle" --set data.path="$root/examples/titanic/titanic3.arff")
check "a pulled bundle scores raw rows in an empty store" sh -c "MLRUN_HOME='$work/elsewhere' '$mlrun' task run $bundle_task >'$work/bundle.log' 2>&1 && grep -q 'inference: accuracy' '$work/bundle.log'"
check "model show --json is the record" sh -c "'$mlrun' model show examples-titanic --json | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"name\"] == \"examples-titanic\"'"

# The reported test metrics equal scikit-learn's on the run's own predictions_test.csv.
if /usr/bin/python3 -c 'import sklearn' 2>/dev/null; then
  for id in $("$mlrun" task list --all --run "$full_run" --kind train_model --status completed | awk 'NR > 1 && $2 !~ /trial-/ {print $1}'); do
    check "metrics of $id equal sklearn's" /usr/bin/python3 scripts/check_metrics_sklearn.py "$MLRUN_HOME" "$id"
  done
else
  echo "skip  metrics against sklearn (python3-sklearn not installed)"
fi

# Clone one model with another setting, resume the run: that model and the summary rerun.
logreg=$("$mlrun" task list --all --run "$full_run" --kind train_model | awk '$2 == "train::logreg" {print $1}')
"$mlrun" task clone "$logreg" --set model.lr=0.05 >/dev/null
check "resume after a clone" run 0 "$work/clone.log" pipeline run --resume "$full_run"
check "the cloned model ran" grep -q 'train::logreg: started' "$work/clone.log"
check "the summary was refreshed" grep -q 'summary: started' "$work/clone.log"
check "the other models were kept" sh -c "! grep -q 'train::mlp: started' '$work/clone.log'"

# 5. Determinism under parallelism: the same seed gives the same test metrics, to the
#    last digit, with 1 and 2 steps at a time (models share one process).
check "parallelism 1 run" run 0 "$work/p1.log" pipeline run $titanic --smoke --no-cache --parallelism 1
check "parallelism 2 run" run 0 "$work/p2.log" pipeline run $titanic --smoke --no-cache --parallelism 2
p1=$(grep -o 'run [0-9a-z]* completed' "$work/p1.log" | tail -1 | cut -d' ' -f2)
p2=$(grep -o 'run [0-9a-z]* completed' "$work/p2.log" | tail -1 | cut -d' ' -f2)
check "identical test metrics at parallelism 1 and 2" test "$(leaderboard_metrics "$p1")" = "$(leaderboard_metrics "$p2")"

# 6. Resume after a SIGKILL of the whole mlrun process in the middle of training.
"$mlrun" pipeline run examples/digits/pipeline.yaml --smoke --no-cache --set train.model.epochs=40 \
  --set 'train.model.kind=[cnn]' >"$work/kill.log" 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q 'train::cnn: epoch' "$work/kill.log" && break; sleep 0.1; done
kill -9 $pid; wait $pid 2>/dev/null
killed_run=$("$mlrun" pipeline list | awk '$2 == "digits" && $3 == "dead" {print $1}' | tail -1)
check "the killed run is shown dead and left resumable" test -n "$killed_run"
prep_before=$("$mlrun" task list --all --run "$killed_run" --kind preprocess --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "--resume completes the killed run" run 0 "$work/resume.log" pipeline run --resume "$killed_run" --set train.model.epochs=2
check "resume kept the finished preprocess step" sh -c "'$mlrun' pipeline show $killed_run --json | grep -q '$prep_before'"
check "resume reran the unfinished model" grep -q 'train::cnn: started' "$work/resume.log"

# 8. The README tour, exactly as written.
check "the README tour runs as written" sh -c "scripts/readme_tour.sh '${BUILD_DIR:-build}' >'$work/tour.log' 2>&1 || { tail -15 '$work/tour.log' | sed 's/^/      | /'; exit 1; }"

# 7. Digits (images) smoke run.
check "digits smoke run completes" run 0 "$work/digits.log" pipeline run examples/digits/pipeline.yaml --smoke
digits_run=$(grep -o 'run [0-9a-z]* completed' "$work/digits.log" | tail -1 | cut -d' ' -f2)
scored_test_split() { # RUN: its inference step scored the preprocess step's test split (cached steps too), every row
  python3 - "$mlrun" "$1" <<'PY'
import json, subprocess, sys
mlrun, run = sys.argv[1:]
show = lambda *args: json.loads(subprocess.check_output([mlrun, *args]))
ids = {n["name"]: n["task_id"] for n in show("pipeline", "show", run, "--json")["nodes"]}
prep, inf = (show("task", "show", ids[step], "--json")["values"] for step in ("preprocess", "inference"))
n = prep["split_rows"]["test"]
assert inf["scored"] == "test split (%d rows)" % n and inf["rows"] == n, (inf.get("scored"), n)
PY
}
check "digits inference scores the held-out test split (its row count)" scored_test_split "$digits_run"

# 8. Pipelines on agents (local queue): the smoke run's leaderboard on agents is the local
#    one, metric for metric; pipeline-remote.yaml completes on a cpu and a gpu agent; an
#    agent whose examples/ folder is hidden (its own mount namespace, an empty folder bound
#    over it) completes it alone, since data went in as dataset versions at submit time.
"$mlrun" queue create cpu >/dev/null && "$mlrun" queue create gpu >/dev/null
"$mlrun" agent daemon --queue cpu --name e2e-cpu >"$work/agent-cpu.log" 2>&1 &
cpu_agent=$!
hidden_agent=
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
  mkdir -p "$work/empty"
  unshare -m sh -c "mount --bind '$work/empty' '$root/examples' && exec '$mlrun' agent daemon --queue gpu \
    --queue cpu --name e2e-hidden" >"$work/agent-hidden.log" 2>&1 &
  hidden_agent=$!
else
  "$mlrun" agent daemon --queue gpu --queue cpu --name e2e-gpu >"$work/agent-hidden.log" 2>&1 &
  hidden_agent=$!
  echo "      (not root: the gpu agent sees examples/)"
fi
check "smoke run here (reference)" run 0 "$work/remote-ref.log" pipeline run $titanic --smoke --no-cache
check "smoke run on two agents" run 0 "$work/remote-cpu.log" pipeline run $titanic --smoke --no-cache \
  --queue cpu --require-agent
ref=$(grep -o 'run [0-9a-z]* completed' "$work/remote-ref.log" | tail -1 | cut -d' ' -f2)
rem=$(grep -o 'run [0-9a-z]* completed' "$work/remote-cpu.log" | tail -1 | cut -d' ' -f2)
check "the same leaderboard on agents as here, every metric of every model" \
  test -n "$rem" -a "$(leaderboard_metrics "$ref")" = "$(leaderboard_metrics "$rem")"
# The controller itself as a task on a `services` agent (--controller-queue): the command
# returns once it is enqueued; the run it drives has the local leaderboard.
"$mlrun" queue create services >/dev/null
"$mlrun" agent daemon --queue services --name e2e-services >"$work/agent-services.log" 2>&1 &
services_agent=$!
check "--controller-queue services enqueues the controller and returns" run 0 "$work/remote-ctl.log" pipeline run \
  $titanic --smoke --no-cache --queue cpu --controller-queue services --require-agent
ctl=$(grep -o 'controller task [0-9a-z]*' "$work/remote-ctl.log" | head -1 | cut -d' ' -f3)
controller_done() {
  for _ in $(seq 1 360); do
    s=$("$mlrun" task show "$ctl" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    case "$s" in completed) return 0 ;; failed|aborted) return 1 ;; esac
    sleep 0.5
  done
  return 1
}
check "the controller task completes on the services agent" controller_done
ctl_run=$("$mlrun" task logs "$ctl" 2>/dev/null | sed -n 's/.*"event":"run_started".*"run_id":"\([^"]*\)".*/\1/p' | head -n 1)
check "the run the controller drove has the local leaderboard, every metric of every model" \
  test -n "$ctl_run" -a "$(leaderboard_metrics "$ref")" = "$(leaderboard_metrics "${ctl_run:-none}")"
kill -TERM $services_agent; wait $services_agent 2>/dev/null
# Its agent SIGKILLed mid-run: the controller task is requeued when its lease expires, and
# its second attempt resumes the same run (one run, each step run once).
printf 'name: e2e_ctl_kill\nsteps:\n  - {name: a, template: exec, params: {command: "sleep 4"}}\n  - {name: b, template: exec, parents: [a], params: {command: "true"}}\n' >"$work/ctl-kill.yaml"
"$mlrun" queue create ctl-steps >/dev/null && "$mlrun" queue create ctl-services >/dev/null
"$mlrun" agent daemon --queue ctl-steps --name e2e-ctl-steps --lease 3 >"$work/agent-ctl-steps.log" 2>&1 &
ctl_steps_agent=$!
"$mlrun" agent daemon --queue ctl-services --name e2e-ctl-1 --lease 3 >"$work/agent-ctl-1.log" 2>&1 &
ctl_agent=$!
check "a controller for the kill test is enqueued" run 0 "$work/ctl-kill.log" pipeline run "$work/ctl-kill.yaml" \
  --no-cache --queue ctl-steps --controller-queue ctl-services
ctl=$(grep -o 'controller task [0-9a-z]*' "$work/ctl-kill.log" | head -1 | cut -d' ' -f3)
for _ in $(seq 1 120); do # until the controller has started its run (step a sleeps 4 s)
  "$mlrun" task logs "$ctl" 2>/dev/null | grep -q '"event":"run_started"' && break
  sleep 0.25
done
sleep 0.5
kill -KILL $ctl_agent; wait $ctl_agent 2>/dev/null
"$mlrun" agent daemon --queue ctl-services --name e2e-ctl-2 --lease 3 >"$work/agent-ctl-2.log" 2>&1 &
ctl_agent=$!
check "after its agent was SIGKILLed, the controller is requeued and completes" controller_done
one_resumed_run() {
  "$mlrun" task show "$ctl" --json | python3 -c 'import json,sys; t=json.load(sys.stdin); assert t["attempts"] == 2, t["attempts"]'
  ids=$("$mlrun" task logs "$ctl" | sed -n 's/.*"event":"run_started".*"run_id":"\([^"]*\)".*/\1/p' | sort -u)
  [ "$(echo "$ids" | wc -l)" -eq 1 ] || return 1
  "$mlrun" pipeline show "$ids" --json | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["status"] == "completed", r["status"]; assert [n["state"] for n in r["nodes"]] == ["completed", "completed"], r["nodes"]'
  "$mlrun" task list --all --json | python3 -c 'import json,sys; n=sum(t["project"] == "e2e_ctl_kill" for t in json.load(sys.stdin)); assert n == 2, n'
}
check "its second attempt resumed the same run: one run, each step run once" one_resumed_run
kill -TERM $ctl_agent $ctl_steps_agent; wait $ctl_agent $ctl_steps_agent 2>/dev/null
check "pipeline-remote.yaml on a cpu and a gpu agent" run 0 "$work/remote-gpu.log" pipeline run \
  examples/titanic/pipeline-remote.yaml --smoke --no-cache --queue cpu --require-agent
kill -TERM $cpu_agent; wait $cpu_agent 2>/dev/null
check "pipeline-remote.yaml on the agent that cannot see examples/" run 0 "$work/remote-hidden.log" pipeline run \
  examples/titanic/pipeline-remote.yaml --smoke --no-cache --queue cpu --require-agent
kill -TERM $hidden_agent; wait $hidden_agent 2>/dev/null

echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
