#include "kinds/inputs.hpp"

#include "core/error.hpp"
#include "ports/inputs.hpp"

namespace mlrun::kinds {

std::vector<std::string> input_task_ids(const TaskContext& ctx)
{
    std::vector<std::string> ids;
    const Json* inputs = get_path(ctx.task.params, "inputs");
    if (!inputs || !inputs->is_object()) {
        return ids;
    }
    for (const auto& [step, value] : inputs->items()) {
        if (value.is_string()) {
            ids.push_back(value.get<std::string>());
        } else if (value.is_array()) {
            for (const Json& v : value) {
                if (v.is_string()) {
                    ids.push_back(v.get<std::string>());
                }
            }
        } else {
            throw UsageError("params.inputs." + step + ": expected a task id or a list of task ids");
        }
    }
    return ids;
}

std::vector<std::string> input_ids_of(const Task& task)
{
    std::vector<std::string> ids;
    const Json* inputs = get_path(task.params, "inputs");
    if (!inputs || !inputs->is_object()) {
        return ids;
    }
    for (const auto& [step, value] : inputs->items()) {
        for (const Json& v : value.is_array() ? value : Json::array({value})) {
            if (v.is_string()) {
                ids.push_back(v.get<std::string>());
            }
        }
    }
    return ids;
}

std::vector<Task> input_tasks(const TaskContext& ctx, const std::string& kind)
{
    std::vector<Task> tasks;
    for (const std::string& id : input_task_ids(ctx)) {
        Task t = ctx.inputs().get_task(id);
        if (t.kind == kind) {
            tasks.push_back(std::move(t));
        }
    }
    return tasks;
}

Task one_input_task(const TaskContext& ctx, const std::string& kind)
{
    std::vector<Task> tasks = input_tasks(ctx, kind);
    if (tasks.size() != 1) {
        throw UsageError("task " + ctx.task.id + " needs exactly one " + kind + " input task in params.inputs (found "
                         + std::to_string(tasks.size()) + "); set it with --set inputs.<step>=<task id>");
    }
    return tasks.front();
}

} // namespace mlrun::kinds
