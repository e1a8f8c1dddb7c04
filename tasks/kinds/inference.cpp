// inference: a trained model (the recommended one by default) + the preprocess task's
// transform.json + new data -> predictions.csv, metrics.json when labels exist, and
// throughput/latency values.
#include "core/error.hpp"
#include "core/util.hpp"
#include "kinds/inputs.hpp"
#include "kinds/kinds.hpp"
#include "ml/io/csv.hpp"
#include "ml/metrics.hpp"
#include "ml/models/model.hpp"
#include "ml/table.hpp"
#include "ml/transform.hpp"
#include "ports/inputs.hpp"
#include "ports/reporter.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

namespace mlrun::kinds {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t k_latency_samples = 200;

std::string text_param(const Json& params, const char* key)
{
    const Json* v = get_path(params, key);
    if (!v || v->is_null()) {
        return {};
    }
    if (!v->is_string()) {
        throw UsageError(std::string("params.") + key + ": expected a string");
    }
    return v->get<std::string>();
}

// The training task whose model we run: model.task_id, else model.name (+ model.version)
// from the registry, else the recommendation of an input summary task, else the only
// input training task.
std::string find_model_task(TaskContext& ctx)
{
    const Json& params = ctx.task.params;
    const std::string task_id = text_param(params, "model.task_id");
    if (!task_id.empty()) {
        return task_id;
    }
    const std::string name = text_param(params, "model.name");
    if (!name.empty()) {
        int version = 0;
        if (const Json* v = get_path(params, "model.version"); v && !v->is_null()) {
            if (!v->is_number_integer() || v->get<int>() < 0) {
                throw UsageError("params.model.version: expected a whole number (0 = latest)");
            }
            version = v->get<int>();
        }
        const auto record = ctx.inputs().model(name, version);
        if (!record) {
            throw UsageError("model '" + name + "'" + (version > 0 ? " version " + std::to_string(version) : "")
                             + " is not registered (see `mlrun model list`)");
        }
        return record->task_id;
    }
    for (const Task& summary : input_tasks(ctx, "summary")) {
        const auto it = summary.values.find("recommended");
        if (it != summary.values.end() && it->is_object() && it->contains("task_id") && (*it)["task_id"].is_string()) {
            return (*it)["task_id"].get<std::string>();
        }
        throw UsageError("summary task " + summary.id + " has no recommended model (did every training task fail?)");
    }
    const std::vector<Task> trained = input_tasks(ctx, "train_model");
    if (trained.size() == 1) {
        return trained.front().id;
    }
    throw UsageError("no model to run: set model.task_id, or model.name (+ model.version), or give a summary task in "
                     "params.inputs");
}

// The preprocess task behind a training task (its params.inputs), else an input of ours.
Task find_preprocess_task(TaskContext& ctx, const Task& trained)
{
    for (const std::string& id : input_ids_of(trained)) {
        Task t = ctx.inputs().get_task(id);
        if (t.kind == "preprocess") {
            return t;
        }
    }
    const std::vector<Task> own = input_tasks(ctx, "preprocess");
    if (!own.empty()) {
        return own.front();
    }
    throw UsageError("training task " + trained.id
                     + " names no preprocess task in its params.inputs; give one with "
                       "--set inputs.preprocess=<task id>");
}

std::string fmt(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", v);
    return buf;
}

double percentile(std::vector<double> v, double q)
{
    if (v.empty()) {
        return 0.0;
    }
    std::sort(v.begin(), v.end());
    // Linear interpolation between closest ranks (numpy's default).
    const double pos = q * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(pos);
    const std::size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

} // namespace

void run_inference(TaskContext& ctx)
{
    const Json& params = ctx.task.params;
    ctx.stage("load", 0, 4);
    // A pulled bundle (`mlrun model pull`): model/ and transform.json side by side, no store needed.
    const std::string bundle = text_param(params, "model.bundle");
    std::string model_task_id;
    std::optional<Task> prep;
    std::filesystem::path model_path;
    std::filesystem::path transform_path;
    if (!bundle.empty()) {
        std::filesystem::path dir = bundle;
        if (dir.is_relative() && !text_param(params, "base_dir").empty()) {
            dir = std::filesystem::path(text_param(params, "base_dir")) / dir;
        }
        model_path = dir / "model";
        transform_path = dir / "transform.json";
        if (!std::filesystem::is_directory(model_path) || !std::filesystem::is_regular_file(transform_path)) {
            throw UsageError("model.bundle " + dir.string()
                             + ": not a model bundle (needs model/ and transform.json, as `mlrun model pull` writes)");
        }
        const std::filesystem::path bundle_json = dir / "bundle.json";
        if (std::filesystem::is_regular_file(bundle_json)) {
            model_task_id = Json::parse(read_file(bundle_json), nullptr, false).value("task_id", "");
        }
        ctx.say("inference: model and transform of bundle " + dir.string());
    } else {
        model_task_id = find_model_task(ctx);
        const Task trained = ctx.inputs().get_task(model_task_id);
        prep = find_preprocess_task(ctx, trained);
        ctx.say("inference: model of task " + trained.id + " (" + trained.name + "), transform of task " + prep->id);
        model_path = ctx.inputs().fetch_artifact(trained.id, "model");
        transform_path = ctx.inputs().fetch_artifact(prep->id, "transform.json");
    }

    Json card;
    const std::unique_ptr<ml::Model> model = ml::load_model(model_path, &card);
    Json transform_json;
    try {
        transform_json = Json::parse(read_file(transform_path));
    } catch (const Json::parse_error& e) {
        throw UsageError(transform_path.string() + ": invalid JSON (" + e.what() + ")");
    }
    const std::string transform_kind = ml::transform_kind(transform_json, transform_path.string());

    // New data: our own data params, else the preprocess task's (the whole table).
    Json data = Json::object();
    std::string base_dir = text_param(params, "base_dir");
    const Json* own = get_path(params, "data");
    auto set_in = [&](const char* key) {
        const auto it = own->find(key);
        return it != own->end() && it->is_string() && !it->get<std::string>().empty();
    };
    const bool has_own = own && own->is_object() && (set_in("path") || set_in("dataset_id"));
    if (has_own) {
        data = *own;
    } else if (!prep) {
        throw UsageError("model.bundle needs data to score: set data.path or data.dataset_id");
    } else {
        if (const Json* p = get_path(prep->params, "data"); p && p->is_object()) {
            data = *p;
        }
        base_dir = text_param(prep->params, "base_dir");
        if (own && own->is_object() && own->contains("limit")) {
            data["limit"] = (*own)["limit"];
        }
    }
    const ml::DataSource src = ml::resolve_data_source(
        data, base_dir, [&](const std::string& id) { return ctx.inputs().fetch_dataset(id); });
    ctx.say("inference: reading " + src.path.string());
    ctx.check_cancel();
    ctx.stage("transform", 1, 4);

    ml::LabeledSet set;
    if (transform_kind == "tabular") {
        const auto transform = ml::TabularTransform::from_json(transform_json, transform_path.string());
        if (src.format != "table") {
            throw UsageError(src.path.string() + ": the model was trained on a table, not on images");
        }
        ml::ReadOptions ropt;
        if (const Json* l = get_path(data, "limit"); l && l->is_number_integer()) {
            ropt.limit = static_cast<std::size_t>(std::max<std::int64_t>(0, l->get<std::int64_t>()));
        }
        set = transform.apply(ml::read_table(src.path, ropt));
    } else {
        const auto transform = ml::ImageTransform::from_json(transform_json, transform_path.string());
        if (src.format == "table") {
            throw UsageError(src.path.string() + ": the model was trained on images, not on a table");
        }
        Json image_data = data;
        image_data["image_size"] = transform.shape().height; // the size the model was trained on
        const ml::ImageSet images = ml::load_image_source(src, image_data);
        std::vector<std::size_t> rows(images.labels.size());
        for (std::size_t i = 0; i < rows.size(); ++i) {
            rows[i] = i;
        }
        set = ml::take_rows(images, ml::encode_labels(images.labels, transform.class_names()), rows,
                            transform.class_names());
        transform.apply(set.x);
    }
    if (set.x.rows == 0) {
        throw UsageError(src.path.string() + ": no rows to predict");
    }
    const int n_classes = set.n_classes();

    ctx.check_cancel();
    ctx.stage("predict", 2, 4);
    {
        // Untimed warm-up: the first call pays one-off costs (allocations, thread pools).
        ml::Matrix first(1, set.x.cols);
        std::copy(set.x.data.begin(), set.x.data.begin() + set.x.cols, first.data.begin());
        (void)model->predict_proba(first);
    }
    const auto t0 = Clock::now();
    const ml::Matrix proba = model->predict_proba(set.x);
    const double batch_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (proba.rows != set.x.rows || proba.cols != n_classes) {
        throw TaskFailed("model " + (model_task_id.empty() ? model_path.string() : "of task " + model_task_id)
                         + " returned " + std::to_string(proba.rows) + "x" + std::to_string(proba.cols)
                         + " probabilities for " + std::to_string(set.x.rows) + " rows and " + std::to_string(n_classes)
                         + " classes (transform and model do not match)");
    }
    // Per-row latency: one row at a time, on evenly spaced rows.
    std::vector<double> latency_ms;
    const std::size_t samples = std::min<std::size_t>(k_latency_samples, static_cast<std::size_t>(set.x.rows));
    for (std::size_t k = 0; k < samples; ++k) {
        const auto r = static_cast<std::int64_t>(k * static_cast<std::size_t>(set.x.rows) / samples);
        ml::Matrix one(1, set.x.cols);
        std::copy(set.x.data.begin() + r * set.x.cols, set.x.data.begin() + (r + 1) * set.x.cols, one.data.begin());
        const auto s = Clock::now();
        (void)model->predict_proba(one);
        latency_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
    }

    ctx.stage("write", 3, 4);
    const std::vector<int> pred = ml::argmax_rows(proba);
    const bool labelled = !set.y.empty();
    std::vector<std::string> fields{"id"};
    if (labelled) {
        fields.push_back("label");
    }
    fields.push_back("predicted");
    for (const std::string& c : set.class_names) {
        fields.push_back("prob_" + c);
    }
    std::string csv;
    ml::write_csv_row(csv, fields);
    std::vector<int> y_known;
    std::vector<std::int64_t> known_rows;
    for (std::int64_t r = 0; r < proba.rows; ++r) {
        const auto i = static_cast<std::size_t>(r);
        fields = {set.ids[i]};
        if (labelled) {
            fields.push_back(set.y[i] >= 0 ? set.class_names[static_cast<std::size_t>(set.y[i])] : std::string());
            if (set.y[i] >= 0) {
                y_known.push_back(set.y[i]);
                known_rows.push_back(r);
            }
        }
        fields.push_back(set.class_names[static_cast<std::size_t>(pred[i])]);
        for (std::int64_t c = 0; c < proba.cols; ++c) {
            fields.push_back(fmt(proba.at(r, c)));
        }
        ml::write_csv_row(csv, fields);
    }
    const std::filesystem::path dir = ctx.work_dir;
    write_file_atomic(dir / "predictions.csv", csv);
    ctx.report().log_artifact("predictions.csv", dir / "predictions.csv");

    const double rows_per_s = batch_s > 0 ? static_cast<double>(proba.rows) / batch_s : 0.0;
    Reporter& t = ctx.report();
    t.log_value("rows", proba.rows);
    t.log_value("rows_per_s", rows_per_s);
    t.log_value("latency_ms_p50", percentile(latency_ms, 0.50));
    t.log_value("latency_ms_p99", percentile(latency_ms, 0.99));
    t.log_value("model_task_id", model_task_id);
    if (!y_known.empty()) {
        ml::Matrix known(static_cast<std::int64_t>(known_rows.size()), proba.cols);
        for (std::size_t k = 0; k < known_rows.size(); ++k) {
            std::copy(proba.data.begin() + known_rows[k] * proba.cols,
                      proba.data.begin() + (known_rows[k] + 1) * proba.cols,
                      known.data.begin() + static_cast<std::int64_t>(k) * proba.cols);
        }
        Json metrics = ml::all_metrics(y_known, known);
        metrics["unlabelled_rows"] = static_cast<std::int64_t>(proba.rows) - static_cast<std::int64_t>(y_known.size());
        const Json doc{{"data", src.path.string()}, {"model_task_id", model_task_id}, {"metrics", metrics}};
        write_file_atomic(dir / "metrics.json", doc.dump(2) + "\n");
        t.log_artifact("metrics.json", dir / "metrics.json");
        t.log_value("metrics", metrics);
        ctx.say("inference: accuracy " + fmt(metrics.value("accuracy", 0.0)) + " on " + std::to_string(y_known.size())
                + " labelled rows");
    }
    ctx.say("inference: " + std::to_string(proba.rows) + " rows, " + fmt(rows_per_s) + " rows/s, latency p50 "
            + fmt(percentile(latency_ms, 0.50)) + " ms, p99 " + fmt(percentile(latency_ms, 0.99)) + " ms");
    ctx.stage("write", 4, 4);
}

} // namespace mlrun::kinds
