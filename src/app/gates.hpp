#pragma once
// Quality gates for CI (issue: CI smoke runs): bounds on the recommended model's (or every
// model's) test metrics, and drops against a baseline run's recommended model.
#include "engine/pipeline_spec.hpp"

#include <map>
#include <string>
#include <vector>

namespace mlrun {

struct GateResult {
    std::string name; // "roc_auc>=0.8 (train::mlp)", "baseline roc_auc drop <= 0.02"
    bool passed = false;
    std::string message; // "roc_auc 0.7812 < 0.8 for train::mlp"
};

// The metrics a model's test row reports (ml::all_metrics less the confusion matrix; `rows` is the test rows): the
// names a gate or --max-drop may bound.
const std::vector<std::string>& gate_metric_names();
// Refuses (UsageError, before anything runs) a gate on a metric no model reports:
// "<where>gate \"roc_aux>=0.8\": unknown metric \"roc_aux\" (did you mean roc_auc?); known: ...".
void check_gate_metrics(const std::vector<Gate>& gates, const std::string& where = "");
// The same for --max-drop's metrics.
void check_drop_metrics(const std::map<std::string, double>& max_drop);

// leaderboard: the content of leaderboard.json; null when the run has none (every gate fails).
std::vector<GateResult> check_gates(const Json& leaderboard, const std::vector<Gate>& gates, bool each_model);
// "roc_auc=0.02" -> {roc_auc: 0.02}; UsageError with the expected form otherwise.
std::pair<std::string, double> parse_max_drop(const std::string& text);
// The recommended model of `current` against that of `baseline`: a metric may fall by at
// most its allowed drop (rise, for lower-is-better metrics such as log_loss).
std::vector<GateResult> check_baseline(const Json& current, const Json& baseline, const std::string& baseline_run,
                                       const std::map<std::string, double>& max_drop);

} // namespace mlrun
