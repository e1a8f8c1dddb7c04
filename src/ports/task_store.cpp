#include "ports/task_store.hpp"

#include "core/error.hpp"

#include <algorithm>

namespace mlrun {

Task TaskStore::get(const std::string& id)
{
    std::optional<Task> t = find(resolve(id));
    if (!t) {
        throw UsageError("unknown task \"" + id + "\" in " + location());
    }
    return *t;
}

void TaskStore::each(const TaskFilter& filter, const std::function<void(const Task&)>& fn)
{
    for (const Task& t : list(filter)) {
        fn(t);
    }
}

std::size_t TaskStore::count(const TaskFilter& filter)
{
    TaskFilter all = filter;
    all.limit = 0;
    all.light = true;
    return list(all).size();
}

std::string TaskStore::read_log_part(const std::string& id, std::uint64_t offset, std::size_t max_bytes)
{
    std::string all = read_log(id, offset);
    return max_bytes != 0 && all.size() > max_bytes ? all.substr(0, max_bytes) : all;
}

std::string TaskStore::quarantine_task(const std::string& id)
{
    throw std::runtime_error("store " + location() + " cannot quarantine task " + id);
}

std::string TaskStore::quarantine_record(const std::string& kind, const std::string& id)
{
    throw std::runtime_error("store " + location() + " cannot quarantine record " + kind + "/" + id);
}

bool matches(const Task& task, const TaskFilter& filter)
{
    if (!filter.project.empty() && task.project != filter.project
        && task.project.compare(0, filter.project.size() + 1, filter.project + "/") != 0) {
        return false;
    }
    if (filter.status && task.status != *filter.status) {
        return false;
    }
    if (!filter.tag.empty() && std::find(task.tags.begin(), task.tags.end(), filter.tag) == task.tags.end()) {
        return false;
    }
    if (!filter.run_id.empty() && task.run_id != filter.run_id) {
        return false;
    }
    if (!filter.kind.empty() && task.kind != filter.kind) {
        return false;
    }
    return true;
}

} // namespace mlrun
