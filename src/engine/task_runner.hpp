#pragma once
// Runs one task here and now: in_progress -> completed | failed | aborted. Used by
// `mlrun task run`, the pipeline's in-process step runner and (later) the agent.
#include "core/task.hpp"
#include "ports/ports.hpp"

#include <atomic>
#include <functional>
#include <string>

namespace mlrun {

class TaskStore;

struct RunOptions {
    int threads = 1; // core share of this task
    const std::atomic<bool>* cancel = nullptr;
    // Each log line as it is written (also kept in log.txt).
    std::function<void(const std::string& line)> on_log;
    std::function<void(const std::string& stage, int done, int total)> on_progress;
};

// draft/queued -> in_progress in one update of the stored record (Task::transition).
// Throws UsageError for an unknown id or an illegal transition.
Task start_task(TaskStore& store, const std::string& id);

// Runs `started` (the record as stored, in_progress): the kind reports through a
// TaskRecorder on `ports`; every sink hears task_started and task_ended, and the final
// record reaches the store in one write. An abort written meanwhile by `mlrun task abort`
// (another process) stops the task and stands. Never throws for a failure of the task
// itself: the error is kept on the task and the final record returned as stored.
Task run_task(const Ports& ports, const Task& started, const RunOptions& options);

} // namespace mlrun
