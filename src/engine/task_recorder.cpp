#include "engine/task_recorder.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "ports/result_sink.hpp"
#include "ports/task_store.hpp"

#include <algorithm>
#include <stdexcept>

namespace mlrun {

TaskRecorder::TaskRecorder(const Ports& ports, Task started, std::function<void(const std::string&)> log)
    : m_ports(ports), m_task(std::move(started)), m_log(std::move(log)), m_warned(ports.sinks.size(), false)
{
    if (!m_ports.store || m_ports.sinks.empty()) {
        throw std::logic_error("TaskRecorder: the ports need a store and the local sink");
    }
}

void TaskRecorder::require(const Outcome& outcome)
{
    if (outcome) {
        throw std::runtime_error(outcome->message);
    }
}

void TaskRecorder::degrade(std::size_t sink, const Outcome& outcome)
{
    if (!outcome || m_warned[sink]) {
        return;
    }
    m_warned[sink] = true;
    if (m_log) {
        m_log("mlrun: warning: result sink " + std::to_string(sink) + " failed (" + outcome->message
              + "); the local store keeps everything");
    }
}

void TaskRecorder::started()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    require(m_ports.sinks[0]->task_started(m_task));
    for (std::size_t i = 1; i < m_ports.sinks.size(); ++i) {
        degrade(i, m_ports.sinks[i]->task_started(m_task));
    }
}

void TaskRecorder::log_params(const Json& params)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    merge_params(m_task.params, params);
}

void TaskRecorder::log_scalars(const std::vector<Scalar>& scalars)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    std::int64_t now = now_ms();
    for (const Scalar& s : scalars) {
        m_pending.push_back(s);
        if (m_pending.back().timestamp_ms == 0) {
            m_pending.back().timestamp_ms = now;
        }
    }
    if (m_pending.size() >= k_scalar_batch) {
        flush_scalars_locked();
    }
}

void TaskRecorder::flush_scalars()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    flush_scalars_locked();
}

void TaskRecorder::flush_scalars_locked()
{
    if (m_pending.empty()) {
        return;
    }
    std::vector<Scalar> batch;
    batch.swap(m_pending);
    require(m_ports.sinks[0]->scalars(m_task.id, batch));
    for (std::size_t i = 1; i < m_ports.sinks.size(); ++i) {
        degrade(i, m_ports.sinks[i]->scalars(m_task.id, batch));
    }
}

void TaskRecorder::log_value(const std::string& name, const Json& value)
{
    check_relative_path(name, "value name");
    std::lock_guard<std::mutex> lock(m_mutex);
    m_task.values[name] = value;
}

void TaskRecorder::set_tags(const std::vector<std::string>& tags)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    for (const std::string& tag : tags) {
        if (std::find(m_task.tags.begin(), m_task.tags.end(), tag) == m_task.tags.end()) {
            m_task.tags.push_back(tag);
        }
    }
}

ArtifactRecord TaskRecorder::log_artifact(const std::string& name, const std::filesystem::path& source)
{
    // The copy runs outside the lock: trials may store their files side by side.
    ArtifactRecord rec = m_ports.store->put_artifact(m_task.id, name, source);
    std::filesystem::path stored = m_ports.store->artifact_path(m_task.id, rec.name).value_or(source);
    std::lock_guard<std::mutex> lock(m_mutex);
    auto it = std::find_if(m_task.artifacts.begin(), m_task.artifacts.end(),
                           [&](const ArtifactRecord& a) { return a.name == rec.name; });
    if (it != m_task.artifacts.end()) {
        *it = rec;
    } else {
        m_task.artifacts.push_back(rec);
    }
    require(m_ports.sinks[0]->artifact(m_task.id, rec, stored));
    for (std::size_t i = 1; i < m_ports.sinks.size(); ++i) {
        degrade(i, m_ports.sinks[i]->artifact(m_task.id, rec, stored));
    }
    return rec;
}

ModelRecord TaskRecorder::register_model(ModelRecord record)
{
    check_name(record.name, "model name");
    record.created_ms = now_ms();
    bool existed = false;
    m_ports.store->update_record("models", record.name, [&](Json& j) {
        if (j.is_null()) {
            j = Json{{"name", record.name}, {"versions", Json::array()}};
        }
        // One version per training task: a rerun or a concurrent run recommending the same
        // trained model gets the version already registered for it.
        for (const Json& v : j["versions"]) {
            if (v.value("task_id", "") == record.task_id && v.value("artifact", "") == record.artifact) {
                record = ModelRecord::from_json(v);
                existed = true;
                return;
            }
        }
        record.version = static_cast<int>(j["versions"].size()) + 1;
        j["versions"].push_back(record.to_json());
    });
    if (existed) {
        return record;
    }
    std::lock_guard<std::mutex> lock(m_mutex);
    require(m_ports.sinks[0]->model_registered(record));
    for (std::size_t i = 1; i < m_ports.sinks.size(); ++i) {
        degrade(i, m_ports.sinks[i]->model_registered(record));
    }
    return record;
}

std::string TaskRecorder::create_child_task(Task child)
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        child.id.clear();
        child.parent = m_task.id;
        child.run_id = m_task.run_id;
        child.project = m_task.project;
        for (const std::string& tag : m_task.tags) {
            if (std::find(child.tags.begin(), child.tags.end(), tag) == child.tags.end()) {
                child.tags.push_back(tag);
            }
        }
    }
    // Created whole (a trial is over when it is recorded): the store has it; mirrors hear it ended.
    m_ports.store->create(child);
    std::lock_guard<std::mutex> lock(m_mutex);
    for (std::size_t i = 1; i < m_ports.sinks.size(); ++i) {
        degrade(i, m_ports.sinks[i]->task_ended(child));
    }
    return child.id;
}

Task TaskRecorder::finish(Status status, const std::string& error, const std::string& error_class, int exit_code)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    flush_scalars_locked();
    m_task.transition(status, now_ms());
    m_task.error = error;
    m_task.error_class = error_class;
    m_task.exit_code = exit_code;
    require(m_ports.sinks[0]->task_ended(m_task));
    Task stored = m_ports.store->get(m_task.id);
    for (std::size_t i = 1; i < m_ports.sinks.size(); ++i) {
        degrade(i, m_ports.sinks[i]->task_ended(stored));
    }
    return stored;
}

Task TaskRecorder::snapshot() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_task;
}

} // namespace mlrun
