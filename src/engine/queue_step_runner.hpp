#pragma once
// StepRunner adapter that sends each step to agents (DESIGN §6; the controller of a remote
// pipeline run). start() hands the stored task over (in_progress -> queued) and pushes it
// on its queue: the step's own `queue` wins over the run's default. The step's end is a
// completion event of the Queue port (ports/queue.hpp): one waiter thread blocks on the
// events (no polling) and reports each end with the record the agent left in the store.
// Talks only to the Queue and TaskStore ports.
#include "ports/step_runner.hpp"

#include <memory>
#include <string>

namespace mlrun {

class Queue;
class TaskStore;

struct QueueRunnerOptions {
    std::string default_queue; // for steps without their own queue
    int priority = 0;          // of every push
    // A guard against events the backend lost (a server that lost its data): how often the
    // waiter reads the records of the steps in flight. Ends normally come by event.
    int recheck_ms = 2000;
};

class QueueStepRunner final : public StepRunner {
public:
    // Opens the queue's event reader before anything is pushed (so no end is missed).
    QueueStepRunner(Queue& queue, TaskStore& store, QueueRunnerOptions options);
    // Stops the waiter. Steps still in flight are left on their queues and agents: a later
    // `pipeline run --resume` adopts them.
    ~QueueStepRunner() override;
    QueueStepRunner(const QueueStepRunner&) = delete;
    QueueStepRunner& operator=(const QueueStepRunner&) = delete;

    // Queues the step's task and pushes it; with request.adopt, only waits for the end of a
    // task already queued or running on an agent (resume), ending at once when its record is
    // already final; pushing it again when its message is on no queue and no agent took it
    // (the controller died between creating and pushing it), ending it as failed when it was
    // dead-lettered meanwhile. A push that fails ends the step as failed with the reason.
    void start(StepRequest request, StepCallbacks callbacks) override;
    bool can_run_more() const override { return true; }
    // Every step in flight is marked aborted in the store (an agent's child sees it and
    // stops), taken off its queue when still pending, and ended as aborted; steps started
    // later end aborted without being pushed.
    void abort_all() override;

    // The queue a task goes to: its own, else the default.
    std::string queue_for(const Task& task) const;

    struct Impl;

private:
    std::unique_ptr<Impl> m_impl;
};

} // namespace mlrun
