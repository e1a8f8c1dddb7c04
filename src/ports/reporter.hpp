#pragma once
// What a running task reports about itself (ctx.report()). The engine's TaskRecorder
// implements it: values, tags and params are kept on the task's in-memory record and
// written once when the task ends; scalars are batched (written at the end, or every
// TaskRecorder::k_scalar_batch); artifacts and models go to the store and to every
// ResultSink as they come. Methods throw when the local store cannot take the write (the
// task then fails with that error); a mirror sink's failure never throws.
#include "core/results.hpp"
#include "core/task.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace mlrun {

class Reporter {
public:
    virtual ~Reporter() = default;
    // Merged into the task's params (dotted keys allowed).
    virtual void log_params(const Json& params) = 0;
    // Batched; appended in order.
    virtual void log_scalars(const std::vector<Scalar>& scalars) = 0;
    // A single value (ClearML report_single_value): final metrics, timings, sizes.
    virtual void log_value(const std::string& name, const Json& value) = 0;
    virtual void set_tags(const std::vector<std::string>& tags) = 0;
    // Copies a file or a folder (every file in it, as name/relative) into the task's
    // artifacts, atomically, and records size, sha256 and content type.
    virtual ArtifactRecord log_artifact(const std::string& name, const std::filesystem::path& source) = 0;
    // Assigns the next version of record.name and stores it; a model (task_id + artifact)
    // registered before gets that version back and nothing is stored or mirrored twice.
    virtual ModelRecord register_model(ModelRecord record) = 0;
    // Records a child of this task (a search trial) as its own task, with this task's run,
    // project and tags. Returns its id.
    virtual std::string create_child_task(Task child) = 0;
};

} // namespace mlrun
