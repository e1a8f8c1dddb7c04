// The summary kind (DESIGN §4): ranks the run's training tasks, draws the plots, writes
// the report and registers the recommended model. It reads the training tasks only
// through the tracking port, failed ones included.
#include "core/error.hpp"
#include "core/util.hpp"
#include "kinds/inputs.hpp"
#include "kinds/kinds.hpp"
#include "ml/bootstrap.hpp"
#include "ml/leaderboard.hpp"
#include "ml/metrics.hpp"
#include "ml/plots.hpp"
#include "ml/report.hpp"
#include "ports/inputs.hpp"
#include "ports/reporter.hpp"

#include <algorithm>
#include <optional>

namespace mlrun::kinds {

namespace {

struct SummaryParams {
    std::string primary_metric = "roc_auc";
    bool strict = false;
    bool register_model = true;
    std::string model_name;
    std::vector<std::string> tie_breakers = ml::default_tie_breakers();
    int resamples = ml::k_bootstrap_resamples; // bootstrap.resamples; 0 = no intervals
    std::uint64_t bootstrap_seed = 0;          // bootstrap.seed, else the task seed
};

SummaryParams read_params(const TaskContext& ctx)
{
    SummaryParams p;
    const Json& params = ctx.task.params;
    if (const Json* v = get_path(params, "primary_metric")) {
        if (!v->is_string()) {
            throw UsageError("params.primary_metric: expected a metric name, found " + v->dump());
        }
        p.primary_metric = v->get<std::string>();
    }
    if (const Json* v = get_path(params, "policy")) {
        const std::string policy = v->is_string() ? v->get<std::string>() : v->dump();
        if (policy != "partial" && policy != "strict") {
            throw UsageError("params.policy: expected partial or strict, found '" + policy + "'");
        }
        p.strict = policy == "strict";
    }
    if (const Json* v = get_path(params, "register")) {
        if (!v->is_boolean()) {
            throw UsageError("params.register: expected true or false, found " + v->dump());
        }
        p.register_model = v->get<bool>();
    }
    if (const Json* v = get_path(params, "model_name");
        v && !v->is_null() && !(v->is_string() && v->get<std::string>().empty())) {
        if (!v->is_string()) {
            throw UsageError("params.model_name: expected a name, found " + v->dump());
        }
        p.model_name = v->get<std::string>();
    } else {
        p.model_name = ctx.task.project;
        std::replace(p.model_name.begin(), p.model_name.end(), '/', '-');
        if (p.model_name.empty()) {
            p.model_name = "model";
        }
    }
    check_name(p.model_name, "model name (params.model_name)");
    if (const Json* v = get_path(params, "tie_breakers"); v && !v->is_null()) {
        const std::string what = "params.tie_breakers: expected a list of tie breakers (e.g. [log_loss, latency, "
                                 "size]), found "
                                 + v->dump();
        const Json list = v->is_string() ? Json::array({*v}) : *v;
        if (!list.is_array()) {
            throw UsageError(what);
        }
        p.tie_breakers.clear();
        for (const Json& e : list) {
            if (!e.is_string()) {
                throw UsageError(what);
            }
            p.tie_breakers.push_back(e.get<std::string>());
        }
        ml::check_tie_breakers(p.tie_breakers, "params.tie_breakers");
    }
    p.bootstrap_seed = ctx.seed;
    if (const Json* v = get_path(params, "bootstrap.resamples"); v && !v->is_null()) {
        if (!v->is_number_integer() || v->get<std::int64_t>() < 0 || v->get<std::int64_t>() > 1000000) {
            throw UsageError("params.bootstrap.resamples: expected a whole number in 0..1000000 (0 = no intervals), "
                             "found "
                             + v->dump());
        }
        p.resamples = v->get<int>();
    }
    if (const Json* v = get_path(params, "bootstrap.seed"); v && !v->is_null()) {
        if (!v->is_number_integer() || v->get<std::int64_t>() < 0) {
            throw UsageError("params.bootstrap.seed: expected a whole number >= 0, found " + v->dump());
        }
        p.bootstrap_seed = v->get<std::uint64_t>();
    }
    return p;
}

std::string model_kind(const Task& t)
{
    if (const Json* v = get_path(t.values, "model_kind"); v && v->is_string()) {
        return v->get<std::string>();
    }
    if (const Json* v = get_path(t.params, "model.kind"); v && v->is_string()) {
        return v->get<std::string>();
    }
    return "";
}

ml::ModelResult to_result(const Task& t)
{
    ml::ModelResult r;
    r.task_id = t.id;
    r.name = !t.step.empty() ? t.step : !t.name.empty() ? t.name : t.id;
    r.kind = model_kind(t);
    r.status = std::string(to_string(t.status));
    r.error = t.error;
    r.error_class = t.error_class;
    r.values = t.values;
    return r;
}

// Best effort: the preprocess task and data behind a model. Missing pieces stay absent.
Json model_lineage(const TaskContext& ctx, const Task& training)
{
    Json lineage = Json::object();
    lineage["params"] = training.params;
    const std::vector<std::string> ids = input_ids_of(training);
    for (const std::string& id : ids) {
        Task input;
        try {
            input = ctx.inputs().get_task(id);
        } catch (const std::exception& e) {
            if (ctx.log) {
                ctx.log("lineage: cannot read input task " + id + " of " + training.id + ": " + e.what());
            }
            continue;
        }
        if (input.kind != "preprocess") {
            continue;
        }
        lineage["preprocess_task"] = input.id;
        if (const Json* v = get_path(input.params, "data.dataset_id"); v && v->is_string()) {
            lineage["dataset_id"] = *v;
        }
        if (const Json* v = get_path(input.params, "data.path"); v && v->is_string()) {
            lineage["data_path"] = *v;
        }
        break;
    }
    return lineage;
}

// The labelled rows of a predictions file: labels and probabilities.
struct Labelled {
    std::vector<std::string> ids;
    std::vector<int> y;
    ml::Matrix proba;
};

Labelled labelled_rows(const ml::Predictions& p)
{
    Labelled out;
    std::vector<size_t> rows;
    for (size_t r = 0; r < p.label.size(); ++r) {
        if (p.label[r] >= 0) {
            rows.push_back(r);
        }
    }
    out.proba = ml::Matrix(static_cast<std::int64_t>(rows.size()), p.proba.cols);
    for (size_t i = 0; i < rows.size(); ++i) {
        out.ids.push_back(rows[i] < p.ids.size() ? p.ids[rows[i]] : std::to_string(rows[i]));
        out.y.push_back(p.label[rows[i]]);
        for (std::int64_t c = 0; c < p.proba.cols; ++c) {
            out.proba.at(static_cast<std::int64_t>(i), c) = p.proba.at(static_cast<std::int64_t>(rows[i]), c);
        }
    }
    return out;
}

// Seeded percentile intervals of every model's test primary metric and the paired bootstrap
// of each against rank 1 (same resampled rows: pairs only where the test rows are the same).
std::vector<ml::TestUncertainty> test_uncertainty(const ml::Leaderboard& board,
                                                  const std::vector<std::optional<ml::Predictions>>& predictions,
                                                  int resamples, std::uint64_t seed, std::vector<std::string>& notes)
{
    std::vector<ml::TestUncertainty> out;
    if (resamples <= 0 || predictions.empty()) {
        return out;
    }
    const bool lower = ml::lower_is_better(board.primary_metric);
    std::optional<Labelled> best;
    std::vector<double> best_replicates;
    for (size_t i = 0; i < predictions.size(); ++i) {
        if (!predictions[i] || !predictions[i]->has_labels()) {
            continue;
        }
        const Labelled rows = labelled_rows(*predictions[i]);
        const auto samples = ml::bootstrap_samples(rows.y.size(), resamples, seed);
        std::vector<double> replicates;
        try {
            replicates = ml::bootstrap_replicates(board.primary_metric, rows.y, rows.proba, samples);
        } catch (const std::exception& e) {
            notes.push_back("bootstrap skipped for " + board.rows[i].at("model").get<std::string>() + ": " + e.what());
            continue;
        }
        const ml::Interval ci = ml::percentile_interval(replicates);
        ml::TestUncertainty u;
        u.task_id = board.rows[i].at("task_id").get<std::string>();
        u.low = ci.low;
        u.high = ci.high;
        u.resamples = ci.used;
        if (i == 0) {
            best = rows;
            best_replicates = replicates;
        } else if (best && best->ids == rows.ids && best->y == rows.y) {
            const ml::Interval d = ml::percentile_interval(ml::paired_differences(best_replicates, replicates, lower));
            u.paired = d.used > 0;
            u.diff_low = d.low;
            u.diff_high = d.high;
            u.paired_resamples = d.used;
        } else if (best) {
            notes.push_back("no paired bootstrap for " + board.rows[i].at("model").get<std::string>()
                            + ": its test rows differ from the recommended model's");
        }
        out.push_back(u);
    }
    return out;
}

std::string failures_text(const Json& errors)
{
    std::string text;
    for (const Json& e : errors) {
        text += (text.empty() ? "" : "; ") + e.value("model", std::string()) + ": " + e.value("error", std::string());
    }
    return text;
}

} // namespace

void run_summary(TaskContext& ctx)
{
    const SummaryParams params = read_params(ctx);
    auto log = [&](const std::string& line) {
        if (ctx.log) {
            ctx.log(line);
        }
    };

    std::vector<Task> trainings = input_tasks(ctx, "train_model");
    if (trainings.empty()) {
        throw UsageError("task " + ctx.task.id
                         + ": no train_model input tasks in params.inputs; set them with "
                           "--set inputs.<step>=<task id>");
    }
    std::vector<ml::ModelResult> results;
    for (const Task& t : trainings) {
        results.push_back(to_result(t));
    }
    ml::Leaderboard board = ml::build_leaderboard(results, params.primary_metric, params.tie_breakers);
    const size_t ranked = board.rows.size();
    const size_t failed = board.error_models.size();

    const fs::path dir = ctx.work_dir;
    fs::create_directories(dir / "plots");
    std::vector<std::string> notes;

    // ROC curves and the best model's predictions, from each ranked model's test predictions.
    std::vector<ml::RocSeries> curves;
    std::vector<ml::ReliabilitySeries> reliability;
    std::vector<std::optional<ml::Predictions>> all_predictions(ranked);
    std::optional<ml::Predictions> best_predictions;
    bool multi_class = false;
    for (size_t i = 0; i < ranked; ++i) {
        const Json& row = board.rows[i];
        const std::string task_id = row.at("task_id").get<std::string>();
        const std::string name = row.at("model").get<std::string>();
        if (ctx.progress) {
            ctx.progress("predictions", static_cast<int>(i), static_cast<int>(ranked));
        }
        ml::Predictions predictions;
        try {
            predictions = ml::read_predictions_csv(ctx.inputs().fetch_artifact(task_id, "predictions_test.csv"));
        } catch (const std::exception& e) {
            // A model without readable predictions keeps its rank; only its curve is missing.
            notes.push_back("ROC skipped for " + name + ": " + e.what());
            log(notes.back());
            continue;
        }
        multi_class = multi_class || predictions.class_names.size() > 2;
        if (std::optional<ml::RocSeries> s = ml::roc_series(name, predictions)) {
            curves.push_back(std::move(*s));
        } else {
            notes.push_back("ROC skipped for " + name + ": predictions_test.csv has no labels of both kinds");
            log(notes.back());
        }
        if (predictions.has_labels()) {
            const Labelled rows = labelled_rows(predictions);
            reliability.push_back(
                {name, ml::reliability_bins(rows.y, rows.proba), ml::expected_calibration_error(rows.y, rows.proba)});
        }
        all_predictions[i] = predictions;
        if (i == 0) {
            best_predictions = std::move(predictions);
        }
    }

    // Error bars on the test figures; they never change the ranking (made on validation).
    if (ranked > 0 && params.resamples > 0) {
        const std::vector<ml::TestUncertainty> figures = test_uncertainty(board, all_predictions, params.resamples,
                                                                          params.bootstrap_seed, notes);
        ml::set_test_uncertainty(board, figures,
                                 Json{{"method", "percentile"},
                                      {"resamples", params.resamples},
                                      {"seed", params.bootstrap_seed},
                                      {"level", ml::k_bootstrap_level},
                                      {"metric", params.primary_metric},
                                      {"split", "test"},
                                      {"paired_against", board.rows[0].at("model")}});
    }
    const Json board_json = board.to_json();

    std::vector<std::string> plot_names;
    if (ranked > 0) {
        ml::plot_leaderboard_bars(board_json, dir / "plots" / "leaderboard.png");
        plot_names.push_back("plots/leaderboard.png");
        ml::plot_roc_curves(curves, multi_class ? "multi-class: one-vs-rest micro average" : "",
                            dir / "plots" / "roc.png");
        plot_names.push_back("plots/roc.png");
        ml::plot_reliability(reliability, dir / "plots" / "reliability.png");
        plot_names.push_back("plots/reliability.png");

        const Json& best = board.rows[0];
        const std::string title = "Confusion matrix: " + best.at("model").get<std::string>();
        std::vector<std::vector<long>> counts;
        std::vector<std::string> class_names;
        if (best_predictions && best_predictions->has_labels()) {
            std::vector<int> y_true;
            std::vector<int> y_pred;
            for (size_t r = 0; r < best_predictions->label.size(); ++r) {
                if (best_predictions->label[r] >= 0) {
                    y_true.push_back(best_predictions->label[r]);
                    y_pred.push_back(best_predictions->predicted[r]);
                }
            }
            class_names = best_predictions->class_names;
            counts = ml::confusion_matrix(y_true, y_pred, static_cast<int>(class_names.size()));
        } else {
            // No predictions file: the matrix train_model reported, with class indices as names.
            const Task& t = *std::find_if(trainings.begin(), trainings.end(),
                                          [&](const Task& x) { return x.id == best.at("task_id").get<std::string>(); });
            const Json* cm = get_path(t.values, "test.confusion_matrix");
            if (cm && cm->is_array()) {
                try {
                    counts = cm->get<std::vector<std::vector<long>>>();
                } catch (const Json::exception&) {
                    counts.clear();
                }
            }
        }
        if (!counts.empty()) {
            ml::plot_confusion_matrix(counts, class_names, title, dir / "plots" / "confusion_matrix.png");
            plot_names.push_back("plots/confusion_matrix.png");
        } else {
            notes.push_back("confusion matrix skipped: no labelled predictions for "
                            + best.at("model").get<std::string>());
            log(notes.back());
        }
    }

    ml::write_leaderboard_files(board, dir);
    ml::ReportInput report;
    report.title = "Model summary" + (ctx.task.project.empty() ? std::string() : ": " + ctx.task.project);
    if (!ctx.task.run_id.empty()) {
        report.facts.push_back("pipeline run " + ctx.task.run_id);
    }
    report.facts.push_back("summary task " + ctx.task.id + ", " + format_time_ms(now_ms()));
    report.facts.push_back(std::to_string(ranked) + " ranked, " + std::to_string(failed) + " failed, primary metric "
                           + params.primary_metric + ", policy " + (params.strict ? "strict" : "partial"));
    report.facts.push_back(board_json.value("selection_note", std::string()));
    if (board.positive_class.is_string()) {
        report.facts.push_back("positive class '" + board.positive_class.get<std::string>()
                               + "' (precision, recall, F1 and PR AUC are computed for it)");
    }
    report.leaderboard = board_json;
    report.plots = {{"Leaderboard", dir / "plots" / "leaderboard.png"},
                    {"ROC curves", dir / "plots" / "roc.png"},
                    {"Reliability diagram (calibration)", dir / "plots" / "reliability.png"},
                    {"Confusion matrix of the recommended model", dir / "plots" / "confusion_matrix.png"}};
    report.notes = notes;
    ml::write_report_html(report, dir / "report.html");

    for (const char* name : {"leaderboard.json", "leaderboard.csv", "recommended_model.json", "error_models.json"}) {
        ctx.report().log_artifact(name, dir / name);
    }
    for (const std::string& name : plot_names) {
        ctx.report().log_artifact(name, dir / name);
    }
    ctx.report().log_artifact("report.html", dir / "report.html");

    ctx.report().log_value("primary_metric", params.primary_metric);
    ctx.report().log_value("models_ranked", ranked);
    ctx.report().log_value("models_failed", failed);
    // best_score: the recommended model's test figure (what it is reported at); best_selection_score:
    // the validation (or cv mean) value it was chosen on.
    ctx.report().log_value("best_score", ranked > 0 ? board.rows[0].at("test_score") : Json(nullptr));
    ctx.report().log_value("best_selection_score", ranked > 0 ? board.rows[0].at("score") : Json(nullptr));
    ctx.report().log_value("selection", board_json.at("selection"));
    ctx.report().log_value("recommended", board.recommended);

    const std::string table = ml::format_leaderboard_table(board_json);
    size_t start = 0;
    while (start < table.size()) {
        size_t end = table.find('\n', start);
        log(table.substr(start, end == std::string::npos ? std::string::npos : end - start));
        start = end == std::string::npos ? table.size() : end + 1;
    }

    if (ranked == 0) {
        throw TaskFailed("no model completed: " + failures_text(board.error_models));
    }
    if (params.strict && failed > 0) {
        throw TaskFailed("policy strict: " + std::to_string(failed) + " of " + std::to_string(ranked + failed)
                         + " models failed: " + failures_text(board.error_models));
    }

    if (params.register_model) {
        const Json& best = board.rows[0];
        const std::string best_id = best.at("task_id").get<std::string>();
        const Task& training = *std::find_if(trainings.begin(), trainings.end(),
                                             [&](const Task& t) { return t.id == best_id; });
        ModelRecord record;
        record.name = params.model_name;
        record.task_id = best_id;
        record.run_id = !training.run_id.empty() ? training.run_id : ctx.task.run_id;
        record.source_task = ctx.task.id;
        record.kind = best.at("kind").get<std::string>();
        record.artifact = "model";
        record.metrics = best.at("test");
        record.tags = {"recommended"};
        if (std::find(ctx.task.tags.begin(), ctx.task.tags.end(), "smoke") != ctx.task.tags.end()) {
            record.tags.push_back("smoke"); // `model list` hides it; `NAME` alone never means it if another exists
        }
        record.lineage = model_lineage(ctx, training);
        record.created_ms = now_ms();
        record.reason = board.recommended.at("reason").get<std::string>();
        const ModelRecord stored = ctx.report().register_model(record);
        ctx.report().log_value("registered_model", Json{{"name", stored.name}, {"version", stored.version}});
        log("registered " + stored.name + " version " + std::to_string(stored.version) + " (task " + best_id + ")");
    }
}

} // namespace mlrun::kinds
