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

median_s() {
    local p=$1 times=()
    for _ in $(seq "$runs"); do
        rm -rf "$MLRUN_HOME"
        local t0 t1
        t0=$(date +%s%N)
        "$bin" --templates "$root/templates" pipeline run -q --no-cache --parallelism "$p" "$file" > /dev/null
        t1=$(date +%s%N)
        times+=($(( (t1 - t0) / 1000000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]/1000}'
}
one=$(median_s 1)
two=$(median_s 2)
echo "median of $runs runs; $(nproc) cores; 4 steps of a $loop-iteration sh loop"
printf 'parallelism 1: %s s\nparallelism 2: %s s\nspeed-up:      %s x\n' "$one" "$two" \
    "$(awk -v a="$one" -v b="$two" 'BEGIN {printf "%.2f", a / b}')"
