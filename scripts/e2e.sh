#!/usr/bin/env bash
# End-to-end checks of the real binary on the example pipelines, as CI uses mlrun:
# smoke profile, gates, JUnit and Markdown reports, baseline comparison, exit codes,
# caching, and the full Titanic run's quality bar. Run after the unit tests.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mlrun="$root/build/mlrun"
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

# 1. Smoke run with a gate and reports, in under a minute.
start=$(date +%s)
check "titanic smoke run passes its gate" run 0 "$work/smoke.log" pipeline run $titanic --smoke --gate 'roc_auc>=0.8' \
  --junit "$work/out.xml" --summary-md "$work/summary.md"
elapsed=$(( $(date +%s) - start ))
check "smoke run took ${elapsed}s (< 60 s)" test "$elapsed" -lt 60
check "JUnit file parses and counts 7 steps and 1 gate" python3 - "$work/out.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
suites = {s.get("name"): s for s in root.findall("testsuite")}
steps, gates = suites["titanic.steps"], suites["titanic.gates"]
assert len(steps.findall("testcase")) == int(steps.get("tests")) == 7, steps.get("tests")
assert len(gates.findall("testcase")) == int(gates.get("tests")) == 1
assert root.get("failures") == "0", root.get("failures")
assert {c.get("name") for c in steps} >= {"preprocess", "train::mlp", "summary"}
PY
check "Markdown summary names the recommended model" grep -q '^\*\*Recommended:\*\*' "$work/summary.md"
smoke_run=$(grep -o 'run [0-9a-z]* completed' "$work/smoke.log" | tail -1 | cut -d' ' -f2)
check "the run records its smoke profile" sh -c "'$mlrun' pipeline show $smoke_run --json | grep -q '\"smoke\": true'"

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
check "pipeline show lists every step" sh -c "'$mlrun' pipeline show $full_run | grep -cE '^ *(\`- )?(preprocess|train::[a-z_]+|summary|inference) +completed' | grep -qx 7"
check "second identical run is all cached" run 0 "$work/full2.log" pipeline run $titanic
check "no step ran again" sh -c "! grep -qE ': started on slot' '$work/full2.log'"
check "identical leaderboard" bash -c "diff <(grep -E '^ +[0-9] ' '$work/full.log') <(grep -E '^ +[0-9] ' '$work/full2.log')"
check "the model registry holds the recommended model" sh -c "'$mlrun' model list | grep -q examples-titanic"

# 5. Digits (images) smoke run.
check "digits smoke run completes" run 0 "$work/digits.log" pipeline run examples/digits/pipeline.yaml --smoke

echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
