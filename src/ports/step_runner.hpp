#pragma once
// StepRunner port (ninja's CommandRunner): what running one pipeline step means. The
// engine's loop decides what is ready (engine/plan.hpp) and hands each ready step to a
// runner; the runner reports the step's end through a callback, from any thread. Adapters
// (engine/step_runners.hpp): in-process (the kinds on the calling TBB thread), child
// process (`mlrun task run ID`), dry run; the queue controller of the remote half is one
// more. A runner never throws from start(): a step that cannot start ends as failed.
#include "core/task.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace mlrun {

struct StepRequest {
    std::string node; // plan node name, "train::mlp"
    Task task;        // the step's record as stored, status in_progress
    int threads = 1;  // the core share for the step's own threads
    int slot = 0;     // worker slot 1..parallelism, for progress display
    // Resume of a run driven on agents: the task is already queued or running on the
    // runner's side (the controller died); wait for its end instead of starting it again.
    // Set only for runners that drive remote steps (engine/queue_step_runner.hpp).
    bool adopt = false;
};

struct StepCallbacks {
    // A stage of the running step: "epoch" 3 of 20. Optional.
    std::function<void(const std::string& stage, int done, int total)> on_stage;
    // Called exactly once with the step's final record (completed | failed | aborted).
    std::function<void(Task ended)> on_end;
};

class StepRunner {
public:
    virtual ~StepRunner() = default;
    // Starts the step. May run it to its end before returning (in-process) or return at
    // once and call on_end later from another thread (child process, queue).
    virtual void start(StepRequest request, StepCallbacks callbacks) = 0;
    // Room for another step now (a runner with its own limit, e.g. GPU slots).
    virtual bool can_run_more() const = 0;
    // Asks every running step to stop; each still ends through its on_end (as aborted).
    virtual void abort_all() = 0;
};

} // namespace mlrun
