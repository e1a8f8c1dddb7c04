#include "tracking/local_sink.hpp"

#include "ports/task_store.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>

namespace mlrun {

void merge_outputs(Task& stored, const Task& ended)
{
    for (const auto& [name, value] : ended.values.items()) {
        stored.values[name] = value;
    }
    for (const std::string& tag : ended.tags) {
        if (std::find(stored.tags.begin(), stored.tags.end(), tag) == stored.tags.end()) {
            stored.tags.push_back(tag);
        }
    }
    merge_params(stored.params, ended.params);
    for (const ArtifactRecord& a : ended.artifacts) {
        auto it = std::find_if(stored.artifacts.begin(), stored.artifacts.end(),
                               [&](const ArtifactRecord& s) { return s.name == a.name; });
        if (it != stored.artifacts.end()) {
            *it = a;
        } else {
            stored.artifacts.push_back(a);
        }
    }
    if (stored.status == Status::aborted && ended.status != Status::aborted) {
        return; // `mlrun task abort` got there first: the abort stands
    }
    stored.status = ended.status;
    stored.attempts = ended.attempts;
    stored.started_ms = ended.started_ms;
    stored.finished_ms = ended.finished_ms;
    stored.error = ended.error;
    stored.error_class = ended.error_class;
    stored.exit_code = ended.exit_code;
}

Outcome LocalSink::run_started(const Json&)
{
    return ok();
}

Outcome LocalSink::run_ended(const Json&)
{
    return ok();
}

Outcome LocalSink::task_started(const Task&)
{
    return ok();
}

Outcome LocalSink::task_ended(const Task& task)
{
    try {
        m_store.update(task.id, [&](Task& stored) {
            // Fencing: a newer queue delivery (another agent) owns the task now; this end is stale.
            if (stored.lease_epoch > task.lease_epoch) {
                throw std::runtime_error("lease epoch " + std::to_string(task.lease_epoch)
                                         + " is stale (the task is at " + std::to_string(stored.lease_epoch)
                                         + "): the end of this run is not written");
            }
            merge_outputs(stored, task);
        });
        return ok();
    } catch (const std::exception& e) {
        return failure(std::string("cannot record task ") + task.id + ": " + e.what());
    }
}

Outcome LocalSink::scalars(const std::string& task_id, const std::vector<Scalar>& batch)
{
    try {
        m_store.append_scalars(task_id, batch);
        return ok();
    } catch (const std::exception& e) {
        return failure(std::string("cannot record the scalars of task ") + task_id + ": " + e.what());
    }
}

Outcome LocalSink::artifact(const std::string&, const ArtifactRecord&, const std::filesystem::path&)
{
    return ok();
}

Outcome LocalSink::model_registered(const ModelRecord&)
{
    return ok();
}

Outcome LocalSink::flush()
{
    return ok();
}

} // namespace mlrun
