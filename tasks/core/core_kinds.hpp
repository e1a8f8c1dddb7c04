#pragma once
// Task kinds without libtorch or OpenCV, linked into mlrun_core.
#include "ports/task_context.hpp"

namespace mlrun::kinds {

// Runs params.command (a string via /bin/sh -c, or a list of arguments) in a child process
// group (platform/subprocess); its output becomes the task log, MLRUN_OUTPUT_DIR/metrics.jsonl
// its scalars and values, other files it leaves in MLRUN_OUTPUT_DIR its artifacts. Exit code
// != 0 fails; params.timeout_s stops the group (exit code 124); abort stops it (Aborted). The
// group never outlives the step: children left behind by the command are killed.
void run_exec(TaskContext& ctx);

// Does nothing, in-process: for engine tests and dispatch benchmarks. Params: sleep_ms,
// stages (progress steps), fail (true: fail with "noop asked to fail"), value (logged).
void run_noop(TaskContext& ctx);

} // namespace mlrun::kinds
