#!/usr/bin/env bash
# Runs the README's "A quick tour" block exactly as written (every line must succeed), in a
# scratch folder that sees the repository's build/ and examples/ and has its own store.
#   scripts/readme_tour.sh [BUILD_DIR]     exit 0 when every command of the tour succeeded
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${BUILD_DIR:-build}}
tour=$(awk '/^## A quick tour/ {in_tour = 1; next}
            in_tour && /^```sh$/ {in_block = 1; next}
            in_block && /^```$/ {exit}
            in_block {print}' "$root/README.md")
if [ -z "$tour" ]; then
  echo "readme_tour: no sh block under '## A quick tour' in README.md" >&2
  exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/mlrun-tour-XXXXXX")
trap 'rm -rf "$work"' EXIT
ln -s "$root/$build" "$work/build"
ln -s "$root/examples" "$work/examples"
cd "$work"
export MLRUN_HOME="$work/.mlrun"
printf '%s\n' "$tour" > tour.sh
# -e: the first failing command ends the tour with its status; -x: the log shows each line.
bash -euxo pipefail tour.sh
