// inference: a trained model (the recommended one by default) + the preprocess task's
// transform.json + new data (by default the preprocess task's held-out test split, never
// rows it trained on) -> predictions.csv, metrics.json (what was scored, the input report,
// metrics when labels exist) and throughput/latency values.
#include "core/error.hpp"
#include "core/util.hpp"
#include "kinds/inputs.hpp"
#include "kinds/kinds.hpp"
#include "ml/input_report.hpp"
#include "ml/io/csv.hpp"
#include "ml/metrics.hpp"
#include "ml/models/model.hpp"
#include "ml/split_io.hpp"
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

// The rows of `set` at `rows`, in that order.
ml::LabeledSet select_rows(const ml::LabeledSet& set, const std::vector<std::size_t>& rows)
{
    ml::LabeledSet out;
    out.feature_names = set.feature_names;
    out.class_names = set.class_names;
    out.shape = set.shape;
    out.x = ml::Matrix(static_cast<std::int64_t>(rows.size()), set.x.cols);
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const auto src = static_cast<std::ptrdiff_t>(rows[k]) * set.x.cols;
        std::copy(set.x.data.begin() + src, set.x.data.begin() + src + set.x.cols,
                  out.x.data.begin() + static_cast<std::ptrdiff_t>(k) * set.x.cols);
        if (!set.y.empty()) {
            out.y.push_back(set.y[rows[k]]);
        }
        out.ids.push_back(set.ids[rows[k]]);
    }
    return out;
}

// params.on_bad_row: what a row with a bad cell (text in a numeric column) does.
bool skip_bad_rows(const Json& params)
{
    const std::string v = text_param(params, "on_bad_row");
    if (v.empty() || v == "fail") {
        return false;
    }
    if (v == "skip") {
        return true;
    }
    throw UsageError("params.on_bad_row: '" + v + "' is not one of fail, skip");
}

// The most skipped rows metrics.json lists one by one (the count is always there).
constexpr std::size_t k_max_skipped_listed = 1000;
constexpr std::size_t k_max_skipped_logged = 10;

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

    const bool skip_bad = skip_bad_rows(params);
    std::int64_t limit = 0;
    if (const Json* l = get_path(params, "data.limit"); l && l->is_number_integer()) {
        limit = std::max<std::int64_t>(0, l->get<std::int64_t>());
    }

    // What to score: new data when data.path / data.dataset_id is given, else the preprocess
    // task's held-out test split (the rows the summary's test metrics came from): never
    // rows the model was trained or selected on.
    const std::string base_dir = text_param(params, "base_dir");
    const Json* own = get_path(params, "data");
    auto set_in = [&](const char* key) {
        const auto it = own->find(key);
        return it != own->end() && it->is_string() && !it->get<std::string>().empty();
    };
    const bool has_own = own && own->is_object() && (set_in("path") || set_in("dataset_id"));
    if (!has_own && !prep) {
        throw UsageError("model.bundle needs data to score: set data.path or data.dataset_id");
    }
    ml::LabeledSet set;
    std::string scored;
    std::string data_name;
    Json report_json;
    std::vector<ml::BadCell> skipped;
    if (!has_own) {
        data_name = "test split of preprocess task " + prep->id;
        ctx.check_cancel();
        ctx.stage("transform", 1, 4);
        set = ml::load_split(ctx.inputs().fetch_artifact(prep->id, "test.bin"));
        const auto classes = transform_json.value("class_names", std::vector<std::string>{});
        if (set.class_names != classes) {
            throw TaskFailed("preprocess task " + prep->id + ": test.bin and transform.json name different classes");
        }
        if (set.x.rows == 0) {
            throw UsageError("preprocess task " + prep->id
                             + " has an empty test split: give new data with data.path or data.dataset_id");
        }
        if (limit > 0 && limit < set.x.rows) {
            std::vector<std::size_t> first(static_cast<std::size_t>(limit));
            for (std::size_t i = 0; i < first.size(); ++i) {
                first[i] = i;
            }
            set = select_rows(set, first);
        }
        // The test split went through the transform in the preprocess step, which counted
        // what it met there (describe.json).
        try {
            const Json describe = Json::parse(read_file(ctx.inputs().fetch_artifact(prep->id, "describe.json")));
            if (const Json* r = get_path(describe, "splits.test.input_report"); r && r->is_object() && limit == 0) {
                report_json = *r;
            }
        } catch (const std::exception&) {
            // An older preprocess task without describe.json or its report: rows only.
        }
        if (report_json.is_null()) {
            report_json = {{"rows", set.x.rows}};
        } else {
            for (const std::string& line : ml::InputReport::from_json(report_json).summary_lines()) {
                ctx.say("inference: test split " + line);
            }
        }
        scored = "test split (" + std::to_string(set.x.rows) + " rows)";
    } else {
        const Json& data = *own;
        const ml::DataSource src = ml::resolve_data_source(
            data, base_dir, [&](const std::string& id) { return ctx.inputs().fetch_dataset(id); });
        data_name = src.path.string();
        ctx.say("inference: reading new data " + data_name);
        ctx.check_cancel();
        ctx.stage("transform", 1, 4);
        if (transform_kind == "tabular") {
            const auto transform = ml::TabularTransform::from_json(transform_json, transform_path.string());
            if (src.format != "table") {
                throw UsageError(data_name + ": the model was trained on a table, not on images");
            }
            ml::ReadOptions ropt;
            ropt.limit = static_cast<std::size_t>(limit);
            ml::InputReport report;
            set = transform.apply(ml::read_table(src.path, ropt), report);
            for (const std::string& line : report.summary_lines()) {
                ctx.say("inference: " + line);
            }
            report_json = report.to_json();
            if (!report.bad_rows.empty()) {
                const ml::BadCell& first = report.bad_rows.front();
                if (!skip_bad) {
                    throw UsageError(data_name + ": " + ml::describe_bad_cell(first)
                                     + (report.bad_rows.size() > 1
                                            ? " (" + std::to_string(report.bad_rows.size()) + " rows have bad cells)"
                                            : std::string())
                                     + "; on_bad_row: skip predicts the other rows");
                }
                skipped = report.bad_rows;
                std::vector<std::size_t> keep;
                std::size_t next = 0;
                for (std::size_t r = 0; r < set.ids.size(); ++r) {
                    if (next < skipped.size() && skipped[next].row == r) {
                        ++next;
                    } else {
                        keep.push_back(r);
                    }
                }
                set = select_rows(set, keep);
                for (std::size_t i = 0; i < skipped.size() && i < k_max_skipped_logged; ++i) {
                    ctx.say("inference: skipped " + ml::describe_bad_cell(skipped[i]) + " (not in predictions.csv)");
                }
                if (skipped.size() > k_max_skipped_logged) {
                    ctx.say("inference: ... and " + std::to_string(skipped.size() - k_max_skipped_logged)
                            + " more skipped rows (metrics.json lists them)");
                }
                if (set.x.rows == 0) {
                    throw UsageError(data_name + ": every row has a bad cell (first: " + ml::describe_bad_cell(first)
                                     + ")");
                }
            }
        } else {
            const auto transform = ml::ImageTransform::from_json(transform_json, transform_path.string());
            if (src.format == "table") {
                throw UsageError(data_name + ": the model was trained on images, not on a table");
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
            report_json = {{"rows", set.x.rows}};
        }
        if (set.x.rows == 0) {
            throw UsageError(data_name + ": no rows to predict");
        }
        scored = "new data " + data_name;
    }
    if (!skipped.empty()) {
        Json list = Json::array();
        for (std::size_t i = 0; i < skipped.size() && i < k_max_skipped_listed; ++i) {
            list.push_back({{"row", skipped[i].row + 1},
                            {"id", skipped[i].id},
                            {"column", skipped[i].column},
                            {"value", skipped[i].value}});
        }
        report_json["skipped"] = skipped.size();
        report_json["skipped_rows"] = std::move(list);
    }
    ctx.say("inference: scoring " + scored
            + (has_own ? std::string() : " of preprocess task " + prep->id + ", held out from training and selection"));
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
    t.log_value("scored", scored);
    t.log_value("input_report", report_json);
    Json metrics;
    if (!y_known.empty()) {
        ml::Matrix known(static_cast<std::int64_t>(known_rows.size()), proba.cols);
        for (std::size_t k = 0; k < known_rows.size(); ++k) {
            std::copy(proba.data.begin() + known_rows[k] * proba.cols,
                      proba.data.begin() + (known_rows[k] + 1) * proba.cols,
                      known.data.begin() + static_cast<std::int64_t>(k) * proba.cols);
        }
        metrics = ml::all_metrics(y_known, known);
        metrics["unlabelled_rows"] = static_cast<std::int64_t>(proba.rows) - static_cast<std::int64_t>(y_known.size());
        t.log_value("metrics", metrics);
        ctx.say("inference: accuracy " + fmt(metrics.value("accuracy", 0.0)) + " on " + std::to_string(y_known.size())
                + " labelled rows; scored: " + scored);
    }
    Json doc{{"data", data_name}, {"model_task_id", model_task_id}, {"scored", scored}, {"input_report", report_json}};
    if (!metrics.is_null()) {
        doc["metrics"] = metrics;
    }
    write_file_atomic(dir / "metrics.json", doc.dump(2) + "\n");
    t.log_artifact("metrics.json", dir / "metrics.json");
    ctx.say("inference: " + std::to_string(proba.rows) + " rows, " + fmt(rows_per_s) + " rows/s, latency p50 "
            + fmt(percentile(latency_ms, 0.50)) + " ms, p99 " + fmt(percentile(latency_ms, 0.99)) + " ms");
    ctx.stage("write", 4, 4);
}

} // namespace mlrun::kinds
