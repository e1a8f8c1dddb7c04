#pragma once
// The local Inputs adapter: records, artifacts, datasets and models read from the local store.
#include "ports/inputs.hpp"

namespace mlrun {

class FolderStore;

class LocalInputs final : public Inputs {
public:
    explicit LocalInputs(FolderStore& store) : m_store(store) {}

    Task get_task(const std::string& task_id) override;
    std::filesystem::path fetch_artifact(const std::string& task_id, const std::string& name) override;
    // UsageError "unknown dataset" when no such finalized version is stored.
    std::filesystem::path fetch_dataset(const std::string& dataset_id) override;
    std::vector<Scalar> scalars(const std::string& task_id) override;
    std::vector<ModelRecord> models(const std::string& name) override;
    std::optional<ModelRecord> model(const std::string& name, int version) override;

private:
    FolderStore& m_store;
};

} // namespace mlrun
