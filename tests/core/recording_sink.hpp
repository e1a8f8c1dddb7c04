#pragma once
// The ResultSink fake: records every call in order (what a mirror would have been sent),
// and can be told to fail every call, like a tracking server that is down.
#include "ports/result_sink.hpp"

#include <mutex>
#include <string>
#include <vector>

namespace mlrun::test {

class RecordingSink final : public ResultSink {
public:
    struct Event {
        std::string what;    // run_started, run_ended, task_started, task_ended, scalars, artifact, model, flush
        std::string task_id; // "" for run and flush events
        Json data;           // the run record, the task record, the scalars, the artifact record
    };

    explicit RecordingSink(bool fail = false) : m_fail(fail) {}

    Outcome run_started(const Json& run) override { return note({"run_started", "", run}); }
    Outcome run_ended(const Json& run) override { return note({"run_ended", "", run}); }
    Outcome task_started(const Task& task) override { return note({"task_started", task.id, task.to_json()}); }
    Outcome task_ended(const Task& task) override { return note({"task_ended", task.id, task.to_json()}); }
    Outcome scalars(const std::string& task_id, const std::vector<Scalar>& batch) override
    {
        Json rows = Json::array();
        for (const Scalar& s : batch) {
            rows.push_back(
                Json{{"title", s.title}, {"series", s.series}, {"iteration", s.iteration}, {"value", s.value}});
        }
        return note({"scalars", task_id, rows});
    }
    Outcome artifact(const std::string& task_id, const ArtifactRecord& record,
                     const std::filesystem::path& stored) override
    {
        return note(
            {"artifact", task_id, Json{{"name", record.name}, {"sha256", record.sha256}, {"stored", stored.string()}}});
    }
    Outcome model_registered(const ModelRecord& record) override
    {
        return note({"model", record.task_id, record.to_json()});
    }
    Outcome flush() override { return note({"flush", "", Json()}); }

    std::vector<Event> events() const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_events;
    }
    // Events of one kind, in order.
    std::vector<Event> of(const std::string& what) const
    {
        std::vector<Event> out;
        for (const Event& e : events()) {
            if (e.what == what) {
                out.push_back(e);
            }
        }
        return out;
    }

private:
    Outcome note(Event e)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_events.push_back(std::move(e));
        return m_fail ? failure("mirror down (test)", true) : ok();
    }

    bool m_fail;
    mutable std::mutex m_mutex;
    std::vector<Event> m_events;
};

} // namespace mlrun::test
