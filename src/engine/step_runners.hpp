#pragma once
// The local adapters of the StepRunner port (ports/step_runner.hpp): in-process (today's
// kinds, on the calling thread) and dry run. The child-process runner is in
// engine/child_process_runner.hpp.
#include "ports/step_runner.hpp"

#include <atomic>

namespace mlrun {

struct Ports;
class TaskStore;

// Ends a step's record as failed with `error` / `error_class` (unless it has ended already),
// so that no record stays in_progress; when the store cannot take it, the record in memory
// moved to failed. Never throws.
Task fail_step_record(TaskStore& store, const Task& task, const std::string& error, const std::string& error_class);

// Runs the step's kind on the calling thread (a TBB worker of the executor) with run_task
// and reports the end before start() returns. A step that cannot start (run_task throws)
// ends as failed with the message. abort_all() stops the running steps (they end aborted)
// and every step started after it.
class InProcessStepRunner final : public StepRunner {
public:
    explicit InProcessStepRunner(const Ports& ports) : m_ports(ports) {}
    void start(StepRequest request, StepCallbacks callbacks) override;
    bool can_run_more() const override { return true; }
    void abort_all() override { m_abort = true; }

private:
    const Ports& m_ports;
    std::atomic<bool> m_abort{false};
};

// Ends each step at once without running it: completed, nothing written anywhere (the
// record passed back is the request's, moved to completed in memory). With it the loop
// shows which steps would run and which are cached or kept (`pipeline run --dry-run`).
class DryRunStepRunner final : public StepRunner {
public:
    void start(StepRequest request, StepCallbacks callbacks) override;
    bool can_run_more() const override { return true; }
    void abort_all() override {}
};

// The reason a dry-run step ends with in the run record.
inline constexpr const char* k_dry_run_reason = "dry run: would run";

} // namespace mlrun
