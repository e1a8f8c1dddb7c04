#!/usr/bin/env bash
# Dispatch overhead of the pipeline engine (DESIGN §9): a DAG 1 -> 200 -> 1 of steps that do
# nothing, as child processes (exec `true`) and in-process (noop), run with
# `--no-cache -q --parallelism P`. Per-step overhead = (wall - wall of a 1-step pipeline) / 202,
# medians of RUNS runs. Budgets: < 3 ms per child-process step, < 0.1 ms per in-process step.
#
#   bench/dispatch_bench.sh [MLRUN_BIN] [RUNS]     (default build/mlrun, 7)
#
# The store (MLRUN_HOME) goes to a fresh folder under $TMPDIR (default /tmp: the disk), and
# then, when /dev/shm exists, to tmpfs: the difference is the cost of the store's file writes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bin="$(realpath "${1:-$root/build/mlrun}")"
runs="${2:-7}"
width=200
dir="$here/dispatch"
mkdir -p "$dir"

# pipeline FILE TEMPLATE PARAMS WIDTH: first -> mid (foreach over `seed`, which noop ignores;
# `value` would add a store write per step) -> last.
gen() {
    local file=$1 tmpl=$2 params=$3 n=$4
    {
        echo "name: dispatch_${tmpl}_${n}"
        echo "parallelism: 2"
        echo "steps:"
        echo "  - {name: first, template: $tmpl, params: $params}"
        if [ "$n" -gt 0 ]; then
            printf '  - {name: mid, template: %s, parents: [first], params: %s, foreach: {seed: [' "$tmpl" "$params"
            seq -s, 1 "$n" | tr -d '\n'
            echo ']}}'
            echo "  - {name: last, template: $tmpl, parents: [mid], params: $params}"
        fi
    } > "$file"
}
# exec does not take `value`: its fan-out goes over env.VALUE (env is editable).
gen_exec() {
    local file=$1 n=$2
    {
        echo "name: dispatch_exec_${n}"
        echo "parallelism: 2"
        echo "steps:"
        echo "  - {name: first, template: exec, params: {command: \"true\"}}"
        if [ "$n" -gt 0 ]; then
            printf '  - {name: mid, template: exec, parents: [first], params: {command: "true"}, foreach: {env.VALUE: ['
            seq -s, 1 "$n" | tr -d '\n'
            echo ']}}'
            echo "  - {name: last, template: exec, parents: [mid], params: {command: \"true\"}}"
        fi
    } > "$file"
}
gen_exec "$dir/exec_200.yaml" "$width"
gen_exec "$dir/exec_1.yaml" 0
gen "$dir/noop_200.yaml" noop "{}" "$width"
gen "$dir/noop_1.yaml" noop "{}" 0

work="$(mktemp -d)"
shm=""
trap 'rm -rf "$work" ${shm:+"$shm"}' EXIT

# median_ms FILE PARALLELISM: median wall time of `runs` runs, in ms (a fresh store each time).
median_ms() {
    local file=$1 p=$2 times=()
    for _ in $(seq "$runs"); do
        rm -rf "$MLRUN_HOME"
        local t0 t1
        t0=$(date +%s%N)
        "$bin" --templates "$root/templates" pipeline run -q --no-cache --parallelism "$p" "$file" > /dev/null
        t1=$(date +%s%N)
        times+=($(( (t1 - t0) / 1000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}

report() {
    local store=$1 kind=$2 p=$3
    local one all
    one=$(median_ms "$dir/${kind}_1.yaml" "$p")
    all=$(median_ms "$dir/${kind}_200.yaml" "$p")
    printf '%-6s %-6s %-4s %12s %12s %14s\n' "$store" "$kind" "$p" "$one" "$all" \
        "$(awk -v a="$all" -v o="$one" -v n=$((width + 2)) 'BEGIN {printf "%.3f", (a - o) / n}')"
}
echo "median of $runs runs; $(nproc) cores; $("$bin" --version)"
printf '%-6s %-6s %-4s %12s %12s %14s\n' store kind P "1-step ms" "202-step ms" "per step ms"
stores=("disk:$work/home")
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    shm="$(mktemp -d /dev/shm/mlrun_dispatch_XXXXXX)"
    stores+=("tmpfs:$shm/home")
fi
for entry in "${stores[@]}"; do
    export MLRUN_HOME="${entry#*:}"
    for p in 2 4 8; do report "${entry%%:*}" exec "$p"; done
    for p in 2 4; do report "${entry%%:*}" noop "$p"; done
done
