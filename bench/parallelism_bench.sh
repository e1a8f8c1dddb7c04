#!/usr/bin/env bash
# Parallel speed-up of the pipeline engine (DESIGN §9: `parallelism 2` vs 1 on CPU-bound
# steps, target >= 1.8x; this job's floor 1.7x): 4 independent exec steps, each a shell busy
# loop of about 1.5 s, run with --parallelism 1 and 2, --no-cache; medians of RUNS runs.
#
#   bench/parallelism_bench.sh [MLRUN_BIN] [RUNS] [LOOP]   (default build/mlrun, 5, 400000)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bin="$(realpath "${1:-$root/build/mlrun}")"
runs="${2:-5}"
loop="${3:-400000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export MLRUN_HOME="$work/home"
file="$work/cpu.yaml"
{
    echo "name: cpu_bound"
    echo "steps:"
    echo "  - name: spin"
    echo "    template: exec"
    echo "    params: {command: \"i=0; while [ \$i -lt $loop ]; do i=\$((i+1)); done\"}"
    echo "    foreach: {env.WHICH: [a, b, c, d]}"
} > "$file"

# Wall seconds of one command.
wall() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" > /dev/null
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000000 ))
}
mlrun_run() {
    rm -rf "$MLRUN_HOME"
    "$bin" --templates "$root/templates" pipeline run -q --no-cache --parallelism "$1" "$file"
}
# The same four loops under xargs -P: what this machine gives at that moment (other load
# on a shared 2-core machine moves both figures together), interleaved with the mlrun runs.
xargs_run() {
    printf 'a\nb\nc\nd\n' | xargs -P "$1" -I{} sh -c "i=0; while [ \$i -lt $loop ]; do i=\$((i+1)); done"
}
m1=(); m2=(); x1=(); x2=()
for _ in $(seq "$runs"); do
    m1+=("$(wall mlrun_run 1)"); m2+=("$(wall mlrun_run 2)")
    x1+=("$(wall xargs_run 1)"); x2+=("$(wall xargs_run 2)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]/1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "median of $runs interleaved runs; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); 4 steps of a $loop-iteration sh loop"
printf '%-16s %8s %8s %9s\n' "" "P=1 s" "P=2 s" "speed-up"
printf '%-16s %8s %8s %8sx\n' "mlrun pipeline" "$(median "${m1[@]}")" "$(median "${m2[@]}")" "$(ratio "$(median "${m1[@]}")" "$(median "${m2[@]}")")"
printf '%-16s %8s %8s %8sx\n' "xargs -P" "$(median "${x1[@]}")" "$(median "${x2[@]}")" "$(ratio "$(median "${x1[@]}")" "$(median "${x2[@]}")")"
