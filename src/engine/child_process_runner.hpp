#pragma once
// StepRunner adapter that runs each step as a child process, `mlrun task run -q ID`, with
// the store given by MLRUN_HOME (ninja's SubprocessSet). start() only queues the step: one
// waiter thread spawns the children and polls all of them at once, so no executor thread
// is held while a step runs; each end is reported from that thread with the record the
// child left in the store.
#include "ports/step_runner.hpp"

#include <filesystem>
#include <memory>
#include <string>

namespace mlrun {

class TaskStore;

class ChildProcessStepRunner final : public StepRunner {
public:
    // `exe`: the mlrun binary (self_exe() in the CLI); `home`: the store root the children
    // open; max_children 0: no limit of its own (the executor's parallelism applies).
    ChildProcessStepRunner(TaskStore& store, std::filesystem::path exe, std::filesystem::path home,
                           int max_children = 0);
    // Kills (SIGKILL, whole group) and reaps any child still running; no end is reported.
    ~ChildProcessStepRunner() override;
    ChildProcessStepRunner(const ChildProcessStepRunner&) = delete;
    ChildProcessStepRunner& operator=(const ChildProcessStepRunner&) = delete;

    // Hands the record back (in_progress -> queued) for the child to start, and queues the
    // spawn. A child that cannot be spawned, or exits without ending its record, ends the
    // step as failed with what happened and the last line of its output.
    void start(StepRequest request, StepCallbacks callbacks) override;
    bool can_run_more() const override;
    // SIGTERM to every child's group (the child marks its task aborted), SIGKILL after a
    // grace; steps started later end aborted without a child.
    void abort_all() override;

    struct Impl;

private:
    std::unique_ptr<Impl> m_impl;
};

} // namespace mlrun
