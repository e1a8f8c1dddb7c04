#!/usr/bin/env bash
# Set up (install what is missing, build), then run every test: the layer and format checks,
# the doctest suites under ctest, then the end-to-end smoke runs of the example pipelines
# (scripts/e2e.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# Test-only tools: python3 checks the JUnit files and runs the layer check; scikit-learn is
# the metrics reference; clang-format checks the format.
MLRUN_EXTRA_PACKAGES="python3 python3-sklearn clang-format" scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
# Layers: a lower layer never includes a higher one, heavy libraries stay in their adapters;
# the self-test proves the check fails on planted violations.
scripts/check_layers.sh
scripts/check_layers.sh --self-test >/dev/null
scripts/check_format.sh
(cd "$BUILD_DIR" && ctest --output-on-failure -j 2 --timeout 600) 2>&1 | tee "$BUILD_DIR/ctest.log"
# No crash anywhere in the suite's output: no uncaught exception ("terminate called"), no test
# process killed by SIGABRT (134) or SIGSEGV (139), which ctest reports as below.
if grep -En 'terminate called|Child aborted|SEGFAULT|Subprocess aborted|Exception: SegFault' "$BUILD_DIR/ctest.log"; then
    echo "test.sh: a crash in the test suite's output (above)" >&2
    exit 1
fi
BUILD_DIR="$BUILD_DIR" scripts/e2e.sh
