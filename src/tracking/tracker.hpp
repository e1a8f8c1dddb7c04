#pragma once
// Tracking port (DESIGN §7): everything a task reports, and every input it reads,
// goes through here, never through store paths. Adapters: local (the store itself);
// MLflow REST comes later and plugs in here.
#include "core/results.hpp"
#include "core/task.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mlrun {

class Tracker {
public:
    virtual ~Tracker() = default;

    virtual void log_params(const std::string& task_id, const Json& params) = 0;
    // Batched; appended in order.
    virtual void log_scalars(const std::string& task_id, const std::vector<Scalar>& scalars) = 0;
    virtual std::vector<Scalar> scalars(const std::string& task_id) = 0;
    // A single value (ClearML report_single_value): final metrics, timings, sizes.
    virtual void log_value(const std::string& task_id, const std::string& name, const Json& value) = 0;
    virtual void set_tags(const std::string& task_id, const std::vector<std::string>& tags) = 0;

    // Copies a file or a folder (every file in it, as name/relative) into the task's
    // artifacts, atomically, and records size, sha256 and content type.
    virtual ArtifactRecord log_artifact(const std::string& task_id, const std::string& name,
                                        const std::filesystem::path& source) = 0;
    // A local path to an artifact (file or folder) of any task; UsageError when absent.
    virtual std::filesystem::path fetch_artifact(const std::string& task_id, const std::string& name) = 0;
    // A local folder with the files of a finalized dataset version.
    virtual std::filesystem::path fetch_dataset(const std::string& dataset_id) = 0;

    // Read-only view of another task (the summary reads the training tasks of its run).
    virtual Task get_task(const std::string& task_id) = 0;
    // Records a child of `parent_id` (a search trial) as its own task, with the parent's run,
    // project and tags. Returns its id; "" where the backend keeps no child tasks.
    virtual std::string create_child_task(const std::string& parent_id, Task child)
    {
        (void)parent_id;
        (void)child;
        return "";
    }

    // Assigns the next version of record.name and stores it.
    virtual ModelRecord register_model(ModelRecord record) = 0;
    virtual std::vector<ModelRecord> models(const std::string& name = "") = 0;
    // version 0 = the latest.
    virtual std::optional<ModelRecord> model(const std::string& name, int version = 0) = 0;
};

} // namespace mlrun
