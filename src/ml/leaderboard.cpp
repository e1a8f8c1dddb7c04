#include "ml/leaderboard.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "ml/io/csv.hpp"
#include "ml/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
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

// A missing latency or size sorts last: a model that did not measure it is no better.
double or_worst(const json& row, const char* key)
{
    const json& v = row.at(key);
    return v.is_number() ? v.get<double>() : std::numeric_limits<double>::infinity();
}

bool same_number(const json& a, const json& b)
{
    if (a.is_null() || b.is_null()) {
        return a.is_null() && b.is_null();
    }
    return a.get<double>() == b.get<double>();
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
    for (const std::string& m : rankable_metrics()) {
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

// Why rank 1 won, in one line: the metric and, when rank 2 tied on it, the tie it broke.
std::string recommendation_reason(const json& rows, const std::string& primary, size_t failed)
{
    const json& best = rows.at(0);
    std::string reason = std::string(lower_is_better(primary) ? "lowest " : "highest ") + primary + " "
                         + fixed(best.at("score").get<double>(), 4) + " of " + std::to_string(rows.size())
                         + (rows.size() == 1 ? " model" : " models");
    if (failed > 0) {
        reason += " (" + std::to_string(failed) + " failed)";
    }
    if (rows.size() < 2 || rows.at(1).at("score").get<double>() != best.at("score").get<double>()) {
        return reason + "; ties broken by latency then size";
    }
    const json& second = rows.at(1);
    reason += "; tied on " + primary + " with " + quoted_name(second);
    if (!same_number(best.at("latency_ms_per_row"), second.at("latency_ms_per_row"))) {
        return reason + ", chosen for lower latency (" + number_text(best.at("latency_ms_per_row"), 4) + " vs "
               + number_text(second.at("latency_ms_per_row"), 4) + " ms/row)";
    }
    if (!same_number(best.at("model_size_bytes"), second.at("model_size_bytes"))) {
        return reason + " and on latency, chosen for smaller size (" + number_text(best.at("model_size_bytes"), 0)
               + " vs " + number_text(second.at("model_size_bytes"), 0) + " bytes)";
    }
    return reason + " and on latency and size, chosen by task id";
}

} // namespace

const std::vector<std::string>& rankable_metrics()
{
    static const std::vector<std::string> metrics{"accuracy", "precision", "recall",  "f1",
                                                  "roc_auc",  "pr_auc",    "log_loss"};
    return metrics;
}

json Leaderboard::to_json() const
{
    return json{{"primary_metric", primary_metric},
                {"higher_is_better", !lower_is_better(primary_metric)},
                {"models", rows},
                {"recommended", recommended},
                {"error_models", error_models}};
}

Leaderboard build_leaderboard(const std::vector<ModelResult>& results, const std::string& primary_metric)
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

    Leaderboard board;
    board.primary_metric = primary_metric;
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
        std::optional<double> score = number_at(test, primary_metric);
        if (!score) {
            fail("no " + primary_metric + " in the test metrics (values.test." + primary_metric + " is "
                     + (test.is_object() && test.contains(primary_metric) ? "null" : "missing") + ")",
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
        board.rows.push_back(json{{"rank", 0},
                                  {"model", r.name},
                                  {"kind", r.kind},
                                  {"task_id", r.task_id},
                                  {"primary_metric", primary_metric},
                                  {"score", *score},
                                  {"test", test_metrics},
                                  {"valid", valid_metrics},
                                  {"train_time_s", number_or_null(number_at(r.values, "train_time_s"))},
                                  {"latency_ms_per_row", number_or_null(number_at(r.values, "latency_ms_per_row"))},
                                  {"model_size_bytes", number_or_null(number_at(r.values, "model_size_bytes"))}});
    }

    const bool lower = lower_is_better(primary_metric);
    std::vector<json> rows(board.rows.begin(), board.rows.end());
    std::sort(rows.begin(), rows.end(), [&](const json& a, const json& b) {
        double sa = a.at("score").get<double>();
        double sb = b.at("score").get<double>();
        if (sa != sb) {
            return lower ? sa < sb : sa > sb;
        }
        double la = or_worst(a, "latency_ms_per_row");
        double lb = or_worst(b, "latency_ms_per_row");
        if (la != lb) {
            return la < lb;
        }
        double za = or_worst(a, "model_size_bytes");
        double zb = or_worst(b, "model_size_bytes");
        if (za != zb) {
            return za < zb;
        }
        return a.at("task_id").get<std::string>() < b.at("task_id").get<std::string>();
    });
    board.rows = json::array();
    for (size_t i = 0; i < rows.size(); ++i) {
        rows[i]["rank"] = static_cast<int>(i + 1);
        board.rows.push_back(std::move(rows[i]));
    }

    if (!board.rows.empty()) {
        const json& best = board.rows.at(0);
        board.recommended = json{
            {"task_id", best.at("task_id")},
            {"name", best.at("model")},
            {"kind", best.at("kind")},
            {"metric", primary_metric},
            {"value", best.at("score")},
            {"reason", recommendation_reason(board.rows, primary_metric, board.error_models.size())}};
    }
    return board;
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
    fields.insert(fields.end(),
                  {"valid_" + board.primary_metric, "train_time_s", "latency_ms_per_row", "model_size_bytes"});
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

std::string format_leaderboard_table(const json& leaderboard)
{
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

        std::string header = pad("#", 3, true) + "  " + pad("model", name_width, false) + "  "
                             + pad("kind", kind_width, false);
        for (size_t i = 0; i < metrics.size(); ++i) {
            // The ranking column is marked so it stands out from the others.
            std::string title = i == 0 ? metrics[i] + "*" : metrics[i];
            header += "  " + pad(title, metric_width(metrics[i]) + (i == 0 ? 1 : 0), true);
        }
        header += "  " + pad("train s", 8, true) + "  " + pad("ms/row", 8, true) + "  " + pad("size", 9, true) + "  "
                  + "task";
        out += header + "\n";
        out += std::string(header.size(), '-') + "\n";
        for (const json& row : rows) {
            if (!row.is_object()) {
                continue;
            }
            std::string line = pad(std::to_string(row.value("rank", 0)), 3, true) + "  "
                               + pad(row.value("model", std::string()), name_width, false) + "  "
                               + pad(row.value("kind", std::string()), kind_width, false);
            const json test = row.value("test", json::object());
            for (size_t i = 0; i < metrics.size(); ++i) {
                json v = test.is_object() && test.contains(metrics[i]) ? test.at(metrics[i]) : json();
                if (i == 0 && !v.is_number()) {
                    v = row.value("score", json());
                }
                line += "  " + pad(number_text(v, 4), metric_width(metrics[i]) + (i == 0 ? 1 : 0), true);
            }
            line += "  " + pad(number_text(row.value("train_time_s", json()), 2), 8, true) + "  "
                    + pad(number_text(row.value("latency_ms_per_row", json()), 4), 8, true) + "  "
                    + pad(human_size(row.value("model_size_bytes", json())), 9, true) + "  "
                    + row.value("task_id", std::string());
            out += line + "\n";
        }
        if (!primary.empty()) {
            out += "* ranked by " + primary + (lower_is_better(primary) ? " (lower is better)" : " (higher is better)")
                   + "\n";
        }
    }
    if (recommended.is_object()) {
        out += "recommended: " + recommended.value("name", std::string()) + " ("
               + recommended.value("task_id", std::string()) + "): " + recommended.value("reason", std::string())
               + "\n";
    }
    if (errors.is_array() && !errors.empty()) {
        out += "failed models: " + std::to_string(errors.size()) + "\n";
        for (const json& e : errors) {
            if (!e.is_object()) {
                continue;
            }
            out += "  " + e.value("model", std::string()) + " (" + e.value("task_id", std::string())
                   + "): " + e.value("error_class", std::string()) + ": " + e.value("error", std::string()) + "\n";
        }
    }
    return out;
}

} // namespace mlrun::ml
