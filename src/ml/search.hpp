#pragma once
// Hyper-parameter search (random / grid) over task params, run in-process: a trial is a
// model fit on the training split scored on the validation split (never on test). Trials
// may run two at a time on threads; each model owns its random generator, so the result
// does not depend on the order in which trials finish.
//
// The search space is the `search` block of the task params, keys are dotted params:
//   search:
//     model.lr: [0.001, 0.01]                        # a list of values
//     model.batch_size: {min: 16, max: 128, int: true}
//     model.weight_decay: {min: 1e-6, max: 1e-2, log: true}
//   trials: 20          # (or search.trials) random: default 10; grid: all combinations
//   strategy: random    # (or search.strategy) random | grid
//   seed: 42            # samples the trials and seeds every fit
// Nested spellings (search: {model: {lr: [...]}}) mean the same.
#include "ml/matrix.hpp"
#include "ml/models/model.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace mlrun::ml {

// Metric names a model can be validated on: accuracy, precision, recall, f1, roc_auc,
// pr_auc, log_loss (ml/metrics.hpp; macro averages for multi-class).
const std::vector<std::string>& metric_names();
// UsageError naming the known metrics when `metric` is not one; `where` prefixes it.
void check_metric_name(const std::string& metric, const std::string& where = "primary_metric");
// The metric of probabilities `proba` (rows x classes) against labels y; NaN when undefined
// (one class present for roc_auc).
double metric_value(const std::string& metric, const std::vector<int>& y, const Matrix& proba);

struct SearchDim {
    std::string key;                    // dotted param key, "model.lr"
    std::vector<nlohmann::json> values; // a list of values, or empty for a range
    double min = 0;
    double max = 0;
    bool log = false;     // sample log-uniformly
    bool integer = false; // round to an integer
    bool is_range() const { return values.empty(); }
};

struct SearchSpec {
    std::vector<SearchDim> dims;
    int trials = 0;                  // 0 = default: grid all, random 10
    std::string strategy = "random"; // random | grid
    std::uint64_t seed = 0;
    int parallel = 0; // trials at a time; 0 = SearchOptions.parallel
    bool empty() const { return dims.empty(); }
};

// Reads params.search (+ trials, strategy, seed at top level or inside search). No search
// block, or an empty one, gives an empty spec. UsageError names the bad key.
SearchSpec parse_search(const nlohmann::json& params, std::uint64_t default_seed = 0);
// The assignments of every trial, in order: [{"model.lr": 0.01, "model.batch_size": 32}, ...].
std::vector<nlohmann::json> plan_trials(const SearchSpec& spec);

struct TrialResult {
    int index = 0;               // 0-based, in plan order
    nlohmann::json assignment;   // the searched values: {"model.lr": 0.01}
    nlohmann::json model_params; // model params as used (defaults filled in)
    double valid_metric = std::numeric_limits<double>::quiet_NaN();
    double train_time_s = 0;
    std::string error; // non-empty when the trial failed
    bool ok() const { return error.empty(); }
    // {"trial", "params", "valid_metric" (null when NaN), "train_time_s", "error"?}
    nlohmann::json to_json() const;
};

struct SearchOptions {
    std::string metric = "roc_auc"; // validation metric that picks the best trial
    int parallel = 1;               // trials at a time (threads), when the spec says 0
    int threads = 1;                // informational, passed to FitOptions
    const std::atomic<bool>* cancel = nullptr;
    // Called as each trial ends, one call at a time (under a lock), in completion order.
    // The engine uses it to record trials as child tasks.
    std::function<void(const TrialResult&)> on_trial;
};

struct SearchResult {
    std::vector<TrialResult> trials;   // in plan order
    int best = -1;                     // index of the best trial
    std::unique_ptr<Model> best_model; // that trial's fitted model (kept, not retrained)
};

// Runs every planned trial: params with the trial's assignment applied, model.kind and
// model.* from them, seed from params.seed (else spec.seed). The best trial is the best
// validation metric (ties: lower index). Failed trials are recorded with their error; when
// every trial fails the first error is rethrown. Aborted (cancel) stops the search.
SearchResult run_search(const SearchSpec& spec, const nlohmann::json& params, const LabeledSet& train,
                        const LabeledSet& valid, const SearchOptions& options);

} // namespace mlrun::ml
