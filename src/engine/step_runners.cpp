#include "engine/step_runners.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "engine/task_runner.hpp"
#include "ports/task_store.hpp"

namespace mlrun {

Task fail_step_record(TaskStore& store, const Task& task, const std::string& error, const std::string& error_class)
{
    auto fail = [&](Task& t) {
        if (is_final(t.status)) {
            return;
        }
        if (can_transition(t.status, Status::failed)) {
            t.transition(Status::failed, now_ms());
        }
        t.error = error;
        t.error_class = error_class;
    };
    try {
        return store.update(task.id, fail);
    } catch (const std::exception&) {
        Task t = task; // the store cannot take it: the engine still hears the end
        fail(t);
        return t;
    }
}

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
        ended = fail_step_record(*m_ports.store, request.task, e.what(),
                                 is_io_error(e) ? k_error_class_io : "UsageError");
    } catch (...) {
        ended = fail_step_record(*m_ports.store, request.task, "an exception of an unknown type", "exception");
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
