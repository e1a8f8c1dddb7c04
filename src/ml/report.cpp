#include "ml/report.hpp"

#include "core/util.hpp"
#include "ml/metrics.hpp"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <set>

namespace mlrun::ml {

using nlohmann::json;

namespace {

const char* const k_style = R"css(
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.facts { color: #666; margin: 0; padding: 0; list-style: none; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; }
th { background: #f3f5f8; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; font-family: "DejaVu Sans Mono", monospace; }
tr.best td { background: #eaf6ea; font-weight: bold; }
th.primary { background: #dfe9f5; }
.recommended { background: #eaf6ea; border-left: 4px solid #2ca02c; padding: 0.6em 1em; }
.errors td.error { color: #a00; font-family: "DejaVu Sans Mono", monospace; white-space: pre-wrap; }
.plots figure { display: inline-block; margin: 0.5em 1em 1em 0; vertical-align: top; }
.plots img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
.note { color: #666; }
)css";

std::string fixed(const json& v, int decimals)
{
    if (!v.is_number()) {
        return "&ndash;";
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v.get<double>());
    return buf;
}

std::string str(const json& obj, const char* key)
{
    if (!obj.is_object()) {
        return "";
    }
    auto it = obj.find(key);
    if (it == obj.end()) {
        return "";
    }
    return it->is_string() ? it->get<std::string>() : it->dump();
}

// "log_loss, then latency, then size" from leaderboard.json (that default when absent).
std::string tie_breakers_text(const json& leaderboard)
{
    std::string out;
    for (const json& b : leaderboard.value("tie_breakers", json::array({"log_loss", "latency", "size"}))) {
        out += (out.empty() ? "" : ", then ") + (b.is_string() ? b.get<std::string>() : b.dump());
    }
    return out.empty() ? "task id" : out;
}

std::string leaderboard_table(const json& leaderboard)
{
    const json rows = leaderboard.value("models", json::array());
    const std::string primary = leaderboard.value("primary_metric", std::string());
    if (rows.empty()) {
        return "<p class=\"note\">No model could be ranked.</p>\n";
    }
    // The selection column (what ranked the models), then the test metrics in the CSV's order.
    std::vector<std::string> metrics{primary};
    std::set<std::string> seen{primary};
    for (const char* m : {"accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss", "ece"}) {
        for (const json& row : rows) {
            if (row.value("test", json::object()).contains(m) && seen.insert(m).second) {
                metrics.emplace_back(m);
            }
        }
    }
    bool any_ci = false;
    for (const json& row : rows) {
        any_ci = any_ci || row.value("test_ci", json()).is_object();
    }
    const std::string recommended = str(leaderboard.value("recommended", json()), "task_id");
    const std::string selection = leaderboard.value("selection", std::string("valid"));

    std::string out = "<table class=\"leaderboard\">\n<thead><tr><th>rank</th><th>model</th><th>kind</th>";
    out += "<th class=\"primary\">" + std::string(selection == "valid" ? "valid " : "selection ") + html_escape(primary)
           + "</th>";
    for (const std::string& m : metrics) {
        out += "<th>test " + html_escape(m) + "</th>";
    }
    if (any_ci) {
        out += "<th>test " + html_escape(primary) + " 95% CI</th><th>vs best</th>";
    }
    out += "<th>train time (s)</th><th>latency (ms/row)</th><th>size (bytes)</th><th>task</th></tr></thead>\n<tbody>\n";
    for (const json& row : rows) {
        const std::string task_id = str(row, "task_id");
        out += std::string(task_id == recommended ? "<tr class=\"best\">" : "<tr>");
        out += "<td class=\"num\">" + html_escape(str(row, "rank")) + "</td><td>" + html_escape(str(row, "model"))
               + "</td><td>" + html_escape(str(row, "kind")) + "</td>";
        std::string score = fixed(row.value("score", json()), 4);
        if (str(row, "selection") == "cv") {
            score += " &plusmn; " + fixed(row.value("score_std", json()), 4) + " (cv "
                     + html_escape(str(row.value("cv", json::object()), "k")) + ")";
        }
        out += "<td class=\"num\">" + score + "</td>";
        const json test = row.value("test", json::object());
        for (const std::string& m : metrics) {
            out += "<td class=\"num\">" + fixed(test.value(m, json()), 4) + "</td>";
        }
        if (any_ci) {
            const json ci = row.value("test_ci", json());
            const json vs = row.value("vs_best", json());
            out += "<td class=\"num\">"
                   + (ci.is_object()
                          ? "[" + fixed(ci.value("low", json()), 4) + ", " + fixed(ci.value("high", json()), 4) + "]"
                          : std::string("-"))
                   + "</td><td>"
                   + (task_id == recommended ? std::string("best")
                      : !vs.is_object()      ? std::string("-")
                      : vs.value("distinguishable", false)
                          ? std::string(vs.value("difference_low", 0.0) > 0 ? "worse" : "better")
                          : std::string("not distinguishable"))
                   + "</td>";
        }
        out += "<td class=\"num\">" + fixed(row.value("train_time_s", json()), 2) + "</td><td class=\"num\">"
               + fixed(row.value("latency_ms_per_row", json()), 4) + "</td><td class=\"num\">"
               + fixed(row.value("model_size_bytes", json()), 0) + "</td><td><code>" + html_escape(task_id)
               + "</code></td></tr>\n";
    }
    const std::string note = leaderboard.value("selection_note", std::string("ranked by " + primary));
    out += "</tbody>\n</table>\n<p class=\"note\">"
           + html_escape(note.substr(0, 1) == "r" ? "R" + note.substr(1) : note) + "; ties (within "
           + html_escape(str(leaderboard, "tie_tolerance")) + ") broken by " + tie_breakers_text(leaderboard)
           + " on the same split.";
    const json boot = leaderboard.value("bootstrap", json());
    if (boot.is_object()) {
        out += " Test intervals: percentile bootstrap, " + html_escape(str(boot, "resamples")) + " resamples, seed "
               + html_escape(str(boot, "seed")) + "; \"not distinguishable\": the paired bootstrap interval of the "
               + "difference from the recommended model contains 0. ECE: expected calibration error, 10 "
               + "equal-width bins of top-label confidence.";
    }
    out += "</p>\n";
    return out;
}

std::string error_table(const json& errors)
{
    if (!errors.is_array() || errors.empty()) {
        return "<p class=\"note\">Every model completed.</p>\n";
    }
    std::string out = "<table class=\"errors\">\n<thead><tr><th>model</th><th>kind</th><th>status</th>"
                      "<th>error class</th><th>error</th><th>task</th></tr></thead>\n<tbody>\n";
    for (const json& e : errors) {
        out += "<tr><td>" + html_escape(str(e, "model")) + "</td><td>" + html_escape(str(e, "kind")) + "</td><td>"
               + html_escape(str(e, "status")) + "</td><td>" + html_escape(str(e, "error_class"))
               + "</td><td class=\"error\">" + html_escape(str(e, "error")) + "</td><td><code>"
               + html_escape(str(e, "task_id")) + "</code></td></tr>\n";
    }
    return out + "</tbody>\n</table>\n";
}

} // namespace

std::string html_escape(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

std::string base64_encode(std::string_view bytes)
{
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16)
                           | (static_cast<unsigned char>(bytes[i + 1]) << 8) | static_cast<unsigned char>(bytes[i + 2]);
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += table[(v >> 6) & 63];
        out += table[v & 63];
    }
    const size_t rest = bytes.size() - i;
    if (rest > 0) {
        unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
        if (rest == 2) {
            v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
        }
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += rest == 2 ? table[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string render_report_html(const ReportInput& input)
{
    const json& board = input.leaderboard;
    std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
                      + html_escape(input.title) + "</title>\n<style>" + k_style + "</style>\n</head>\n<body>\n";
    out += "<h1>" + html_escape(input.title) + "</h1>\n";
    if (!input.facts.empty()) {
        out += "<ul class=\"facts\">\n";
        for (const std::string& f : input.facts) {
            out += "<li>" + html_escape(f) + "</li>\n";
        }
        out += "</ul>\n";
    }

    out += "<h2>Recommended model</h2>\n";
    const json recommended = board.is_object() ? board.value("recommended", json()) : json();
    if (recommended.is_object()) {
        out += "<div class=\"recommended\"><strong>" + html_escape(str(recommended, "name")) + "</strong> ("
               + html_escape(str(recommended, "kind")) + ", task <code>" + html_escape(str(recommended, "task_id"))
               + "</code>): " + html_escape(str(recommended, "metric")) + " = "
               + fixed(recommended.value("value", json()), 4) + "<br>" + html_escape(str(recommended, "reason"))
               + "</div>\n";
    } else {
        out += "<p class=\"note\">None: no model completed with the primary metric.</p>\n";
    }

    out += "<h2>Leaderboard</h2>\n" + leaderboard_table(board.is_object() ? board : json::object());
    out += "<h2>Failed models</h2>\n" + error_table(board.is_object() ? board.value("error_models", json()) : json());

    out += "<h2>Plots</h2>\n<div class=\"plots\">\n";
    for (const ReportPlot& plot : input.plots) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(plot.png, ec)) {
            out += "<p class=\"note\">" + html_escape(plot.title) + ": not drawn.</p>\n";
            continue;
        }
        std::ifstream in(plot.png, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        out += "<figure><img alt=\"" + html_escape(plot.title) + "\" src=\"data:image/png;base64,"
               + base64_encode(bytes) + "\"><figcaption>" + html_escape(plot.title) + "</figcaption></figure>\n";
    }
    out += "</div>\n";
    for (const std::string& note : input.notes) {
        out += "<p class=\"note\">" + html_escape(note) + "</p>\n";
    }
    out += "</body>\n</html>\n";
    return out;
}

void write_report_html(const ReportInput& input, const std::filesystem::path& path)
{
    write_file_atomic(path, render_report_html(input));
}

} // namespace mlrun::ml
