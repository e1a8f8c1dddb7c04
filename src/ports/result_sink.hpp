#pragma once
// ResultSink port (DESIGN §7): an observer of everything tasks report, status changes
// included. The engine feeds every sink of a run in order: the local store's sink
// (tracking/local_sink.hpp, the record of truth and the spool) always comes first; the
// MLflow mirror sits beside it. A sink's failures are returned, never thrown: the caller
// decides whether a failure is fatal (the local sink) or degrades (a mirror).
#include "core/outcome.hpp"
#include "core/results.hpp"
#include "core/task.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace mlrun {

class ResultSink {
public:
    virtual ~ResultSink() = default;

    // A pipeline run began / ended (run: the run record as stored: id, pipeline, project,
    // status, nodes). Sinks that nest task runs under a run (MLflow) use it.
    virtual Outcome run_started(const Json& run) = 0;
    virtual Outcome run_ended(const Json& run) = 0;

    // A task entered in_progress: its record as stored (params final).
    virtual Outcome task_started(const Task& task) = 0;
    // A task ended (completed | failed | aborted): the full final record, with every value,
    // tag, param and artifact it reported. This is the one write of the task's outputs.
    virtual Outcome task_ended(const Task& task) = 0;

    // Scalars of a task, in order, in batches.
    virtual Outcome scalars(const std::string& task_id, const std::vector<Scalar>& batch) = 0;
    // An artifact the local sink stored (record.uri says where): mirrors copy it.
    virtual Outcome artifact(const std::string& task_id, const ArtifactRecord& record,
                             const std::filesystem::path& stored) = 0;
    // A model version was registered (version assigned by the local sink).
    virtual Outcome model_registered(const ModelRecord& record) = 0;

    // Blocks until everything given so far is delivered or has failed.
    virtual Outcome flush() = 0;
};

} // namespace mlrun
