#include "ports/task_context.hpp"

#include "core/error.hpp"

namespace mlrun {

void TaskContext::check_cancel() const
{
    if (cancelled()) {
        throw Aborted("aborted");
    }
}

} // namespace mlrun
