// The train_model kind (DESIGN §4): trains one model (or runs a search and keeps the best
// trial) on the splits of its preprocess input task, scores it on test, and writes the
// model folder, metrics.json and predictions_test.csv. Reports only through ctx.report().
#include "core/error.hpp"
#include "core/util.hpp"
#include "kinds/inputs.hpp"
#include "kinds/kinds.hpp"
#include "ml/calibration.hpp"
#include "ml/cross_validation.hpp"
#include "ml/io/csv.hpp"
#include "ml/metrics.hpp"
#include "ml/models/device.hpp"
#include "ml/models/model.hpp"
#include "ml/search.hpp"
#include "ml/split_io.hpp"
#include "ports/inputs.hpp"
#include "ports/reporter.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

namespace mlrun::kinds {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string join(const std::vector<std::string>& items)
{
    std::string out;
    for (const std::string& s : items) {
        out += (out.empty() ? "" : ", ") + s;
    }
    return out;
}

std::string number(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

// The log line of one epoch report, naming only the figures the model has: a model without
// epochs or losses (trees, knn, svm) gets "fit: valid roc_auc 0.85", never "loss nan".
std::string epoch_line(const ml::EpochReport& r, const std::string& metric)
{
    std::vector<std::string> parts;
    if (std::isfinite(r.train_loss)) {
        parts.push_back("train loss " + number(r.train_loss));
    }
    if (std::isfinite(r.valid_loss)) {
        parts.push_back("valid loss " + number(r.valid_loss));
    }
    if (std::isfinite(r.valid_metric)) {
        parts.push_back("valid " + metric + " " + number(r.valid_metric));
    }
    const bool epochs = r.epochs > 1 || std::isfinite(r.train_loss) || std::isfinite(r.valid_loss);
    std::string line = epochs ? "epoch " + std::to_string(r.epoch) + "/" + std::to_string(r.epochs) + ":" : "fit:";
    for (std::size_t i = 0; i < parts.size(); ++i) {
        line += (i == 0 ? " " : ", ") + parts[i];
    }
    return line;
}

struct TrainParams {
    Json model; // params.model (kind + model params)
    std::string kind;
    std::string primary_metric = "roc_auc";
    std::uint64_t seed = 0;
    std::string calibration = "auto"; // auto (default_calibration of the kind), none, sigmoid, isotonic
    int cv = 0;                       // split.cv: folds of cross-validation on train + valid; 0 = none
};

TrainParams read_params(const TaskContext& ctx)
{
    TrainParams p;
    const Json& params = ctx.task.params;
    const Json* model = get_path(params, "model");
    if (!model || !model->is_object()) {
        throw UsageError("params.model: expected a mapping with model.kind (one of: " + join(ml::model_kinds()) + ")");
    }
    p.model = *model;
    const Json* kind = get_path(params, "model.kind");
    if (!kind || !kind->is_string() || kind->get<std::string>().empty()) {
        throw UsageError("params.model.kind is required (one of: " + join(ml::model_kinds()) + ")");
    }
    p.kind = kind->get<std::string>();
    if (const Json* v = get_path(params, "primary_metric"); v && !v->is_null()) {
        if (!v->is_string()) {
            throw UsageError("params.primary_metric: expected a metric name, found " + v->dump());
        }
        p.primary_metric = v->get<std::string>();
    }
    ml::check_metric_name(p.primary_metric, "params.primary_metric");
    p.seed = ctx.seed;
    if (const Json* v = get_path(params, "seed"); v && !v->is_null()) {
        if (!v->is_number_integer() || v->get<std::int64_t>() < 0) {
            throw UsageError("params.seed: expected a whole number >= 0, found " + v->dump());
        }
        p.seed = v->get<std::uint64_t>();
    }
    if (const Json* v = get_path(params, "calibration"); v && !v->is_null()) {
        const auto& methods = ml::calibration_methods();
        const std::string text = v->is_string() ? v->get<std::string>() : v->dump();
        if (text != "auto" && std::find(methods.begin(), methods.end(), text) == methods.end()) {
            throw UsageError("params.calibration: expected auto, none, sigmoid or isotonic, found '" + text + "'");
        }
        p.calibration = text;
    }
    if (const Json* v = get_path(params, "split.cv"); v && !v->is_null()) {
        if (!v->is_number_integer() || v->get<std::int64_t>() < 0 || v->get<std::int64_t>() > 100
            || v->get<std::int64_t>() == 1 || v->get<std::int64_t>() == 2) {
            throw UsageError("params.split.cv: expected 0 (no cross-validation) or a number of folds in 3..100, found "
                             + v->dump());
        }
        p.cv = v->get<int>();
    }
    return p;
}

// cv_predictions.csv: each train + valid row's out-of-fold probabilities with its fold, for
// scripts/check_cv_sklearn.py: row (0-based over train then valid), id, split, fold, label,
// prob_<class>...
std::string cv_predictions_csv(const ml::LabeledSet& train, const ml::LabeledSet& valid, const ml::CvResult& cv)
{
    std::vector<std::string> fields{"row", "id", "split", "fold", "label"};
    for (const std::string& c : train.class_names) {
        fields.push_back("prob_" + c);
    }
    std::string out;
    ml::write_csv_row(out, fields);
    const size_t n_train = train.y.size();
    for (size_t r = 0; r < cv.fold_of_row.size(); ++r) {
        const bool in_train = r < n_train;
        const size_t i = in_train ? r : r - n_train;
        const ml::LabeledSet& set = in_train ? train : valid;
        fields = {std::to_string(r), i < set.ids.size() ? set.ids[i] : std::to_string(r), in_train ? "train" : "valid",
                  std::to_string(cv.fold_of_row[r]), set.class_names[static_cast<size_t>(set.y[i])]};
        for (std::int64_t c = 0; c < cv.proba.cols; ++c) {
            fields.push_back(number(cv.proba.at(static_cast<std::int64_t>(r), c)));
        }
        ml::write_csv_row(out, fields);
    }
    return out;
}

ml::LabeledSet load(const TaskContext& ctx, const Task& prep, const std::string& name)
{
    return ml::load_split(ctx.inputs().fetch_artifact(prep.id, name));
}

Json metrics_or_null(const std::vector<int>& y, const ml::Matrix& proba)
{
    if (y.empty() || static_cast<std::int64_t>(y.size()) != proba.rows) {
        return nullptr;
    }
    Json m = ml::all_metrics(y, proba);
    const double ece = ml::expected_calibration_error(y, proba);
    m["ece"] = std::isfinite(ece) ? Json(ece) : Json(nullptr); // beside log loss
    return m;
}

// Milliseconds per row of predict_proba on `x`: the median of a few runs (at least 3,
// more while they are short) so one slow run does not decide.
double latency_ms_per_row(const ml::Model& model, const ml::Matrix& x)
{
    if (x.rows == 0) {
        return std::nan("");
    }
    std::vector<double> runs;
    const auto start = Clock::now();
    while (runs.size() < 3 || (runs.size() < 25 && seconds_since(start) < 0.2)) {
        const auto t0 = Clock::now();
        const ml::Matrix p = model.predict_proba(x);
        runs.push_back(seconds_since(t0) * 1000.0 / static_cast<double>(x.rows));
    }
    std::nth_element(runs.begin(), runs.begin() + static_cast<std::ptrdiff_t>(runs.size() / 2), runs.end());
    return runs[runs.size() / 2];
}

std::string predictions_csv(const ml::LabeledSet& test, const ml::Matrix& proba)
{
    const auto class_name = [&](int k) {
        return k >= 0 && k < test.n_classes() ? test.class_names[static_cast<size_t>(k)] : std::to_string(k);
    };
    std::vector<std::string> fields{"id", "label", "predicted"};
    for (const std::string& c : test.class_names) {
        fields.push_back("prob_" + c);
    }
    std::string out;
    ml::write_csv_row(out, fields);
    const std::vector<int> pred = ml::argmax_rows(proba);
    const bool labelled = static_cast<std::int64_t>(test.y.size()) == test.x.rows;
    for (std::int64_t r = 0; r < proba.rows; ++r) {
        const size_t ri = static_cast<size_t>(r);
        fields = {ri < test.ids.size() ? test.ids[ri] : std::to_string(r), labelled ? class_name(test.y[ri]) : "",
                  class_name(pred[ri])};
        for (std::int64_t c = 0; c < proba.cols; ++c) {
            fields.push_back(number(proba.at(r, c)));
        }
        ml::write_csv_row(out, fields);
    }
    return out;
}

std::uint64_t folder_size(const fs::path& dir)
{
    std::uint64_t total = 0;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (entry.is_regular_file()) {
            total += entry.file_size();
        }
    }
    return total;
}

Json nan_to_null(double v)
{
    return std::isfinite(v) ? Json(v) : Json(nullptr);
}

// feature_importance.json: {"feature_names", "importance": {type: [value per feature]},
// "ranked": [{"feature", <type>: value, ...}] by the first of gain/total_gain/weight, highest
// first}; null when the model has none.
Json importance_json(const ml::Model& model, const ml::LabeledSet& train)
{
    const std::map<std::string, std::vector<double>> imp = model.feature_importance();
    if (imp.empty()) {
        return nullptr;
    }
    std::vector<std::string> names = train.feature_names;
    for (size_t i = names.size(); i < static_cast<size_t>(train.x.cols); ++i) {
        names.push_back("f" + std::to_string(i));
    }
    const std::string order_by = imp.count("gain") ? "gain" : imp.begin()->first;
    const std::vector<double>& key = imp.at(order_by);
    std::vector<size_t> order(key.size());
    for (size_t i = 0; i < order.size(); ++i) {
        order[i] = i;
    }
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key[a] > key[b]; });
    Json ranked = Json::array();
    for (size_t i : order) {
        Json row = {{"feature", i < names.size() ? names[i] : "f" + std::to_string(i)}};
        for (const auto& [type, values] : imp) {
            row[type] = i < values.size() ? values[i] : 0.0;
        }
        ranked.push_back(std::move(row));
    }
    return Json{{"model_kind", model.kind()}, {"ordered_by", order_by}, {"ranked", ranked}};
}

// The positive class of a binary task: the class at index 1 (preprocess puts the chosen
// data.positive_class there); null for multi-class tasks.
Json positive_class_of(const ml::LabeledSet& set)
{
    return set.n_classes() == 2 ? Json(set.class_names[1]) : Json(nullptr);
}

// Each search trial becomes a child task: a train_model spec with the trial's params (so
// it can be cloned and run on its own), completed or failed, with its validation metric.
void record_trial(TaskContext& ctx, const ml::TrialResult& t, const std::string& metric, std::int64_t search_started)
{
    Task child;
    char index[16];
    std::snprintf(index, sizeof index, "%02d", t.index);
    child.name = (ctx.task.step.empty() ? ctx.task.name : ctx.task.step) + "/trial-" + index;
    child.kind = ctx.task.kind;
    child.type = "training";
    child.template_name = ctx.task.template_name;
    child.editable = ctx.task.editable;
    child.params = ctx.task.params;
    child.params.erase("search");
    child.params.erase("trials");
    child.params.erase("strategy");
    for (const auto& [key, value] : t.assignment.items()) {
        set_path(child.params, key, value);
    }
    child.tags = {"trial"};
    child.status = t.ok() ? Status::completed : Status::failed;
    child.error = t.error;
    child.started_ms = search_started;
    child.finished_ms = now_ms();
    child.attempts = 1;
    child.values = Json{{"trial", t.index}, {"train_time_s", t.train_time_s}};
    if (t.ok()) {
        child.values["valid"] = Json{{metric, std::isfinite(t.valid_metric) ? Json(t.valid_metric) : Json(nullptr)}};
    }
    ctx.report().create_child_task(std::move(child));
}

} // namespace

void run_train_model(TaskContext& ctx)
{
    const auto log = [&](const std::string& line) {
        if (ctx.log) {
            ctx.log(line);
        }
    };
    const auto progress = [&](const std::string& stage, int done, int total) {
        if (ctx.progress) {
            ctx.progress(stage, done, total);
        }
    };
    const TrainParams p = read_params(ctx);
    // model.device: refused here when cuda is asked for and there is none (a clear error).
    if (const ml::DeviceChoice device = ml::choose_device(p.kind, p.model); device.cuda) {
        log("train_model: model.device: CUDA");
    } else if (!device.why.empty()) {
        log("train_model: model.device auto: CPU, " + device.why);
    }
    const ml::SearchSpec spec = ml::parse_search(ctx.task.params, p.seed);
    const Task prep = one_input_task(ctx, "preprocess");

    progress("load", 0, 1);
    const ml::LabeledSet train = load(ctx, prep, "train.bin");
    const ml::LabeledSet valid = load(ctx, prep, "valid.bin");
    const ml::LabeledSet test = load(ctx, prep, "test.bin");
    if (train.x.rows == 0 || static_cast<std::int64_t>(train.y.size()) != train.x.rows) {
        throw UsageError("preprocess task " + prep.id + ": train.bin has no labelled rows to train on");
    }
    if (valid.x.cols != train.x.cols || test.x.cols != train.x.cols) {
        throw UsageError("preprocess task " + prep.id + ": train/valid/test splits have different feature counts");
    }
    log("train_model: " + p.kind + " on " + std::to_string(train.x.rows) + " train, " + std::to_string(valid.x.rows)
        + " valid, " + std::to_string(test.x.rows) + " test rows, " + std::to_string(train.x.cols) + " features, "
        + std::to_string(train.n_classes()) + " classes; primary metric " + p.primary_metric);
    ctx.check_cancel();

    std::unique_ptr<ml::Model> model;
    Json trials = nullptr;
    const auto start = Clock::now();
    if (!spec.empty()) {
        const int total = static_cast<int>(ml::plan_trials(spec).size());
        ml::SearchOptions options;
        options.metric = p.primary_metric;
        options.threads = ctx.threads;
        options.parallel = std::clamp(ctx.threads, 1, 2); // two trials at a time when the step has 2 cores
        options.cancel = ctx.cancel;
        int done = 0;
        const std::int64_t search_started = now_ms();
        options.on_trial = [&](const ml::TrialResult& t) {
            ++done;
            record_trial(ctx, t, p.primary_metric, search_started);
            if (t.ok()) {
                if (std::isfinite(t.valid_metric)) {
                    ctx.report().log_scalars({{"trial", p.primary_metric, t.index, t.valid_metric}});
                }
                log("trial " + std::to_string(t.index) + " " + t.assignment.dump() + ": valid " + p.primary_metric + " "
                    + number(t.valid_metric) + " (" + number(t.train_time_s) + " s)");
            } else {
                log("trial " + std::to_string(t.index) + " " + t.assignment.dump() + " failed: " + t.error);
            }
            progress("trial", done, total);
        };
        log("search: " + spec.strategy + ", " + std::to_string(total) + " trials");
        ml::SearchResult result = ml::run_search(spec, ctx.task.params, train, valid, options);
        trials = Json::array();
        for (const ml::TrialResult& t : result.trials) {
            trials.push_back(t.to_json());
        }
        const ml::TrialResult& best = result.trials[static_cast<size_t>(result.best)];
        log("search: best trial " + std::to_string(best.index) + " " + best.assignment.dump() + " valid "
            + p.primary_metric + " " + number(best.valid_metric));
        ctx.report().log_value("best_trial", best.to_json());
        model = std::move(result.best_model);
    } else {
        model = ml::make_model(p.kind, p.model, static_cast<int>(train.x.cols), train.n_classes(), train.shape);
        ml::FitOptions options;
        options.seed = p.seed;
        options.threads = ctx.threads;
        options.metric = p.primary_metric;
        options.cancel = ctx.cancel;
        options.on_epoch = [&](const ml::EpochReport& r) {
            std::vector<Scalar> scalars;
            if (std::isfinite(r.train_loss)) {
                scalars.push_back({"loss", "train", r.epoch, r.train_loss});
            }
            if (std::isfinite(r.valid_loss)) {
                scalars.push_back({"loss", "valid", r.epoch, r.valid_loss});
            }
            if (std::isfinite(r.valid_metric)) {
                scalars.push_back({p.primary_metric, "valid", r.epoch, r.valid_metric});
            }
            if (!scalars.empty()) {
                ctx.report().log_scalars(scalars);
                log(epoch_line(r, p.primary_metric));
            }
            progress("epoch", r.epoch, r.epochs);
            ctx.check_cancel();
        };
        model->fit(train, valid, options);
    }
    // Calibration on the validation split: the probabilities every later figure and the saved
    // model use (calibration.json in the model folder).
    const std::string calibration = p.calibration == "auto" ? ml::default_calibration(p.kind) : p.calibration;
    Json calibration_info = Json{{"method", calibration}};
    if (calibration != "none") {
        if (valid.y.empty() || static_cast<std::int64_t>(valid.y.size()) != valid.x.rows) {
            throw UsageError("params.calibration: " + calibration
                             + " needs a labelled validation split (preprocess task " + prep.id
                             + " has none); set calibration: none");
        }
        const ml::Matrix raw = model->predict_proba(valid.x);
        ml::Calibration fitted = ml::Calibration::fit(calibration, raw, valid.y);
        calibration_info["fitted_on"] = "valid";
        calibration_info["valid_before"] = Json{{"log_loss", nan_to_null(ml::log_loss(valid.y, raw))},
                                                {"ece", nan_to_null(ml::expected_calibration_error(valid.y, raw))}};
        model = ml::calibrated(std::move(model), std::move(fitted));
        log("calibration: " + calibration + " fitted on " + std::to_string(valid.x.rows) + " validation rows");
    }
    const double train_time_s = seconds_since(start);
    ctx.check_cancel();

    Json cv_json = nullptr;
    if (p.cv > 0) {
        progress("cv", 0, p.cv);
        ml::CvOptions cvo;
        cvo.k = p.cv;
        cvo.kind = p.kind;
        cvo.model_params = model->params();
        cvo.calibration = calibration;
        cvo.fit.seed = p.seed;
        cvo.fit.threads = ctx.threads;
        cvo.fit.metric = p.primary_metric;
        cvo.fit.cancel = ctx.cancel;
        const ml::CvResult cv = ml::cross_validate(train, valid, cvo);
        cv_json = cv.to_json();
        write_file_atomic(ctx.work_dir / "cv_predictions.csv", cv_predictions_csv(train, valid, cv));
        ctx.report().log_artifact("cv_predictions.csv", ctx.work_dir / "cv_predictions.csv");
        log("cv: " + std::to_string(p.cv) + "-fold " + p.primary_metric + " " + number(cv.mean) + " +- "
            + number(cv.std));
        progress("cv", p.cv, p.cv);
    }

    progress("evaluate", 0, 1);
    const ml::Matrix test_proba = model->predict_proba(test.x);
    const ml::Matrix valid_proba = model->predict_proba(valid.x);
    const Json test_metrics = metrics_or_null(test.y, test_proba);
    const Json valid_metrics = metrics_or_null(valid.y, valid_proba);
    const double latency = latency_ms_per_row(*model, test.x);

    const fs::path model_dir = ctx.work_dir / "model";
    ml::save_model(*model, model_dir, train,
                   {{"test", test_metrics},
                    {"valid", valid_metrics},
                    {"primary_metric", p.primary_metric},
                    {"calibration", calibration_info},
                    {"positive_class", positive_class_of(train)}});
    const std::uint64_t model_size = folder_size(model_dir);

    Json metrics = {{"test", test_metrics},
                    {"valid", valid_metrics},
                    {"primary_metric", p.primary_metric},
                    {"train_time_s", train_time_s},
                    {"latency_ms_per_row", nan_to_null(latency)},
                    {"model_size_bytes", model_size},
                    {"model_kind", model->kind()},
                    {"params", model->params()},
                    {"positive_class", positive_class_of(train)},
                    {"calibration", calibration_info},
                    {"seed", p.seed}};
    if (!cv_json.is_null()) {
        metrics["cv"] = cv_json;
    }
    if (!trials.is_null()) {
        metrics["trials"] = trials;
    }
    write_file_atomic(ctx.work_dir / "metrics.json", metrics.dump(2) + "\n");
    write_file_atomic(ctx.work_dir / "predictions_test.csv", predictions_csv(test, test_proba));

    Reporter& track = ctx.report();
    track.log_artifact("model", model_dir);
    track.log_artifact("metrics.json", ctx.work_dir / "metrics.json");
    track.log_artifact("predictions_test.csv", ctx.work_dir / "predictions_test.csv");
    if (const Json importance = importance_json(*model, train); !importance.is_null()) {
        write_file_atomic(ctx.work_dir / "feature_importance.json", importance.dump(2) + "\n");
        track.log_artifact("feature_importance.json", ctx.work_dir / "feature_importance.json");
    }
    track.log_value("positive_class", positive_class_of(train));
    track.log_value("model_kind", model->kind());
    track.log_value("test", test_metrics);
    track.log_value("valid", valid_metrics);
    track.log_value("train_time_s", train_time_s);
    track.log_value("latency_ms_per_row", nan_to_null(latency));
    track.log_value("model_size_bytes", model_size);
    track.log_value("primary_metric", p.primary_metric);
    track.log_value("calibration", calibration_info);
    if (!cv_json.is_null()) {
        track.log_value("cv", cv_json);
    }
    progress("evaluate", 1, 1);
    std::string line = "test";
    if (test_metrics.is_object()) {
        for (const char* m : {"accuracy", "roc_auc", "f1", "log_loss", "ece"}) {
            if (test_metrics.contains(m) && test_metrics[m].is_number()) {
                line += std::string(" ") + m + " " + number(test_metrics[m].get<double>());
            }
        }
    }
    log(line + "; train " + number(train_time_s) + " s, " + number(latency) + " ms/row, model "
        + std::to_string(model_size) + " bytes");
}

} // namespace mlrun::kinds
