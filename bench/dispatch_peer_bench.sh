#!/usr/bin/env bash
# Dispatch against its peers in the same run (issue 9, DESIGN §9), medians of RUNS
# interleaved rounds, per step = (wall of 1 -> W -> 1 - wall of the 1-step graph) / (W + 2):
#   exec   `true` steps (child processes), mlrun on the SQLite store on disk, against GNU make
#          (`make -j2`, each rule `true` then `touch $@`: make's state on disk too);
#          budget <= 1.5x make, aim <= make
#   noop   in-process steps, mlrun against Dask's threaded scheduler (2 workers, timed in the
#          interpreter, so Python's start-up is not counted); budget <= Dask, aim 0.02 ms
#
#   bench/dispatch_peer_bench.sh [BUILD_DIR] [RUNS] [WIDTH]     (defaults: build 7 200)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
runs="${2:-7}"
width="${3:-200}"
mlrun="$(cd "$build" && pwd)/mlrun"
templates="$here/../templates"
[[ -x "$mlrun" ]] || { echo "dispatch_peer_bench: no mlrun binary at $mlrun (build it first)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/mlrun_bench_XXXXXX")"
trap 'rm -rf "$work"' EXIT

pipeline() { # FILE TEMPLATE PARAMS WIDTH
    {
        echo "name: peer_${2}_${4}"
        echo "parallelism: 2"
        echo "steps:"
        echo "  - {name: first, template: $2, params: $3}"
        if [ "$4" -gt 0 ]; then
            printf '  - {name: mid, template: %s, parents: [first], params: %s, foreach: {%s: [' "$2" "$3" \
                "$([ "$2" = exec ] && echo env.VALUE || echo seed)"
            seq -s, 1 "$4" | tr -d '\n'
            echo ']}}'
            echo "  - {name: last, template: $2, parents: [mid], params: $3}"
        fi
    } > "$1"
}
makefile() { # FILE WIDTH
    {
        mids=""
        for i in $(seq 1 "$2"); do mids="$mids mid$i"; done
        echo "last:${mids:- first}"
        printf '\t@true && touch $@\n'
        for i in $(seq 1 "$2"); do
            echo "mid$i: first"
            printf '\t@true && touch $@\n'
        done
        echo "first:"
        printf '\t@true && touch $@\n'
    } > "$1"
}
pipeline "$work/exec_w.yaml" exec '{command: "true"}' "$width"
pipeline "$work/exec_1.yaml" exec '{command: "true"}' 0
pipeline "$work/noop_w.yaml" noop '{}' "$width"
pipeline "$work/noop_1.yaml" noop '{}' 0
mkdir -p "$work/make_w" "$work/make_1"
makefile "$work/make_w/Makefile" "$width"
makefile "$work/make_1/Makefile" 0
export MLRUN_HOME="$work/store"
run="$mlrun --templates $templates pipeline run -q --no-cache --parallelism 2"
echo "1 -> $width -> 1 against 1 step; $runs interleaved rounds; $(nproc) cores; $("$mlrun" --version); store on ${TMPDIR:-/tmp}"
python3 "$here/bench_timing.py" "$runs" \
    "mlrun_exec_w=$run $work/exec_w.yaml" \
    "mlrun_exec_1=$run $work/exec_1.yaml" \
    "make_w=cd $work/make_w && rm -f first last mid* && make -s -j2" \
    "make_1=cd $work/make_1 && rm -f first last && make -s -j2" \
    "mlrun_noop_w=$run $work/noop_w.yaml" \
    "mlrun_noop_1=$run $work/noop_1.yaml" > "$work/times.txt"
dask_line="Dask: not installed (python3 -c 'import dask' fails; apt-get install python3-dask)"
if python3 -c 'import dask' 2>/dev/null; then
    dask_line="$(python3 - "$runs" "$width" <<'PY'
import statistics, sys, time
import dask
from dask.threaded import get
runs, width = int(sys.argv[1]), int(sys.argv[2])
def noop(*_):
    return None
def graph(n):
    g = {"first": (noop,)}
    if n:
        for i in range(n):
            g["mid%d" % i] = (noop, "first")
        g["last"] = (noop, ["mid%d" % i for i in range(n)])
    else:
        g["last"] = (noop, "first")
    return g
def ms(n):
    g = graph(n)
    t = time.perf_counter()
    get(g, "last", num_workers=2)
    return (time.perf_counter() - t) * 1000
ms(width); ms(0)
w, one = [], []
for _ in range(runs):
    w.append(ms(width)); one.append(ms(0))
print("dask %s %.3f %.3f" % (dask.__version__, statistics.median(one), statistics.median(w)))
PY
)"
fi
python3 - "$work/times.txt" "$width" "$dask_line" <<'PY'
import sys
t = dict((l.split()[0], float(l.split()[1])) for l in open(sys.argv[1]))
n = int(sys.argv[2]) + 2
per = lambda w, one: (w - one) / (n - 1)
print("%-34s %10s %10s %12s" % ("", "1 step ms", "%d steps ms" % n, "per step ms"))
rows = [("mlrun exec true (SQLite, disk)", t["mlrun_exec_1"], t["mlrun_exec_w"]),
        ("GNU make -j2 (true; touch)", t["make_1"], t["make_w"]),
        ("mlrun noop (in-process)", t["mlrun_noop_1"], t["mlrun_noop_w"])]
dask = sys.argv[3]
if dask.startswith("dask "):
    _, version, one, w = dask.split()
    rows.append(("Dask %s threaded, 2 workers" % version, float(one), float(w)))
for name, one, w in rows:
    print("%-34s %10.2f %10.2f %12.3f" % (name, one, w, per(w, one)))
exec_ratio = per(t["mlrun_exec_w"], t["mlrun_exec_1"]) / per(t["make_w"], t["make_1"])
print("ratio exec mlrun/make: %.2fx (budget <= 1.5x, aim <= 1x)" % exec_ratio)
if dask.startswith("dask "):
    print("ratio noop mlrun/Dask: %.2fx (budget <= 1x; aim 0.02 ms per step)"
          % (per(t["mlrun_noop_w"], t["mlrun_noop_1"]) / per(float(w), float(one))))
else:
    print(dask)
PY
