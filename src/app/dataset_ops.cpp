#include "app/dataset_ops.hpp"

#include "app/wiring.hpp"
#include "store/local_store.hpp"

namespace mlrun {

nlohmann::json create_dataset(Backends& b, const DatasetRequest& request)
{
    return create_dataset(*b.local, request);
}

nlohmann::json get_dataset(Backends& b, const std::string& id)
{
    return get_dataset(*b.local, id);
}

std::vector<nlohmann::json> list_datasets(Backends& b)
{
    return list_datasets(*b.local);
}

std::filesystem::path dataset_path(Backends& b, const std::string& id)
{
    return dataset_path(*b.local, id);
}

} // namespace mlrun
