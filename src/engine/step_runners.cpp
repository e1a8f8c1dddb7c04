#include "engine/step_runners.hpp"

#include "core/util.hpp"
#include "engine/task_runner.hpp"

namespace mlrun {

void InProcessStepRunner::start(StepRequest request, StepCallbacks callbacks)
{
    Task ended;
    try {
        RunOptions run;
        run.threads = request.threads;
        run.cancel = &m_abort;
        run.on_progress = callbacks.on_stage;
        // The one call of the in-process task runner by the engine.
        ended = run_task(m_ports, request.task, run);
    } catch (const std::exception& e) {
        ended = request.task;
        if (can_transition(ended.status, Status::failed)) {
            ended.transition(Status::failed, now_ms());
        }
        ended.error = e.what();
        ended.error_class = "UsageError";
    }
    callbacks.on_end(std::move(ended));
}

void DryRunStepRunner::start(StepRequest request, StepCallbacks callbacks)
{
    Task ended = std::move(request.task);
    ended.transition(Status::completed, now_ms());
    callbacks.on_end(std::move(ended));
}

} // namespace mlrun
