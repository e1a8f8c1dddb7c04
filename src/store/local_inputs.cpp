#include "store/local_inputs.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "store/folder_store.hpp"

#include <algorithm>

namespace mlrun {

Task LocalInputs::get_task(const std::string& task_id)
{
    return m_store.get(task_id);
}

fs::path LocalInputs::fetch_artifact(const std::string& task_id, const std::string& name)
{
    std::optional<fs::path> path = m_store.artifact_path(task_id, name);
    if (!path) {
        throw UsageError("task " + task_id + " has no artifact \"" + name + "\"");
    }
    return *path;
}

fs::path LocalInputs::fetch_dataset(const std::string& dataset_id)
{
    check_name(dataset_id, "dataset id");
    if (!m_store.get_record("datasets", dataset_id)) {
        throw UsageError("unknown dataset \"" + dataset_id + "\" in " + m_store.location());
    }
    return m_store.root() / "datasets" / dataset_id;
}

std::vector<Scalar> LocalInputs::scalars(const std::string& task_id)
{
    return m_store.read_scalars(task_id);
}

std::vector<ModelRecord> LocalInputs::models(const std::string& name)
{
    std::vector<ModelRecord> out;
    for (const std::string& n : m_store.list_records("models")) {
        if (!name.empty() && n != name) {
            continue;
        }
        std::optional<Json> j = m_store.get_record("models", n);
        if (j) {
            for (const Json& v : j->value("versions", Json::array())) {
                out.push_back(ModelRecord::from_json(v));
            }
        }
    }
    return out;
}

std::optional<ModelRecord> LocalInputs::model(const std::string& name, int version)
{
    std::vector<ModelRecord> all = models(name);
    if (all.empty()) {
        return std::nullopt;
    }
    if (version <= 0) {
        for (auto it = all.rbegin(); it != all.rend(); ++it) {
            if (std::find(it->tags.begin(), it->tags.end(), "smoke") == it->tags.end()) {
                return *it;
            }
        }
        return all.back();
    }
    for (const ModelRecord& r : all) {
        if (r.version == version) {
            return r;
        }
    }
    return std::nullopt;
}

} // namespace mlrun
