#pragma once
// The Reporter of one running task (ctx.report()). Values, tags and params stay on its
// in-memory record until the task ends; scalars are batched; artifacts and models go to
// the store at once. Every sink of the ports hears about it: sinks[0] (the local store's)
// must succeed, or the call throws and the task fails; any other sink that fails is
// written to the task log once and otherwise ignored (a mirror that is down degrades).
// Thread-safe: trials of a search report from several threads.
#include "core/outcome.hpp"
#include "ports/ports.hpp"
#include "ports/reporter.hpp"

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace mlrun {

class TaskRecorder final : public Reporter {
public:
    // `started`: the task's record as stored, in_progress. `log`: one line to the task log.
    TaskRecorder(const Ports& ports, Task started, std::function<void(const std::string&)> log = {});

    void log_params(const Json& params) override;
    void log_scalars(const std::vector<Scalar>& scalars) override;
    // UsageError when the name is not a relative path.
    void log_value(const std::string& name, const Json& value) override;
    void set_tags(const std::vector<std::string>& tags) override;
    ArtifactRecord log_artifact(const std::string& name, const std::filesystem::path& source) override;
    ModelRecord register_model(ModelRecord record) override;
    std::string create_child_task(Task child) override;

    // task_started to every sink.
    void started();
    // Writes the batched scalars out (throws when the local sink fails).
    void flush_scalars();
    // The end of the task: the record moves to `status` (Task::transition) with the error
    // fields, goes to sinks[0] in one write, and the record as stored (an abort written
    // meanwhile stands) goes to every other sink. Throws when the local sink fails.
    Task finish(Status status, const std::string& error, const std::string& error_class, int exit_code);
    // The record with everything reported so far.
    Task snapshot() const;

    // Scalars kept before a write.
    static constexpr std::size_t k_scalar_batch = 2000;

private:
    void flush_scalars_locked();
    // A mirror's failure: to the task log, once per sink.
    void degrade(std::size_t sink, const Outcome& outcome);
    // sinks[0]'s failure: thrown.
    static void require(const Outcome& outcome);

    Ports m_ports;
    Task m_task;
    std::function<void(const std::string&)> m_log;
    std::vector<Scalar> m_pending;
    std::vector<bool> m_warned;
    mutable std::mutex m_mutex;
};

} // namespace mlrun
