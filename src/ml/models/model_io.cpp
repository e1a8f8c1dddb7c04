// The model registry (make_model, model_kinds), typed param readers, and the model folder:
// weights + model.json card (save_model / load_model). No torch, OpenCV or XGBoost here.
#include "ml/models/factories.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "ml/calibration.hpp"

#include <algorithm>
#include <cmath>

#ifndef MLRUN_VERSION
#define MLRUN_VERSION "0.0.0"
#endif

namespace mlrun::ml {
namespace {

constexpr const char* k_card_format = "mlrun-model/1";

std::string join(const std::vector<std::string>& items)
{
    std::string out;
    for (const std::string& s : items) {
        out += (out.empty() ? "" : ", ") + s;
    }
    return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s)
{
    return std::find(v.begin(), v.end(), s) != v.end();
}

const nlohmann::json* find(const nlohmann::json& params, const std::string& key)
{
    if (!params.is_object()) {
        return nullptr;
    }
    auto it = params.find(key);
    if (it == params.end() || it->is_null()) {
        return nullptr;
    }
    return &*it;
}

std::string range_text(double lo, double hi)
{
    nlohmann::json a = lo;
    nlohmann::json b = hi;
    return a.dump() + ".." + b.dump();
}

} // namespace

namespace detail {

double param_double(const nlohmann::json& params, const std::string& key, double fallback, double min_value,
                    double max_value)
{
    const nlohmann::json* v = find(params, key);
    if (!v) {
        return fallback;
    }
    if (!v->is_number() || !std::isfinite(v->get<double>()) || v->get<double>() < min_value
        || v->get<double>() > max_value) {
        throw UsageError("model." + key + ": expected a number in " + range_text(min_value, max_value) + ", got "
                         + v->dump());
    }
    return v->get<double>();
}

int param_int(const nlohmann::json& params, const std::string& key, int fallback, int min_value, int max_value)
{
    const nlohmann::json* v = find(params, key);
    if (!v) {
        return fallback;
    }
    // 32.0 (a sampled range value) is accepted as 32; 0.5 is not.
    const bool whole = v->is_number_integer()
                       || (v->is_number_float() && std::isfinite(v->get<double>())
                           && std::floor(v->get<double>()) == v->get<double>());
    if (!whole || v->get<double>() < min_value || v->get<double>() > max_value) {
        throw UsageError("model." + key + ": expected a whole number in " + std::to_string(min_value) + ".."
                         + std::to_string(max_value) + ", got " + v->dump());
    }
    return static_cast<int>(v->get<double>());
}

std::string param_string(const nlohmann::json& params, const std::string& key, const std::string& fallback,
                         const std::vector<std::string>& allowed)
{
    const nlohmann::json* v = find(params, key);
    if (!v) {
        return fallback;
    }
    if (!v->is_string() || !contains(allowed, v->get<std::string>())) {
        throw UsageError("model." + key + ": expected one of " + join(allowed) + ", got " + v->dump());
    }
    return v->get<std::string>();
}

std::vector<int> param_int_list(const nlohmann::json& params, const std::string& key, const std::vector<int>& fallback,
                                int min_value)
{
    const nlohmann::json* v = find(params, key);
    if (!v) {
        return fallback;
    }
    const std::string what = "model." + key + ": expected a list of whole numbers >= " + std::to_string(min_value)
                             + " (e.g. [64, 32]), got " + v->dump();
    std::vector<int> out;
    const nlohmann::json list = v->is_array() ? *v : nlohmann::json::array({*v});
    for (const nlohmann::json& e : list) {
        if (!e.is_number_integer() || e.get<std::int64_t>() < min_value || e.get<std::int64_t>() > (1 << 24)) {
            throw UsageError(what);
        }
        out.push_back(e.get<int>());
    }
    return out;
}

} // namespace detail

const std::vector<std::string>& model_kinds()
{
    static const std::vector<std::string> kinds = [] {
        std::vector<std::string> k = detail::torch_kinds();
        const auto& cv = detail::cv_kinds();
        k.insert(k.end(), cv.begin(), cv.end());
        const auto& xgb = detail::xgb_kinds();
        k.insert(k.end(), xgb.begin(), xgb.end());
        return k;
    }();
    return kinds;
}

std::unique_ptr<Model> make_model(const std::string& kind, const nlohmann::json& params, int n_features, int n_classes,
                                  const ImageShape& shape)
{
    if (!params.is_null() && !params.is_object()) {
        throw UsageError("model: expected a mapping of model params, got " + params.dump());
    }
    const bool torch = contains(detail::torch_kinds(), kind);
    const bool xgb = contains(detail::xgb_kinds(), kind);
    if (!torch && !xgb && !contains(detail::cv_kinds(), kind)) {
        std::string msg = "model.kind: unknown model kind \"" + kind + "\" (known: " + join(model_kinds()) + ")";
        const std::string near = nearest(kind, model_kinds());
        if (!near.empty()) {
            msg += "; did you mean \"" + near + "\"?";
        }
        throw UsageError(msg);
    }
    if (n_features < 1) {
        throw UsageError("model " + kind + ": the data has no feature columns");
    }
    if (n_classes < 2) {
        throw UsageError("model " + kind + ": classification needs at least 2 classes, the data has "
                         + std::to_string(n_classes));
    }
    const nlohmann::json p = params.is_null() ? nlohmann::json::object() : params;
    if (xgb) {
        return detail::make_xgb_model(kind, p, n_features, n_classes, shape);
    }
    return torch ? detail::make_torch_model(kind, p, n_features, n_classes, shape)
                 : detail::make_cv_model(kind, p, n_features, n_classes, shape);
}

void save_model(const Model& model, const std::filesystem::path& dir, const LabeledSet& schema,
                const nlohmann::json& metrics)
{
    namespace fs = std::filesystem;
    fs::create_directories(dir);
    model.save_weights(dir);

    nlohmann::json files = nlohmann::json::object();
    std::vector<fs::path> paths;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (entry.is_regular_file() && entry.path().filename() != "model.json") {
            paths.push_back(entry.path());
        }
    }
    std::sort(paths.begin(), paths.end());
    for (const fs::path& p : paths) {
        files[fs::relative(p, dir).generic_string()] = {{"sha256", sha256_file(p)}, {"size", fs::file_size(p)}};
    }
    const std::int64_t n_features = schema.feature_names.empty()
                                        ? schema.x.cols
                                        : static_cast<std::int64_t>(schema.feature_names.size());
    nlohmann::json card = {
        {"format", k_card_format},
        {"kind", model.kind()},
        {"params", model.params()},
        {"n_features", n_features},
        {"n_classes", schema.n_classes()},
        {"input",
         {{"feature_names", schema.feature_names},
          {"shape",
           {{"channels", schema.shape.channels}, {"height", schema.shape.height}, {"width", schema.shape.width}}}}},
        {"class_names", schema.class_names},
        {"metrics", metrics.is_null() ? nlohmann::json::object() : metrics},
        {"files", files},
        {"mlrun_version", MLRUN_VERSION},
        {"created", format_time_ms(now_ms())},
    };
    write_file_atomic(dir / "model.json", card.dump(2) + "\n");
}

std::unique_ptr<Model> load_model(const std::filesystem::path& dir, nlohmann::json* card_out)
{
    namespace fs = std::filesystem;
    if (!fs::is_directory(dir)) {
        throw UsageError("model folder " + dir.string() + " does not exist");
    }
    const fs::path card_path = dir / "model.json";
    if (!fs::exists(card_path)) {
        throw UsageError(dir.string() + ": no model.json (not a saved mlrun model folder)");
    }
    nlohmann::json card;
    try {
        card = nlohmann::json::parse(read_file(card_path));
    } catch (const nlohmann::json::parse_error& e) {
        throw UsageError(card_path.string() + ": invalid JSON (" + e.what() + ")");
    }
    std::string kind;
    int n_features = 0;
    int n_classes = 0;
    ImageShape shape;
    try {
        if (card.value("format", "") != k_card_format) {
            throw UsageError(card_path.string() + ": unknown model card format " + card.value("format", "\"\"")
                             + " (expected " + k_card_format + ")");
        }
        kind = card.at("kind").get<std::string>();
        n_features = card.at("n_features").get<int>();
        n_classes = card.at("n_classes").get<int>();
        const nlohmann::json& s = card.at("input").at("shape");
        shape.channels = s.at("channels").get<int>();
        shape.height = s.at("height").get<int>();
        shape.width = s.at("width").get<int>();
        for (const auto& [name, info] : card.at("files").items()) {
            check_relative_path(name, "model file name");
            const fs::path p = dir / name;
            if (!fs::is_regular_file(p)) {
                throw UsageError(dir.string() + ": weights file " + name + " listed in model.json is missing");
            }
            if (sha256_file(p) != info.at("sha256").get<std::string>()) {
                throw UsageError(p.string() + ": weights file is corrupt (sha256 differs from model.json)");
            }
        }
    } catch (const nlohmann::json::exception& e) {
        throw UsageError(card_path.string() + ": missing or malformed field (" + e.what() + ")");
    }
    std::unique_ptr<Model> model = make_model(kind, card.value("params", nlohmann::json::object()), n_features,
                                              n_classes, shape);
    model->load_weights(dir);
    model = with_saved_calibration(std::move(model), dir); // calibration.json, fitted by train_model
    if (card_out) {
        *card_out = std::move(card);
    }
    return model;
}

} // namespace mlrun::ml
