#include "core/task.hpp"

#include "core/error.hpp"

namespace mlrun {

void Task::transition(Status to, std::int64_t now)
{
    check_transition(status, to);
    status = to;
    switch (to) {
    case Status::in_progress:
        attempts += 1;
        started_ms = now;
        finished_ms = 0;
        error.clear();
        error_class.clear();
        exit_code = 0;
        break;
    case Status::completed:
    case Status::failed:
    case Status::aborted: finished_ms = now; break;
    case Status::draft:
        attempt_errors.clear();
        started_ms = 0;
        finished_ms = 0;
        error.clear();
        error_class.clear();
        exit_code = 0;
        break;
    case Status::queued:
    case Status::published: break;
    }
}

// Task::to_json and Task::from_json: core/task_codec.cpp, with the listing reader.

Task clone_spec(const Task& source)
{
    Task t;
    t.name = source.name;
    t.project = source.project;
    t.type = source.type;
    t.kind = source.kind;
    t.template_name = source.template_name;
    t.params = source.params;
    t.editable = source.editable;
    t.tags = source.tags;
    t.queue = source.queue;
    t.cloned_from = source.id;
    t.status = Status::draft;
    return t;
}

std::string_view task_type_for_kind(std::string_view kind)
{
    if (kind == "preprocess") return "data_processing";
    if (kind == "train_model") return "training";
    if (kind == "summary") return "controller";
    if (kind == "inference") return "inference";
    return "custom";
}

} // namespace mlrun
