#pragma once
// The summary's leaderboard (DESIGN §4): ranks the models of a run by a primary metric,
// picks the recommended one with a written reason, and lists the models that failed.
// Plain C++ + nlohmann/json (no torch), so the CLI and the engine can print it too.
#include <nlohmann/json.hpp>

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
    // The task's single values: test, valid (metric objects), train_time_s,
    // latency_ms_per_row, model_size_bytes, positive_class (binary tasks).
    nlohmann::json values = nlohmann::json::object();
};

// The built leaderboard. rows are ranked objects:
//   {rank, model, kind, task_id, primary_metric, score, positive_class, test:{metrics},
//    valid:{metrics}, train_time_s, latency_ms_per_row, model_size_bytes}   (missing numbers
//    are null)
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

    // The content of leaderboard.json: {primary_metric, higher_is_better, tie_breakers,
    // tie_tolerance, positive_class, models: rows, recommended, error_models}.
    nlohmann::json to_json() const;
};

// The metric names a leaderboard can rank by.
const std::vector<std::string>& rankable_metrics();

// Two primary scores closer than this (absolute) are a tie, decided by the tie breakers.
constexpr double k_tie_tolerance = 1e-9;
// The default tie breakers: log_loss (test), then latency, then size.
const std::vector<std::string>& default_tie_breakers();
// Names a tie breaker may take: any rankable metric (its test value, in that metric's own
// direction), latency (ms/row), size (bytes), train_time (s); the last three lower is better.
const std::vector<std::string>& tie_breaker_names();
// UsageError, prefixed by `where`, naming the known tie breakers (with a did-you-mean) when
// one of `names` is unknown or repeated.
void check_tie_breakers(const std::vector<std::string>& names, const std::string& where = "params.tie_breakers");

// Ranks completed models by primary_metric (descending; ascending for lower-is-better
// metrics like log_loss). Models whose scores are within k_tie_tolerance of the best of their
// group are tied: they are ordered by the tie breakers in turn (a missing value is worst),
// then by task id. The recommendation's reason names every model tied with the winner and
// the tie breaker that decided against each. Models that did not complete, or lack a finite
// primary metric, go to error_models. Throws UsageError for a primary metric that is not in
// rankable_metrics() or a bad tie breaker.
Leaderboard build_leaderboard(const std::vector<ModelResult>& results, const std::string& primary_metric,
                              const std::vector<std::string>& tie_breakers = default_tie_breakers());

// leaderboard.csv: rank, model, kind, task_id, the test metrics (primary first), the valid
// primary metric, train_time_s, latency_ms_per_row, model_size_bytes.
std::string leaderboard_csv(const Leaderboard& board);

// Writes leaderboard.json, leaderboard.csv, recommended_model.json and error_models.json
// into dir, each atomically. Throws std::runtime_error naming the file on I/O failure.
void write_leaderboard_files(const Leaderboard& board, const std::filesystem::path& dir);

// The leaderboard as a fixed-width text table for a terminal, one model per line, metric
// values with 4 decimals, followed by the recommendation and the failed models. Accepts
// the content of leaderboard.json (or a bare array of its rows).
std::string format_leaderboard_table(const nlohmann::json& leaderboard);

} // namespace mlrun::ml
