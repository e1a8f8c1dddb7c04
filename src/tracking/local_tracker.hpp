#pragma once
// The local tracking adapter: records go into the local store itself.
#include "tracking/tracker.hpp"

namespace mlrun {

class LocalStore;

class LocalTracker final : public Tracker {
public:
    explicit LocalTracker(LocalStore& store) : m_store(store) {}

    void log_params(const std::string& task_id, const Json& params) override;
    void log_scalars(const std::string& task_id, const std::vector<Scalar>& scalars) override;
    std::vector<Scalar> scalars(const std::string& task_id) override;
    void log_value(const std::string& task_id, const std::string& name, const Json& value) override;
    void set_tags(const std::string& task_id, const std::vector<std::string>& tags) override;
    ArtifactRecord log_artifact(const std::string& task_id, const std::string& name,
                                const std::filesystem::path& source) override;
    std::filesystem::path fetch_artifact(const std::string& task_id, const std::string& name) override;
    std::filesystem::path fetch_dataset(const std::string& dataset_id) override;
    Task get_task(const std::string& task_id) override;
    std::string create_child_task(const std::string& parent_id, Task child) override;
    ModelRecord register_model(ModelRecord record) override;
    std::vector<ModelRecord> models(const std::string& name) override;
    std::optional<ModelRecord> model(const std::string& name, int version) override;

private:
    LocalStore& m_store;
};

} // namespace mlrun
