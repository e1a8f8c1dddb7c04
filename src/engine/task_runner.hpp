#pragma once
// Runs one task here and now: draft/queued -> in_progress -> completed | failed | aborted.
// Used by `mlrun task run`, the pipeline executor and (later) the agent.
#include "core/status.hpp"

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
};

// Never throws for a failure of the task itself: the error is kept on the task and the
// final status returned. Throws UsageError when the task cannot start (unknown id,
// illegal transition).
Status run_task(Backends& backends, const std::string& task_id, const RunOptions& options);

// Path of the running mlrun executable (children of exec tasks call it back).
std::string self_exe();

} // namespace mlrun
