#pragma once
// Dataset use cases behind `mlrun dataset ...` (the local store's datasets, store/datasets.hpp).
#include "store/datasets.hpp"

namespace mlrun {

struct Backends;

nlohmann::json create_dataset(Backends& b, const DatasetRequest& request);
nlohmann::json get_dataset(Backends& b, const std::string& id);
std::vector<nlohmann::json> list_datasets(Backends& b);
std::filesystem::path dataset_path(Backends& b, const std::string& id);

} // namespace mlrun
