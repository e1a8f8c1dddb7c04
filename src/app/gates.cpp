#include "app/gates.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "ml/metrics.hpp"

#include <algorithm>

#include <cmath>
#include <cstdio>

namespace mlrun {

namespace {

std::string num(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", v);
    return buf;
}

// The leaderboard row of the recommended model, or null.
const Json* recommended_row(const Json& lb)
{
    if (!lb.is_object() || !lb.contains("recommended") || !lb["recommended"].is_object()) {
        return nullptr;
    }
    std::string id = lb["recommended"].value("task_id", "");
    if (!lb.contains("models") || !lb["models"].is_array()) {
        return nullptr;
    }
    for (const Json& row : lb["models"]) { // a reference into lb: the pointer returned stays valid
        if (row.value("task_id", "") == id) {
            return &row;
        }
    }
    return nullptr;
}

GateResult check_one(const Gate& g, const Json& row)
{
    GateResult r;
    std::string model = row.value("model", "?");
    r.name = g.text + " (" + model + ")";
    const Json* v = row.contains("test") ? &row["test"] : nullptr;
    if (!v || !v->contains(g.metric) || !(*v)[g.metric].is_number()) {
        r.message = "metric " + g.metric + " is not reported for " + model;
        return r;
    }
    double value = (*v)[g.metric].get<double>();
    r.passed = gate_passes(g, value);
    r.message = g.metric + " " + num(value) + (r.passed ? " satisfies " : " misses ") + g.op + " " + num(g.bound)
                + " for " + model;
    return r;
}

void check_metric(const std::string& metric, const std::string& what)
{
    const std::vector<std::string>& names = gate_metric_names();
    if (std::find(names.begin(), names.end(), metric) != names.end()) {
        return;
    }
    std::string known;
    for (const std::string& n : names) {
        known += (known.empty() ? "" : ", ") + n;
    }
    const std::string near = nearest(metric, names);
    throw UsageError(what + ": unknown metric \"" + metric + "\""
                     + (near.empty() ? "" : " (did you mean " + near + "?)") + "; known: " + known);
}

} // namespace

const std::vector<std::string>& gate_metric_names()
{
    static const std::vector<std::string> names = {"accuracy", "precision", "recall",   "f1",
                                                   "roc_auc",  "pr_auc",    "log_loss", "rows"};
    return names;
}

void check_gate_metrics(const std::vector<Gate>& gates, const std::string& where)
{
    for (const Gate& g : gates) {
        check_metric(g.metric, where + "gate \"" + g.text + "\"");
    }
}

void check_drop_metrics(const std::map<std::string, double>& max_drop)
{
    for (const auto& [metric, amount] : max_drop) {
        check_metric(metric, "--max-drop " + metric);
    }
}

std::vector<GateResult> check_gates(const Json& leaderboard, const std::vector<Gate>& gates, bool each_model)
{
    std::vector<GateResult> out;
    for (const Gate& g : gates) {
        if (each_model) {
            const Json rows = leaderboard.is_object() ? leaderboard.value("models", Json::array()) : Json::array();
            if (rows.empty()) {
                out.push_back({g.text, false, "no model was ranked, so no model passes " + g.text});
            }
            for (const Json& row : rows) {
                out.push_back(check_one(g, row));
            }
            continue;
        }
        const Json* row = recommended_row(leaderboard);
        if (!row) {
            out.push_back(
                {g.text, false, "no recommended model (the summary did not complete), so " + g.text + " fails"});
        } else {
            out.push_back(check_one(g, *row));
        }
    }
    return out;
}

std::pair<std::string, double> parse_max_drop(const std::string& text)
{
    size_t eq = text.find('=');
    if (eq != std::string::npos && eq > 0) {
        try {
            size_t used = 0;
            std::string number = text.substr(eq + 1);
            double v = std::stod(number, &used);
            if (used == number.size() && v >= 0) {
                return {text.substr(0, eq), v};
            }
        } catch (const std::exception&) {
        }
    }
    throw UsageError("--max-drop \"" + text + "\": expected METRIC=AMOUNT with AMOUNT >= 0, e.g. roc_auc=0.02");
}

std::vector<GateResult> check_baseline(const Json& current, const Json& baseline, const std::string& baseline_run,
                                       const std::map<std::string, double>& max_drop)
{
    std::vector<GateResult> out;
    const Json* now = recommended_row(current);
    const Json* before = recommended_row(baseline);
    for (const auto& [metric, allowed] : max_drop) {
        GateResult r;
        // A registry baseline is named NAME@ALIAS (app/sync.hpp), a run by its id.
        const bool model = baseline_run.find('@') != std::string::npos;
        r.name = "baseline " + metric + " drop <= " + num(allowed) + (model ? " (vs model " : " (vs run ")
                 + baseline_run + ")";
        if (!now || !before) {
            r.message = std::string("no recommended model in the ")
                        + (!now ? "current run" : "baseline run " + baseline_run);
            out.push_back(r);
            continue;
        }
        const Json a = now->value("test", Json::object());
        const Json b = before->value("test", Json::object());
        if (!a.contains(metric) || !b.contains(metric) || !a[metric].is_number() || !b[metric].is_number()) {
            r.message = "metric " + metric + " is missing in the current or the baseline run";
            out.push_back(r);
            continue;
        }
        double va = a[metric].get<double>();
        double vb = b[metric].get<double>();
        double drop = ml::lower_is_better(metric) ? va - vb : vb - va;
        r.passed = drop <= allowed + 1e-12;
        r.message = metric + " " + num(va) + " vs baseline " + num(vb) + " (" + (drop > 0 ? "worse" : "not worse")
                    + " by " + num(std::fabs(drop)) + ", allowed " + num(allowed) + ")";
        out.push_back(r);
    }
    return out;
}

} // namespace mlrun
