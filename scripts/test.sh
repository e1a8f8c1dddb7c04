#!/usr/bin/env bash
# Set up (install what is missing, build), then run every test: the doctest suites under
# ctest, then the end-to-end smoke runs of the example pipelines (scripts/e2e.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# Test-only tools: python3 checks the JUnit files; scikit-learn is the metrics reference.
MLRUN_EXTRA_PACKAGES="python3 python3-sklearn" scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
(cd "$BUILD_DIR" && ctest --output-on-failure -j 2 --timeout 600)
BUILD_DIR="$BUILD_DIR" scripts/e2e.sh
