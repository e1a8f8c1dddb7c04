#include "ml/leaderboard.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "ml/io/csv.hpp"
#include "ml/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <set>

namespace mlrun::ml {

using nlohmann::json;

namespace {

// A finite number at obj[key], or nothing (absent, null, NaN written as null, text).
std::optional<double> number_at(const json& obj, const std::string& key)
{
    if (!obj.is_object()) {
        return std::nullopt;
    }
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_number()) {
        return std::nullopt;
    }
    double v = it->get<double>();
    if (!std::isfinite(v)) {
        return std::nullopt;
    }
    return v;
}

json number_or_null(const std::optional<double>& v)
{
    return v ? json(*v) : json(nullptr);
}

std::string fixed(double v, int decimals)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string number_text(const json& v, int decimals)
{
    return v.is_number() ? fixed(v.get<double>(), decimals) : std::string("-");
}

// The test metric columns: the primary first, then the standard ones, then any others
// the models reported, each once. Non-numeric entries (confusion_matrix) are left out.
std::vector<std::string> metric_columns(const json& rows, const std::string& primary)
{
    std::vector<std::string> columns{primary};
    std::set<std::string> seen{primary};
    std::vector<std::string> standard = rankable_metrics();
    standard.push_back("ece"); // calibration error right after log loss
    for (const std::string& m : standard) {
        bool present = false;
        for (const json& row : rows) {
            const json& test = row.value("test", json::object());
            if (test.contains(m)) {
                present = true;
            }
        }
        if (present && seen.insert(m).second) {
            columns.push_back(m);
        }
    }
    std::set<std::string> extra;
    for (const json& row : rows) {
        const json& test = row.value("test", json::object());
        if (!test.is_object()) {
            continue;
        }
        for (const auto& [k, v] : test.items()) {
            // "rows" is the size of the test split, not a metric.
            if ((v.is_number() || v.is_null()) && !seen.count(k) && k != "rows") {
                extra.insert(k);
            }
        }
    }
    columns.insert(columns.end(), extra.begin(), extra.end());
    return columns;
}

std::string human_size(const json& bytes)
{
    if (!bytes.is_number()) {
        return "-";
    }
    double b = bytes.get<double>();
    const char* units[] = {"B", "KB", "MB", "GB"};
    int u = 0;
    while (b >= 1024.0 && u < 3) {
        b /= 1024.0;
        ++u;
    }
    return u == 0 ? fixed(b, 0) + " B" : fixed(b, 1) + " " + units[u];
}

std::string pad(std::string text, size_t width, bool right)
{
    if (text.size() > width) {
        // Long model names would break the columns: cut them, marking the cut.
        text = text.substr(0, width > 1 ? width - 1 : 0) + "~";
    }
    std::string fill(width - text.size(), ' ');
    return right ? fill + text : text + fill;
}

std::string quoted_name(const json& row)
{
    return "'" + row.value("model", std::string()) + "'";
}

// "'a'", "'a' and 'b'", "'a', 'b' and 'c'".
std::string name_list(const std::vector<std::string>& names)
{
    std::string out;
    for (size_t i = 0; i < names.size(); ++i) {
        out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
    }
    return out;
}

bool is_metric(const std::string& name)
{
    const auto& m = rankable_metrics();
    return std::find(m.begin(), m.end(), name) != m.end();
}

// The value a tie breaker reads from a leaderboard row (nullopt when absent).
std::optional<double> breaker_value(const json& row, const std::string& breaker)
{
    if (is_metric(breaker)) {
        // The selection value (validation or cross-validation mean): the test split never decides.
        return number_at(row.value("selection_metrics", json::object()), breaker);
    }
    const char* key = breaker == "latency" ? "latency_ms_per_row"
                      : breaker == "size"  ? "model_size_bytes"
                                           : "train_time_s";
    return number_at(row, key);
}

// Lower is better: higher-is-better metrics are negated; a missing value is the worst.
double breaker_cost(const json& row, const std::string& breaker)
{
    const std::optional<double> v = breaker_value(row, breaker);
    if (!v) {
        return std::numeric_limits<double>::infinity();
    }
    return is_metric(breaker) && !lower_is_better(breaker) ? -*v : *v;
}

// "lower log_loss (0.2300 vs 0.4000)", "smaller size (200 vs 500 bytes)", ...
std::string breaker_phrase(const std::string& breaker, const json& best, const json& rival)
{
    const std::optional<double> a = breaker_value(best, breaker);
    const std::optional<double> b = breaker_value(rival, breaker);
    const int decimals = breaker == "size" ? 0 : breaker == "train_time" ? 2 : 4;
    std::string ta = a ? fixed(*a, decimals) : "-";
    std::string tb = b ? fixed(*b, decimals) : "-";
    if (a && b && ta == tb) {
        // Different values that print alike: show enough digits to see the difference.
        char buf[2][64];
        std::snprintf(buf[0], sizeof buf[0], "%.10g", *a);
        std::snprintf(buf[1], sizeof buf[1], "%.10g", *b);
        ta = buf[0];
        tb = buf[1];
    }
    if (breaker == "latency") {
        return "lower latency (" + ta + " vs " + tb + " ms/row)";
    }
    if (breaker == "size") {
        return "smaller size (" + ta + " vs " + tb + " bytes)";
    }
    if (breaker == "train_time") {
        return "shorter training (" + ta + " vs " + tb + " s)";
    }
    return std::string(lower_is_better(breaker) ? "lower " : "higher ") + breaker + " (" + ta + " vs " + tb + ")";
}

// "log_loss, then latency, then size"
std::string breaker_list(const std::vector<std::string>& breakers)
{
    std::string out;
    for (const std::string& b : breakers) {
        out += (out.empty() ? "" : ", then ") + b;
    }
    return out.empty() ? "task id" : out;
}

// "on the validation split" or "on the 5-fold cross-validation mean (+- 0.0123)".
std::string selection_phrase(const json& row)
{
    if (row.value("selection", std::string()) == "cv") {
        const json cv = row.value("cv", json::object());
        return "on the " + std::to_string(cv.value("k", 0)) + "-fold cross-validation mean (+- "
               + number_text(row.value("score_std", json()), 4) + ")";
    }
    return "on the validation split";
}

// The metrics of a cross-validation block averaged over its folds (a metric missing or null
// in any fold is left out).
json cv_mean_metrics(const json& cv)
{
    json out = json::object();
    const json folds = cv.value("folds", json::array());
    if (!folds.is_array() || folds.empty()) {
        return out;
    }
    const json first = folds.at(0).value("metrics", json::object());
    for (const auto& [name, unused] : first.items()) {
        double sum = 0;
        bool all = true;
        for (const json& f : folds) {
            const std::optional<double> v = number_at(f.value("metrics", json::object()), name);
            if (!v) {
                all = false;
                break;
            }
            sum += *v;
        }
        if (all) {
            out[name] = sum / static_cast<double>(folds.size());
        }
    }
    return out;
}

// The leaderboard header's sentence on how models were chosen.
std::string selection_note(const std::string& primary, const std::string& selection)
{
    const std::string on = selection == "cv"      ? "the cross-validation mean (on train + valid)"
                           : selection == "mixed" ? "the cross-validation mean where run, else the validation split"
                                                  : "the validation split";
    return "ranked by " + primary + " on " + on
           + (lower_is_better(primary) ? " (lower is better)" : " (higher is better)")
           + "; test metrics are reported beside it, never used to choose";
}

// Why rank 1 won, in one line: the metric and, when others tied with it on the metric,
// every tied model with the tie breaker that decided against it. Fills `tie` with
// {models, decided_by: {model: breaker or "task id"}} when there was a tie.
std::string recommendation_reason(const json& rows, const std::string& primary, size_t failed,
                                  const std::vector<std::string>& breakers, size_t tied, json& tie)
{
    const json& best = rows.at(0);
    std::string reason = std::string(lower_is_better(primary) ? "lowest " : "highest ") + primary + " "
                         + fixed(best.at("score").get<double>(), 4) + " of " + std::to_string(rows.size())
                         + (rows.size() == 1 ? " model" : " models") + " " + selection_phrase(best) + " (test "
                         + number_text(best.value("test_score", json()), 4) + ")";
    if (failed > 0) {
        reason += " (" + std::to_string(failed) + " failed)";
    }
    char tolerance[32];
    std::snprintf(tolerance, sizeof tolerance, "%g", k_tie_tolerance);
    if (tied < 2) {
        return reason + "; ties (within " + tolerance + ") broken by " + breaker_list(breakers);
    }
    std::vector<std::string> names;
    std::vector<std::string> by_breaker;
    std::vector<std::string> by_id;
    json decided = json::object();
    for (size_t i = 1; i < tied; ++i) {
        const json& rival = rows.at(i);
        names.push_back(quoted_name(rival));
        std::string decider;
        for (const std::string& b : breakers) {
            if (breaker_cost(best, b) != breaker_cost(rival, b)) {
                decider = b;
                break;
            }
        }
        decided[rival.value("model", std::string())] = decider.empty() ? "task id" : decider;
        if (decider.empty()) {
            by_id.push_back(quoted_name(rival));
        } else {
            by_breaker.push_back("over " + quoted_name(rival) + " for " + breaker_phrase(decider, best, rival));
        }
    }
    std::vector<std::string> tied_names{best.value("model", std::string())};
    for (size_t i = 1; i < tied; ++i) {
        tied_names.push_back(rows.at(i).value("model", std::string()));
    }
    tie = json{{"models", tied_names}, {"decided_by", decided}};
    reason += "; tied on " + primary + " with " + name_list(names) + " (within " + tolerance + ")";
    std::string chosen;
    for (const std::string& part : by_breaker) {
        chosen += (chosen.empty() ? "chosen " : ", ") + part;
    }
    if (!by_id.empty()) {
        chosen += (chosen.empty() ? "" : "; ") + std::string("equal to ") + name_list(by_id) + " on "
                  + (breakers.empty() ? std::string("every tie breaker") : name_list(breakers)) + ", chosen by task id";
    }
    return reason + "; " + chosen;
}

} // namespace

const std::vector<std::string>& rankable_metrics()
{
    static const std::vector<std::string> metrics{"accuracy", "precision", "recall",  "f1",
                                                  "roc_auc",  "pr_auc",    "log_loss"};
    return metrics;
}

const std::vector<std::string>& default_tie_breakers()
{
    static const std::vector<std::string> breakers{"log_loss", "latency", "size"};
    return breakers;
}

const std::vector<std::string>& tie_breaker_names()
{
    static const std::vector<std::string> names = [] {
        std::vector<std::string> n = rankable_metrics();
        n.insert(n.end(), {"latency", "size", "train_time"});
        return n;
    }();
    return names;
}

void check_tie_breakers(const std::vector<std::string>& names, const std::string& where)
{
    const auto& known = tie_breaker_names();
    std::set<std::string> seen;
    for (const std::string& n : names) {
        if (std::find(known.begin(), known.end(), n) == known.end()) {
            std::string list;
            for (const std::string& k : known) {
                list += (list.empty() ? "" : ", ") + k;
            }
            const std::string hint = nearest(n, known);
            throw UsageError(where + ": unknown tie breaker '" + n + "' (expected some of " + list + ")"
                             + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
        }
        if (!seen.insert(n).second) {
            throw UsageError(where + ": tie breaker '" + n + "' is listed twice");
        }
    }
}

json Leaderboard::to_json() const
{
    std::set<std::string> kinds;
    for (const json& row : rows) {
        kinds.insert(row.value("selection", std::string("valid")));
    }
    const std::string selection = kinds.size() > 1 ? "mixed" : kinds.empty() ? "valid" : *kinds.begin();
    return json{{"primary_metric", primary_metric},
                {"higher_is_better", !lower_is_better(primary_metric)},
                {"selection", selection},
                {"selection_note", selection_note(primary_metric, selection)},
                {"tie_breakers", tie_breakers},
                {"tie_tolerance", k_tie_tolerance},
                {"positive_class", positive_class},
                {"bootstrap", bootstrap},
                {"models", rows},
                {"recommended", recommended},
                {"error_models", error_models}};
}

Leaderboard build_leaderboard(const std::vector<ModelResult>& results, const std::string& primary_metric,
                              const std::vector<std::string>& tie_breakers)
{
    const auto& known = rankable_metrics();
    if (std::find(known.begin(), known.end(), primary_metric) == known.end()) {
        std::string names;
        for (const std::string& m : known) {
            names += (names.empty() ? "" : ", ") + m;
        }
        std::string hint = nearest(primary_metric, known);
        throw UsageError("params.primary_metric: unknown metric '" + primary_metric + "' (expected one of " + names
                         + ")" + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
    }

    check_tie_breakers(tie_breakers);

    Leaderboard board;
    board.primary_metric = primary_metric;
    board.tie_breakers = tie_breakers;
    std::set<std::string> positives;
    for (const ModelResult& r : results) {
        auto fail = [&](const std::string& error, const std::string& error_class) {
            board.error_models.push_back(json{{"task_id", r.task_id},
                                              {"model", r.name},
                                              {"kind", r.kind},
                                              {"status", r.status},
                                              {"error", error},
                                              {"error_class", error_class}});
        };
        if (r.status != "completed" && r.status != "published") {
            std::string error = r.error.empty() ? "model did not complete (status " + r.status + ")" : r.error;
            std::string error_class = r.error_class.empty() ? (r.status == "aborted" ? "Aborted" : "TaskFailed")
                                                            : r.error_class;
            fail(error, error_class);
            continue;
        }
        const json test = r.values.value("test", json::object());
        std::optional<double> test_score = number_at(test, primary_metric);
        if (!test_score) {
            fail("no " + primary_metric + " in the test metrics (values.test." + primary_metric + " is "
                     + (test.is_object() && test.contains(primary_metric) ? "null" : "missing") + ")",
                 "MissingMetrics");
            continue;
        }
        // Chosen on the cross-validation mean when the model ran it, else on the validation split.
        const json cv = r.values.value("cv", json());
        const bool use_cv = cv.is_object() && cv.value("metric", std::string()) == primary_metric
                            && number_at(cv, "mean").has_value();
        const json valid_in = r.values.value("valid", json::object());
        std::optional<double> score = use_cv ? number_at(cv, "mean") : number_at(valid_in, primary_metric);
        if (!score) {
            fail("no " + primary_metric + " in the validation metrics (values.valid." + primary_metric + " is "
                     + (valid_in.is_object() && valid_in.contains(primary_metric) ? "null" : "missing")
                     + "): a model is chosen on validation, never on test",
                 "MissingMetrics");
            continue;
        }
        json test_metrics = json::object();
        if (test.is_object()) {
            for (const auto& [k, v] : test.items()) {
                if (v.is_number() || v.is_null()) { // the confusion matrix stays in the task
                    test_metrics[k] = v;
                }
            }
        }
        json valid_metrics = json::object();
        const json valid = r.values.value("valid", json::object());
        if (valid.is_object()) {
            for (const auto& [k, v] : valid.items()) {
                if (v.is_number() || v.is_null()) {
                    valid_metrics[k] = v;
                }
            }
        }
        const json positive = r.values.value("positive_class", json());
        if (positive.is_string()) {
            positives.insert(positive.get<std::string>());
        }
        board.rows.push_back(json{
            {"rank", 0},
            {"model", r.name},
            {"kind", r.kind},
            {"task_id", r.task_id},
            {"primary_metric", primary_metric},
            {"selection", use_cv ? "cv" : "valid"},
            {"score", *score},
            {"score_std", use_cv ? number_or_null(number_at(cv, "std")) : json(nullptr)},
            {"test_score", *test_score},
            {"selection_metrics", use_cv ? cv_mean_metrics(cv) : valid_metrics},
            {"positive_class", positive.is_string() ? positive : json(nullptr)},
            {"test", test_metrics},
            {"valid", valid_metrics},
            {"cv", use_cv
                       ? json{{"k", cv.value("k", 0)}, {"mean", *score}, {"std", number_or_null(number_at(cv, "std"))}}
                       : json(nullptr)},
            {"test_ci", nullptr},
            {"vs_best", nullptr},
            {"train_time_s", number_or_null(number_at(r.values, "train_time_s"))},
            {"latency_ms_per_row", number_or_null(number_at(r.values, "latency_ms_per_row"))},
            {"model_size_bytes", number_or_null(number_at(r.values, "model_size_bytes"))}});
    }

    if (positives.size() == 1) {
        board.positive_class = *positives.begin();
    }
    const bool lower = lower_is_better(primary_metric);
    std::vector<json> rows(board.rows.begin(), board.rows.end());
    // Exact order by score first; then each run of scores within the tolerance of its
    // group's best is one tie group, ordered by the tie breakers, then the task id.
    std::sort(rows.begin(), rows.end(), [&](const json& a, const json& b) {
        const double sa = a.at("score").get<double>();
        const double sb = b.at("score").get<double>();
        if (sa != sb) {
            return lower ? sa < sb : sa > sb;
        }
        return a.at("task_id").get<std::string>() < b.at("task_id").get<std::string>();
    });
    const auto by_breakers = [&](const json& a, const json& b) {
        for (const std::string& br : tie_breakers) {
            const double ca = breaker_cost(a, br);
            const double cb = breaker_cost(b, br);
            if (ca != cb) {
                return ca < cb;
            }
        }
        return a.at("task_id").get<std::string>() < b.at("task_id").get<std::string>();
    };
    size_t first_group = rows.empty() ? 0 : 1;
    for (size_t begin = 0; begin < rows.size();) {
        const double head = rows[begin].at("score").get<double>();
        size_t end = begin + 1;
        while (end < rows.size() && std::fabs(rows[end].at("score").get<double>() - head) <= k_tie_tolerance) {
            ++end;
        }
        std::sort(rows.begin() + static_cast<std::ptrdiff_t>(begin), rows.begin() + static_cast<std::ptrdiff_t>(end),
                  by_breakers);
        if (begin == 0) {
            first_group = end;
        }
        begin = end;
    }
    board.rows = json::array();
    for (size_t i = 0; i < rows.size(); ++i) {
        rows[i]["rank"] = static_cast<int>(i + 1);
        board.rows.push_back(std::move(rows[i]));
    }

    if (!board.rows.empty()) {
        const json& best = board.rows.at(0);
        json tie;
        const std::string reason = recommendation_reason(board.rows, primary_metric, board.error_models.size(),
                                                         tie_breakers, first_group, tie);
        board.recommended = json{{"task_id", best.at("task_id")},
                                 {"name", best.at("model")},
                                 {"kind", best.at("kind")},
                                 {"metric", primary_metric},
                                 {"value", best.at("score")},
                                 {"positive_class", board.positive_class},
                                 {"tie", tie},
                                 {"reason", reason}};
    }
    return board;
}

void set_test_uncertainty(Leaderboard& board, const std::vector<TestUncertainty>& figures, const json& info)
{
    board.bootstrap = info;
    std::vector<std::string> same;
    for (json& row : board.rows) {
        const std::string id = row.at("task_id").get<std::string>();
        const auto it = std::find_if(figures.begin(), figures.end(),
                                     [&](const TestUncertainty& f) { return f.task_id == id; });
        if (it == figures.end()) {
            continue;
        }
        const auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
        row["test_ci"] = json{{"low", num(it->low)},
                              {"high", num(it->high)},
                              {"level", info.value("level", 0.95)},
                              {"resamples", it->resamples}};
        if (it->paired && std::isfinite(it->diff_low) && std::isfinite(it->diff_high)) {
            const bool distinct = it->diff_low > 0 || it->diff_high < 0;
            row["vs_best"] = json{{"difference_low", it->diff_low},
                                  {"difference_high", it->diff_high},
                                  {"distinguishable", distinct},
                                  {"resamples", it->paired_resamples}};
            if (!distinct) {
                same.push_back(row.value("model", std::string()));
            }
        }
    }
    if (board.recommended.is_object()) {
        board.recommended["not_distinguishable"] = same;
        std::vector<std::string> quoted;
        for (const std::string& n : same) {
            quoted.push_back("'" + n + "'");
        }
        const int level = static_cast<int>(std::lround(info.value("level", 0.95) * 100));
        std::string sentence = same.empty() ? "; on test, every other model is distinguishable from it"
                                            : "; on test, " + name_list(quoted) + (same.size() == 1 ? " is" : " are")
                                                  + " not distinguishable from it";
        sentence += " (paired bootstrap, " + std::to_string(level) + " %, " + std::to_string(info.value("resamples", 0))
                    + " resamples)";
        if (board.rows.size() > 1) {
            board.recommended["reason"] = board.recommended.value("reason", std::string()) + sentence;
        }
    }
}

std::string leaderboard_csv(const Leaderboard& board)
{
    // Full precision in the CSV: it is data for other tools, not a display.
    auto num = [](const json& v) -> std::string {
        if (!v.is_number()) {
            return "";
        }
        if (v.is_number_integer()) {
            return std::to_string(v.get<long long>());
        }
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", v.get<double>());
        return buf;
    };
    const std::vector<std::string> metrics = metric_columns(board.rows, board.primary_metric);
    std::vector<std::string> fields{"rank", "model", "kind", "task_id"};
    fields.insert(fields.end(), metrics.begin(), metrics.end());
    fields.insert(fields.end(), {"valid_" + board.primary_metric, "train_time_s", "latency_ms_per_row",
                                 "model_size_bytes", "selection", "selection_score", "selection_std", "test_ci_low",
                                 "test_ci_high", "distinguishable_from_best"});
    std::string out;
    write_csv_row(out, fields);
    for (const json& row : board.rows) {
        fields = {std::to_string(row.at("rank").get<int>()), row.at("model").get<std::string>(),
                  row.at("kind").get<std::string>(), row.at("task_id").get<std::string>()};
        const json& test = row.at("test");
        for (const std::string& m : metrics) {
            fields.push_back(test.contains(m) ? num(test.at(m)) : std::string());
        }
        const json& valid = row.at("valid");
        fields.push_back(valid.contains(board.primary_metric) ? num(valid.at(board.primary_metric)) : std::string());
        fields.insert(fields.end(), {num(row.at("train_time_s")), num(row.at("latency_ms_per_row")),
                                     num(row.at("model_size_bytes"))});
        const json ci = row.value("test_ci", json());
        const json vs = row.value("vs_best", json());
        fields.insert(fields.end(),
                      {row.value("selection", std::string()), num(row.value("score", json())),
                       num(row.value("score_std", json())), ci.is_object() ? num(ci.value("low", json())) : "",
                       ci.is_object() ? num(ci.value("high", json())) : "",
                       vs.is_object() ? (vs.value("distinguishable", false) ? "true" : "false") : ""});
        write_csv_row(out, fields);
    }
    return out;
}

void write_leaderboard_files(const Leaderboard& board, const std::filesystem::path& dir)
{
    write_file_atomic(dir / "leaderboard.json", board.to_json().dump(2) + "\n");
    write_file_atomic(dir / "leaderboard.csv", leaderboard_csv(board));
    write_file_atomic(dir / "recommended_model.json", board.recommended.dump(2) + "\n");
    write_file_atomic(dir / "error_models.json", board.error_models.dump(2) + "\n");
}

namespace {

// One column of the terminal table: its title, width and alignment, a cell per row, and
// its priority when the table must fit a width (0: always shown; lower: kept first).
struct TableColumn {
    std::string title;
    size_t width = 0;
    bool right = false;
    int priority = 0;
    std::vector<std::string> cells;
};

// `text` broken at spaces into lines of at most `width` characters, its leading spaces
// kept and continuation lines indented two more (a word longer than a line is cut);
// unchanged when width is 0 or it fits.
std::string wrap_line(const std::string& text, size_t width)
{
    width = width == 0 ? 0 : std::max<size_t>(width, 20);
    if (width == 0 || text.size() <= width) {
        return text + "\n";
    }
    const size_t lead = std::min(text.find_first_not_of(' ') == std::string::npos ? 0 : text.find_first_not_of(' '),
                                 width / 2);
    const std::string indent(lead, ' ');
    const std::string more(lead + 2, ' ');
    std::string out;
    std::string line = indent;
    bool empty = true; // no word on `line` yet
    size_t pos = lead;
    while (pos < text.size()) {
        size_t end = text.find(' ', pos);
        std::string word = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
        pos = end == std::string::npos ? text.size() : end + 1;
        while (!word.empty()) {
            const size_t used = line.size() + (empty ? 0 : 1);
            const size_t room = used < width ? width - used : 0;
            if (word.size() <= room) {
                line += (empty ? "" : " ") + word;
                empty = false;
                break;
            }
            if (!empty) {
                out += line + "\n";
                line = more;
                empty = true;
                continue;
            }
            line += word.substr(0, room); // longer than a whole line
            word.erase(0, room);
            out += line + "\n";
            line = more;
        }
    }
    if (!empty) {
        out += line + "\n";
    }
    return out;
}

} // namespace

std::string format_leaderboard_table(const json& leaderboard, size_t width)
{
    width = width == 0 ? 0 : std::max<size_t>(width, 20); // narrower: as narrow as it gets
    json rows = json::array();
    std::string primary;
    json recommended;
    json errors = json::array();
    if (leaderboard.is_array()) {
        rows = leaderboard;
    } else if (leaderboard.is_object()) {
        rows = leaderboard.value("models", json::array());
        primary = leaderboard.value("primary_metric", std::string());
        recommended = leaderboard.value("recommended", json());
        errors = leaderboard.value("error_models", json::array());
    }
    if (primary.empty() && !rows.empty() && rows.at(0).is_object()) {
        primary = rows.at(0).value("primary_metric", std::string());
    }
    json objects = json::array();
    for (const json& row : rows) {
        if (row.is_object()) {
            objects.push_back(row);
        }
    }

    std::string out;
    if (rows.empty()) {
        out += "no model ranked\n";
    } else {
        size_t name_width = 5;
        size_t kind_width = 4;
        for (const json& row : rows) {
            name_width = std::max(name_width, row.value("model", std::string()).size());
            kind_width = std::max(kind_width, row.value("kind", std::string()).size());
        }
        name_width = std::min<size_t>(name_width, 32);
        kind_width = std::min<size_t>(kind_width, 16);
        const std::vector<std::string> metrics = metric_columns(rows, primary);
        auto metric_width = [](const std::string& m) { return std::max<size_t>(m.size(), 7); };
        // The selection column: what ranked the models (validation value or cv mean +- std).
        const auto selection_text = [](const json& row) {
            std::string text = number_text(row.value("score", json()), 4);
            if (row.value("selection", std::string()) == "cv") {
                text += "+-" + number_text(row.value("score_std", json()), 4);
            }
            return text;
        };
        bool any_cv = false;
        bool any_ci = false;
        for (const json& row : objects) {
            any_cv = any_cv || row.value("selection", std::string()) == "cv";
            any_ci = any_ci || row.value("test_ci", json()).is_object();
        }
        const std::string selection_title = (any_cv ? "cv_" : "valid_") + primary + "*";
        const auto ci_text = [](const json& row) -> std::string {
            const json ci = row.value("test_ci", json());
            if (!ci.is_object()) {
                return "-";
            }
            return "[" + number_text(ci.value("low", json()), 4) + ", " + number_text(ci.value("high", json()), 4)
                   + "]";
        };
        const auto vs_text = [](const json& row) -> std::string {
            if (row.value("rank", 0) == 1) {
                return "best";
            }
            const json vs = row.value("vs_best", json());
            if (!vs.is_object()) {
                return "-";
            }
            if (!vs.value("distinguishable", false)) {
                return "~same";
            }
            return vs.value("difference_low", 0.0) > 0 ? "worse" : "better";
        };

        // The columns in display order; a cell per object row.
        std::vector<TableColumn> columns;
        const auto add = [&](std::string title, size_t w, bool right, int priority,
                             const std::function<std::string(const json&)>& cell) {
            TableColumn c{std::move(title), w, right, priority, {}};
            for (const json& row : objects) {
                c.cells.push_back(cell(row));
            }
            columns.push_back(std::move(c));
        };
        add("#", 3, true, 0, [](const json& row) { return std::to_string(row.value("rank", 0)); });
        add("model", name_width, false, 0, [](const json& row) { return row.value("model", std::string()); });
        // Always shown: scripts read the test primary metric as the 4th field.
        add("kind", kind_width, false, 0, [](const json& row) { return row.value("kind", std::string()); });
        // The test primary metric first (scripts read it as the 4th field), then what ranked.
        for (size_t i = 0; i < metrics.size(); ++i) {
            const std::string m = metrics[i];
            const int priority = i == 0 ? 0 : m == "log_loss" ? 1 : 10 + static_cast<int>(i);
            add(m, metric_width(m), true, priority, [m](const json& row) {
                const json test = row.value("test", json::object());
                return number_text(test.is_object() && test.contains(m) ? test.at(m) : json(), 4);
            });
            if (i == 0) {
                size_t selection_width = selection_title.size();
                for (const json& row : objects) {
                    selection_width = std::max(selection_width, selection_text(row).size());
                }
                add(selection_title, selection_width, true, 0, selection_text);
            }
        }
        if (any_ci) {
            add("test 95% CI", 16, true, 2, ci_text);
            add("vs best", 7, false, 3, vs_text);
        }
        add("train s", 8, true, 30, [](const json& row) { return number_text(row.value("train_time_s", json()), 2); });
        add("ms/row", 8, true, 31,
            [](const json& row) { return number_text(row.value("latency_ms_per_row", json()), 4); });
        add("size", 9, true, 32, [](const json& row) { return human_size(row.value("model_size_bytes", json())); });
        {
            // The task id, unpadded (the last column): as wide as the longest id.
            size_t task_width = 4;
            for (const json& row : objects) {
                task_width = std::max(task_width, row.value("task_id", std::string()).size());
            }
            add("task", task_width, false, 6, [](const json& row) { return row.value("task_id", std::string()); });
        }

        // Fitting a width: the required columns, the model column narrowed down to 8 (then
        // the kind down to 6) when they alone are too wide, then the others by priority while
        // they fit.
        std::vector<bool> shown(columns.size(), true);
        std::vector<std::string> hidden;
        if (width > 0) {
            size_t used = 0;
            size_t count = 0;
            for (const TableColumn& c : columns) {
                if (c.priority == 0) {
                    used += (count++ == 0 ? 0 : 2) + c.width;
                }
            }
            for (const auto& [index, least] : {std::pair<size_t, size_t>{1, 8}, {2, 6}}) {
                TableColumn& c = columns[index];
                if (used > width && c.width > least) {
                    const size_t cut = std::min(used - width, c.width - least);
                    c.width -= cut;
                    used -= cut;
                }
            }
            std::vector<size_t> order;
            for (size_t i = 0; i < columns.size(); ++i) {
                shown[i] = columns[i].priority == 0;
                if (!shown[i]) {
                    order.push_back(i);
                }
            }
            std::stable_sort(order.begin(), order.end(),
                             [&](size_t a, size_t b) { return columns[a].priority < columns[b].priority; });
            for (size_t i : order) {
                if (used + 2 + columns[i].width <= width) {
                    shown[i] = true;
                    used += 2 + columns[i].width;
                }
            }
            for (size_t i = 0; i < columns.size(); ++i) {
                if (!shown[i]) {
                    hidden.push_back(columns[i].title);
                }
            }
        }
        const auto render = [&](const std::function<std::string(const TableColumn&)>& text) {
            std::string line;
            bool first = true;
            for (size_t i = 0; i < columns.size(); ++i) {
                if (!shown[i]) {
                    continue;
                }
                line += (first ? "" : "  ") + pad(text(columns[i]), columns[i].width, columns[i].right);
                first = false;
            }
            while (!line.empty() && line.back() == ' ') {
                line.pop_back();
            }
            return line;
        };
        const std::string header = render([](const TableColumn& c) { return c.title; });
        out += header + "\n";
        out += std::string(header.size(), '-') + "\n";
        for (size_t r = 0; r < objects.size(); ++r) {
            out += render([r](const TableColumn& c) { return c.cells[r]; }) + "\n";
        }
        if (!hidden.empty()) {
            std::string names;
            for (const std::string& h : hidden) {
                names += (names.empty() ? "" : ", ") + h;
            }
            out += wrap_line(std::to_string(hidden.size()) + (hidden.size() == 1 ? " column" : " columns") + " hidden ("
                                 + names + "): --wide shows all",
                             width);
        }
        if (!primary.empty()) {
            const std::string selection = leaderboard.is_object()
                                              ? leaderboard.value("selection", std::string(any_cv ? "cv" : "valid"))
                                              : std::string(any_cv ? "cv" : "valid");
            std::string note = "* " + selection_note(primary, selection) + " (the unprefixed metric columns are test)";
            const json positive = leaderboard.is_object() ? leaderboard.value("positive_class", json()) : json();
            if (positive.is_string()) {
                note += "; positive class '" + positive.get<std::string>() + "'";
            }
            out += wrap_line(note, width);
            const json boot = leaderboard.is_object() ? leaderboard.value("bootstrap", json()) : json();
            if (any_ci && boot.is_object()) {
                out += wrap_line("  test 95% CI: percentile bootstrap of test " + primary + ", "
                                     + std::to_string(boot.value("resamples", 0)) + " resamples, seed "
                                     + std::to_string(boot.value("seed", 0))
                                     + "; vs best: paired bootstrap against rank 1 "
                                     + "(~same = not distinguishable from the best)",
                                 width);
            }
        }
    }
    if (recommended.is_object()) {
        out += wrap_line("recommended: " + recommended.value("name", std::string()) + " ("
                             + recommended.value("task_id", std::string())
                             + "): " + recommended.value("reason", std::string()),
                         width);
    }
    if (errors.is_array() && !errors.empty()) {
        out += "failed models: " + std::to_string(errors.size()) + "\n";
        for (const json& e : errors) {
            if (!e.is_object()) {
                continue;
            }
            out += wrap_line("  " + e.value("model", std::string()) + " (" + e.value("task_id", std::string()) + "): "
                                 + e.value("error_class", std::string()) + ": " + e.value("error", std::string()),
                             width);
        }
    }
    return out;
}

} // namespace mlrun::ml
