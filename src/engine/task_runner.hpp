#pragma once
// Runs one task here and now: draft/queued -> in_progress -> completed | failed | aborted.
// Used by `mlrun task run`, the pipeline executor and (later) the agent.
#include "core/task.hpp"

#include <atomic>
#include <functional>
#include <string>

namespace mlrun {

struct Backends;

struct RunOptions {
    int threads = 1;                          // core share of this task
    const std::atomic<bool>* cancel = nullptr;
    // Each log line as it is written (also kept in log.txt).
    std::function<void(const std::string& line)> on_log;
    std::function<void(const std::string& stage, int done, int total)> on_progress;
    // The record as the caller created it, already in_progress (the pipeline engine does, to
    // save a rewrite and a re-read of task.json per step): run it without the start transition.
    const Task* created_started = nullptr;
};

// Never throws for a failure of the task itself: the error is kept on the task and the
// final record returned. Throws UsageError when the task cannot start (unknown id,
// illegal transition).
Task run_task(Backends& backends, const std::string& task_id, const RunOptions& options);

} // namespace mlrun
