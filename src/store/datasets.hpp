#pragma once
// Datasets (ClearML Data): finalized, content-addressed versions in the local store.
// Each file is stored once under blobs/ by its sha256; a version's folder holds hard links,
// so a child version stores only the files its parent did not have.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace mlrun {

class FolderStore;

struct DatasetRequest {
    std::string name;
    std::string project;
    std::vector<std::filesystem::path> paths; // files or folders
    std::string parent;                       // id of the parent version, optional
};

// Returns the dataset record: id, name, project, parent, created_ms, files[{path, sha256,
// size, reused}], total_size, stored_bytes (new bytes this version added).
nlohmann::json create_dataset(FolderStore& store, const DatasetRequest& request);
nlohmann::json get_dataset(FolderStore& store, const std::string& id);
std::vector<nlohmann::json> list_datasets(FolderStore& store);
std::filesystem::path dataset_path(FolderStore& store, const std::string& id);

} // namespace mlrun
