#include "app/model_ops.hpp"

#include "app/wiring.hpp"
#include "core/error.hpp"
#include "core/util.hpp"
#include "ports/inputs.hpp"

namespace mlrun {

namespace {
// "name" or "name:3"
std::pair<std::string, int> parse_ref(const std::string& ref)
{
    size_t colon = ref.rfind(':');
    if (colon == std::string::npos) {
        return {ref, 0};
    }
    try {
        return {ref.substr(0, colon), std::stoi(ref.substr(colon + 1))};
    } catch (const std::exception&) {
        throw UsageError("model \"" + ref + "\": expected NAME or NAME:VERSION");
    }
}
} // namespace

std::vector<ModelRecord> list_models(Backends& b)
{
    return b.inputs->models("");
}

ModelRecord find_model(Backends& b, const std::string& ref)
{
    auto [name, version] = parse_ref(ref);
    std::optional<ModelRecord> r = b.inputs->model(name, version);
    if (!r) {
        throw UsageError("unknown model \"" + ref + "\" (see `mlrun model list`)");
    }
    return *r;
}

std::filesystem::path pull_model(Backends& b, const std::string& ref, const std::filesystem::path& to)
{
    ModelRecord r = find_model(b, ref);
    std::filesystem::path src = b.inputs->fetch_artifact(r.task_id, r.artifact);
    std::filesystem::path dest = to.empty() ? std::filesystem::path(r.name + "-v" + std::to_string(r.version)) : to;
    if (std::filesystem::exists(dest)) {
        throw UsageError("model pull: " + dest.string() + " exists already");
    }
    std::filesystem::path tmp = dest;
    tmp += ".tmp." + new_id();
    std::filesystem::copy(src, tmp, std::filesystem::copy_options::recursive);
    std::filesystem::rename(tmp, dest);
    return dest;
}

} // namespace mlrun
