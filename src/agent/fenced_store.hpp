#pragma once
// Fencing of a task run under a queue lease (DESIGN §6): a TaskStore decorator that lets
// the run write to its task only while the stored record still carries the run's lease
// epoch. An agent that lost its lease (paused, partitioned, replaced) and whose child goes
// on running writes nothing more: no log line, scalar, artifact, value, status or record.
#include "ports/task_store.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace mlrun {

// Thrown by a fenced write once another delivery owns the task.
class LeaseLost : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Throws LeaseLost unless `stored` carries `epoch` (the delivery that started this run).
void check_lease(const Task& stored, std::int64_t epoch);

class FencedStore final : public TaskStore {
public:
    // Writes to task `task_id` are checked against `epoch`; other tasks' records (a search's
    // trials, run/model records) are written only while `task_id` is still ours.
    FencedStore(TaskStore& inner, std::string task_id, std::int64_t epoch)
        : m_inner(inner), m_task_id(std::move(task_id)), m_epoch(epoch)
    {}

    // Throws LeaseLost when the task's record moved to another delivery (one read).
    void check();

    std::string location() const override { return m_inner.location(); }
    std::string uri() const override { return m_inner.uri(); }
    void ensure_created() override { m_inner.ensure_created(); }
    std::filesystem::path task_dir(const std::string& id) override { return m_inner.task_dir(id); }
    std::unique_ptr<RunLock> try_lock_run(const std::string& run_id) override { return m_inner.try_lock_run(run_id); }
    void create(Task& task) override;
    std::optional<Task> find(const std::string& id) override { return m_inner.find(id); }
    // The check runs inside the inner update, under the task's lock: no window at all.
    Task update(const std::string& id, const std::function<void(Task&)>& change) override;
    std::vector<Task> list(const TaskFilter& filter) override { return m_inner.list(filter); }
    std::string resolve(const std::string& id_or_prefix) override { return m_inner.resolve(id_or_prefix); }
    void append_log(const std::string& id, std::string_view text) override;
    std::string read_log(const std::string& id, std::uint64_t offset) override { return m_inner.read_log(id, offset); }
    void append_scalars(const std::string& id, const std::vector<Scalar>& batch) override;
    std::vector<Scalar> read_scalars(const std::string& id) override { return m_inner.read_scalars(id); }
    ArtifactRecord put_artifact(const std::string& id, const std::string& name,
                                const std::filesystem::path& source) override;
    std::optional<std::filesystem::path> artifact_path(const std::string& id, const std::string& name) override
    {
        return m_inner.artifact_path(id, name);
    }
    void clear_outputs(const std::string& id) override;
    void put_record(const std::string& kind, const std::string& id, const Json& record) override;
    std::optional<Json> get_record(const std::string& kind, const std::string& id) override
    {
        return m_inner.get_record(kind, id);
    }
    std::vector<std::string> list_records(const std::string& kind) override { return m_inner.list_records(kind); }
    Json update_record(const std::string& kind, const std::string& id,
                       const std::function<void(Json&)>& change) override;

private:
    TaskStore& m_inner;
    std::string m_task_id;
    std::int64_t m_epoch;
};

} // namespace mlrun
