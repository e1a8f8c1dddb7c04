#pragma once
// Inputs port: what a task reads besides its own params: other tasks' records, artifacts,
// scalars, datasets and registered models. Adapter: the local store
// (tracking/local_inputs.hpp); agents without a shared store will read from elsewhere.
#include "core/results.hpp"
#include "core/task.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mlrun {

class Inputs {
public:
    virtual ~Inputs() = default;
    // Read-only view of a task (the summary reads the training tasks of its run).
    // Throws UsageError for an unknown id.
    virtual Task get_task(const std::string& task_id) = 0;
    // A local path to an artifact (file or folder) of any task; UsageError when absent.
    virtual std::filesystem::path fetch_artifact(const std::string& task_id, const std::string& name) = 0;
    // A local folder with the files of a finalized dataset version.
    virtual std::filesystem::path fetch_dataset(const std::string& dataset_id) = 0;
    virtual std::vector<Scalar> scalars(const std::string& task_id) = 0;
    virtual std::vector<ModelRecord> models(const std::string& name = "") = 0;
    // version 0 = the latest not tagged "smoke" (a CI smoke run's), else the latest smoke one.
    virtual std::optional<ModelRecord> model(const std::string& name, int version = 0) = 0;
};

} // namespace mlrun
