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
    std::filesystem::path model = b.inputs->fetch_artifact(r.task_id, r.artifact);
    std::string prep_id = r.lineage.value("preprocess_task", "");
    if (prep_id.empty()) {
        throw UsageError("model " + r.name + " v" + std::to_string(r.version)
                         + ": its record names no preprocess task, so its transform cannot be bundled");
    }
    std::filesystem::path transform = b.inputs->fetch_artifact(prep_id, "transform.json");
    std::filesystem::path dest = to.empty() ? std::filesystem::path(r.name + "-v" + std::to_string(r.version)) : to;
    if (std::filesystem::exists(dest)) {
        throw UsageError("model pull: " + dest.string() + " exists already");
    }
    // Built beside the destination and renamed into place: a failure leaves no half bundle.
    std::filesystem::path tmp = dest;
    tmp += ".tmp." + new_id();
    try {
        std::filesystem::create_directories(tmp);
        std::filesystem::copy(model, tmp / "model", std::filesystem::copy_options::recursive);
        std::filesystem::copy_file(transform, tmp / "transform.json");
        Json about = r.to_json();
        about["format"] = "mlrun-model-bundle/1";
        about["transform_task"] = prep_id;
        write_file_atomic(tmp / "bundle.json", about.dump(2) + "\n");
        write_file_atomic(tmp / "README.txt",
                          "mlrun model bundle: " + r.name + " v" + std::to_string(r.version) + " (" + r.kind
                              + ")\n  model/          the trained model and its card (model.json)\n"
                                "  transform.json  the preprocessing it was trained with (imputation, encoding, "
                                "scaling)\n  bundle.json     the registry record: metrics, lineage\n\n"
                                "Score raw rows (same columns as the training table; the target may be absent):\n"
                                "  id=$(mlrun task create inference --set model.bundle=THIS_FOLDER --set "
                                "data.path=rows.csv)\n  mlrun task run \"$id\"   # predictions.csv in its artifacts\n");
        std::filesystem::rename(tmp, dest);
    } catch (...) {
        std::error_code ec;
        std::filesystem::remove_all(tmp, ec);
        throw;
    }
    return dest;
}

} // namespace mlrun
