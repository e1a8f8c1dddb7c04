#!/usr/bin/env bash
# The main job: set up (install what is missing, build), then run the Titanic example
# pipeline on the embedded local store (./.mlrun) and print the leaderboard.
# Extra arguments go to `mlrun pipeline run` (e.g. --smoke, --parallelism 1, --no-cache).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/mlrun pipeline run examples/titanic/pipeline.yaml "$@"
