#pragma once
// The summary's leaderboard (DESIGN §4): ranks the models of a run by a primary metric,
// picks the recommended one with a written reason, and lists the models that failed.
// Plain C++ + nlohmann/json (no torch), so the CLI and the engine can print it too.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace mlrun::ml {

// What the summary knows of one training task.
struct ModelResult {
    std::string task_id;
    std::string name;        // the pipeline step ("train::mlp") or the task name
    std::string kind;        // model kind (mlp, logreg, ...)
    std::string status;      // task status text: completed, failed, aborted, ...
    std::string error;       // the task's error message, when it failed
    std::string error_class; // the task's error class
    // The task's single values: test, valid (metric objects), cv (cross-validation: mean,
    // std, folds), train_time_s, latency_ms_per_row, model_size_bytes, positive_class.
    nlohmann::json values = nlohmann::json::object();
};

// The built leaderboard. Models are chosen on data the test split never touches: score is
// the validation value of the primary metric, or the cross-validation mean when the model
// ran split.cv (selection "cv", score_std its std); test metrics are reported beside it and
// never used to rank or break ties. rows are ranked objects:
//   {rank, model, kind, task_id, primary_metric, selection: "valid"|"cv", score, score_std,
//    test_score, selection_metrics:{the metrics tie breakers read}, positive_class,
//    test:{metrics}, valid:{metrics}, cv:{k, mean, std} or null, train_time_s,
//    latency_ms_per_row, model_size_bytes, test_ci, vs_best}   (missing numbers are null;
//    test_ci and vs_best are set by set_test_uncertainty, else null)
// recommended is rank 1 as {task_id, name, kind, metric, value, positive_class, tie, reason},
// tie being null or {models: [the tied names, winner first], decided_by: {rival: tie breaker
// or "task id"}}; recommended is null when no model could be ranked. error_models: {task_id, model, kind, status,
// error, error_class}.
struct Leaderboard {
    std::string primary_metric;
    std::vector<std::string> tie_breakers; // as used, in order
    nlohmann::json positive_class;         // the binary positive class the models agree on, or null
    nlohmann::json rows = nlohmann::json::array();
    nlohmann::json recommended; // null when no model ranked
    nlohmann::json error_models = nlohmann::json::array();
    // {method: "percentile", resamples, seed, level, metric, paired_against} once
    // set_test_uncertainty ran; null before.
    nlohmann::json bootstrap;

    // The content of leaderboard.json: {primary_metric, higher_is_better, selection ("valid",
    // "cv" or "mixed"), selection_note, tie_breakers, tie_tolerance, positive_class, bootstrap,
    // models: rows, recommended, error_models}.
    nlohmann::json to_json() const;
};

// The metric names a leaderboard can rank by.
const std::vector<std::string>& rankable_metrics();

// Two primary scores closer than this (absolute) are a tie, decided by the tie breakers.
constexpr double k_tie_tolerance = 1e-9;
// The default tie breakers: log_loss (validation, or cross-validation mean), then latency,
// then size.
const std::vector<std::string>& default_tie_breakers();
// Names a tie breaker may take: any rankable metric (its selection value: validation or
// cross-validation mean, in that metric's own direction), latency (ms/row), size (bytes),
// train_time (s); the last three lower is better.
const std::vector<std::string>& tie_breaker_names();
// UsageError, prefixed by `where`, naming the known tie breakers (with a did-you-mean) when
// one of `names` is unknown or repeated.
void check_tie_breakers(const std::vector<std::string>& names, const std::string& where = "params.tie_breakers");

// Ranks completed models by their selection score of primary_metric (validation value or
// cross-validation mean; descending, ascending for lower-is-better metrics like log_loss).
// Models whose scores are within k_tie_tolerance of the best of their group are tied: they
// are ordered by the tie breakers in turn (a missing value is worst), then by task id. The
// recommendation's reason names every model tied with the winner and the tie breaker that
// decided against each. Models that did not complete, or lack a finite validation (or cv)
// or test value of the primary metric, go to error_models. Throws UsageError for a primary
// metric that is not in rankable_metrics() or a bad tie breaker.
Leaderboard build_leaderboard(const std::vector<ModelResult>& results, const std::string& primary_metric,
                              const std::vector<std::string>& tie_breakers = default_tie_breakers());

// The bootstrap figures of one ranked model's test primary metric (ml/bootstrap.hpp).
struct TestUncertainty {
    std::string task_id;
    double low = 0; // percentile interval of the test metric
    double high = 0;
    int resamples = 0;   // finite replicates behind it
    bool paired = false; // a paired comparison with the recommended model was made
    double diff_low = 0; // interval of (recommended - this), oriented so > 0 = recommended better
    double diff_high = 0;
    int paired_resamples = 0;
};
// Adds test_ci and vs_best to the rows named in `figures` ({low, high, level, resamples} and
// {difference_low, difference_high, distinguishable, resamples}; distinguishable = the
// difference interval excludes 0), board.bootstrap = `info`, and to the recommendation
// not_distinguishable: [the models whose interval contains 0] plus a sentence in its reason.
void set_test_uncertainty(Leaderboard& board, const std::vector<TestUncertainty>& figures, const nlohmann::json& info);

// leaderboard.csv: rank, model, kind, task_id, the test metrics (primary first), the valid
// primary metric, train_time_s, latency_ms_per_row, model_size_bytes, selection,
// selection_score, selection_std, test_ci_low, test_ci_high, distinguishable_from_best.
std::string leaderboard_csv(const Leaderboard& board);

// Writes leaderboard.json, leaderboard.csv, recommended_model.json and error_models.json
// into dir, each atomically. Throws std::runtime_error naming the file on I/O failure.
void write_leaderboard_files(const Leaderboard& board, const std::filesystem::path& dir);

// The leaderboard as a fixed-width text table for a terminal, one model per line: the
// selection score (marked *; "± std" for cross-validation), the test metrics with 4
// decimals, the bootstrap interval and "vs best" when present; then a header line saying
// what ranked the models, the recommendation and the failed models. Accepts
// the content of leaderboard.json (or a bare array of its rows).
// width 0: every column. Otherwise every line fits `width` characters: rank, model and
// kind (cut to fit, down to 8 and 6), the test primary metric (still the 4th field) and the
// selection score always; then log loss, the test interval, vs best, task id, the other
// metrics, train time, latency and size while they fit; a line "N columns hidden (...):
// --wide shows all"; the notes wrapped.
std::string format_leaderboard_table(const nlohmann::json& leaderboard, std::size_t width = 0);

} // namespace mlrun::ml
