#include "agent/fenced_store.hpp"

namespace mlrun {

void check_lease(const Task& stored, std::int64_t epoch)
{
    if (stored.lease_epoch != epoch) {
        throw LeaseLost("task " + stored.id + ": lease epoch " + std::to_string(epoch)
                        + " is no longer the task's (now " + std::to_string(stored.lease_epoch)
                        + "): another delivery owns it, nothing more is written");
    }
}

void FencedStore::check()
{
    std::optional<Task> stored = m_inner.find(m_task_id);
    if (!stored) {
        throw LeaseLost("task " + m_task_id + " is gone: nothing more is written");
    }
    check_lease(*stored, m_epoch);
}

void FencedStore::create(Task& task)
{
    check();
    m_inner.create(task);
}

Task FencedStore::update(const std::string& id, const std::function<void(Task&)>& change)
{
    if (id != m_task_id) {
        check();
        return m_inner.update(id, change);
    }
    return m_inner.update(id, [&](Task& t) {
        check_lease(t, m_epoch);
        change(t);
    });
}

void FencedStore::append_log(const std::string& id, std::string_view text)
{
    check();
    m_inner.append_log(id, text);
}

void FencedStore::append_scalars(const std::string& id, const std::vector<Scalar>& batch)
{
    check();
    m_inner.append_scalars(id, batch);
}

ArtifactRecord FencedStore::put_artifact(const std::string& id, const std::string& name,
                                         const std::filesystem::path& source)
{
    check();
    return m_inner.put_artifact(id, name, source);
}

void FencedStore::clear_outputs(const std::string& id)
{
    check();
    m_inner.clear_outputs(id);
}

void FencedStore::put_record(const std::string& kind, const std::string& id, const Json& record)
{
    check();
    m_inner.put_record(kind, id, record);
}

Json FencedStore::update_record(const std::string& kind, const std::string& id,
                                const std::function<void(Json&)>& change)
{
    check();
    return m_inner.update_record(kind, id, change);
}

} // namespace mlrun
