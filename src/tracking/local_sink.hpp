#pragma once
// The local ResultSink: the store is the record of truth. Scalars are appended as they
// come; a task's outputs (values, tags, params, artifacts) and its final status reach
// task.json in one read-modify-write when it ends. Everything else is already in the store
// (the engine writes run records and artifacts there itself), so those calls do nothing.
#include "ports/result_sink.hpp"

namespace mlrun {

class TaskStore;

class LocalSink final : public ResultSink {
public:
    explicit LocalSink(TaskStore& store) : m_store(store) {}

    Outcome run_started(const Json& run) override;
    Outcome run_ended(const Json& run) override;
    Outcome task_started(const Task& task) override;
    // One update of the stored record under its lock (merge_outputs).
    Outcome task_ended(const Task& task) override;
    Outcome scalars(const std::string& task_id, const std::vector<Scalar>& batch) override;
    Outcome artifact(const std::string& task_id, const ArtifactRecord& record,
                     const std::filesystem::path& stored) override;
    Outcome model_registered(const ModelRecord& record) override;
    Outcome flush() override;

private:
    TaskStore& m_store;
};

// `ended` merged into `stored`: values and artifacts by name (what a child process logged
// meanwhile through `mlrun log` survives unless the task reported the same name), tags as
// a union, params merged; the status fields are `ended`'s, unless `stored` was aborted by
// `mlrun task abort` meanwhile: that abort stands.
void merge_outputs(Task& stored, const Task& ended);

} // namespace mlrun
