#include "app/ci_reports.hpp"

#include "core/util.hpp"
#include "ports/task_store.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace mlrun {

std::string xml_escape(std::string_view raw)
{
    // Logs may hold any bytes: make it valid UTF-8 first (invalid bytes become U+FFFD).
    const std::string clean = valid_utf8(raw);
    std::string out;
    out.reserve(clean.size());
    for (char c : clean) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') {
                break; // not allowed in XML 1.0
            }
            out += c;
        }
    }
    return out;
}

namespace {

// ISO 8601 local time without a zone ("2026-11-22T11:46:03"), as the JUnit schema's timestamp wants.
std::string format_iso8601_ms(std::int64_t ms)
{
    std::time_t secs = static_cast<std::time_t>(std::max<std::int64_t>(ms, 0) / 1000);
    std::tm tm{};
    localtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return buf;
}

std::string seconds(const Json& node)
{
    std::int64_t s = node.value("started_ms", std::int64_t{0});
    std::int64_t f = node.value("finished_ms", std::int64_t{0});
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", s && f >= s ? static_cast<double>(f - s) / 1000.0 : 0.0);
    return buf;
}

std::string log_tail(TaskStore& store, const std::string& task_id, size_t lines)
{
    if (task_id.empty()) {
        return "";
    }
    std::string log;
    try {
        log = store.read_log(task_id, 0);
    } catch (const std::exception&) {
        return "";
    }
    size_t pos = log.size();
    for (size_t n = 0; n <= lines && pos > 0; ++n) {
        size_t nl = log.rfind('\n', pos - 1);
        if (nl == std::string::npos) {
            return log;
        }
        pos = nl;
    }
    return log.substr(pos + 1);
}

} // namespace

void write_junit(const std::filesystem::path& path, TaskStore& store, const Json& run,
                 const std::vector<GateResult>& gates)
{
    std::string pipeline = run.value("pipeline", "pipeline");
    int failures = 0, skipped = 0;
    std::string cases;
    const Json nodes = run.value("nodes", Json::array());
    for (const Json& n : nodes) {
        std::string state = n.value("state", "");
        std::string name = n.value("name", "");
        cases += "    <testcase classname=\"" + xml_escape(pipeline) + ".steps\" name=\"" + xml_escape(name)
                 + "\" time=\"" + seconds(n) + "\">\n";
        if (state == "failed" || state == "aborted" || state == "pending" || state == "running") {
            ++failures;
            cases += "      <failure message=\"" + xml_escape(state + ": " + n.value("reason", "")) + "\" type=\""
                     + xml_escape(state) + "\">" + xml_escape(n.value("reason", "")) + "</failure>\n";
            cases += "      <system-out>" + xml_escape(log_tail(store, n.value("task_id", ""), 40)) + "</system-out>\n";
        } else if (state == "skipped") {
            ++skipped;
            cases += "      <skipped message=\"" + xml_escape(n.value("reason", "")) + "\"/>\n";
        } else if (state == "cached") {
            cases += "      <system-out>cached: reused task " + xml_escape(n.value("task_id", "")) + "</system-out>\n";
        }
        cases += "    </testcase>\n";
    }
    int gate_failures = 0;
    std::string gate_cases;
    for (const GateResult& g : gates) {
        gate_cases += "    <testcase classname=\"" + xml_escape(pipeline) + ".gates\" name=\"" + xml_escape(g.name)
                      + "\" time=\"0\">\n";
        if (!g.passed) {
            ++gate_failures;
            gate_cases += "      <failure message=\"" + xml_escape(g.message) + "\" type=\"gate\">"
                          + xml_escape(g.message) + "</failure>\n";
        } else {
            gate_cases += "      <system-out>" + xml_escape(g.message) + "</system-out>\n";
        }
        gate_cases += "    </testcase>\n";
    }
    size_t steps = nodes.size();
    std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    xml += "<testsuites name=\"mlrun " + xml_escape(pipeline) + "\" tests=\"" + std::to_string(steps + gates.size())
           + "\" failures=\"" + std::to_string(failures + gate_failures) + "\" errors=\"0\" skipped=\""
           + std::to_string(skipped) + "\">\n";
    xml += "  <testsuite name=\"" + xml_escape(pipeline) + ".steps\" tests=\"" + std::to_string(steps)
           + "\" failures=\"" + std::to_string(failures) + "\" errors=\"0\" skipped=\"" + std::to_string(skipped)
           + "\" timestamp=\"" + format_iso8601_ms(run.value("started_ms", std::int64_t{0})) + "\">\n";
    xml += "    <properties>\n      <property name=\"run_id\" value=\"" + xml_escape(run.value("id", ""))
           + "\"/>\n      <property name=\"smoke\" value=\"" + (run.value("smoke", false) ? "true" : "false")
           + "\"/>\n    </properties>\n";
    xml += cases + "  </testsuite>\n";
    xml += "  <testsuite name=\"" + xml_escape(pipeline) + ".gates\" tests=\"" + std::to_string(gates.size())
           + "\" failures=\"" + std::to_string(gate_failures) + "\" errors=\"0\" skipped=\"0\">\n";
    xml += gate_cases + "  </testsuite>\n</testsuites>\n";
    write_file_atomic(path, xml);
}

void write_summary_markdown(const std::filesystem::path& path, const Json& run, const Json& leaderboard,
                            const std::vector<GateResult>& gates)
{
    auto cell = [](std::string s) {
        std::string out;
        for (char c : s) {
            if (c == '|') {
                out += "\\|";
            } else if (c == '\n') {
                out += ' ';
            } else {
                out += c;
            }
        }
        return out;
    };
    std::string md = "## mlrun: " + cell(run.value("pipeline", "")) + " — " + run.value("status", "") + "\n\n";
    md += "Run `" + run.value("id", "") + "`" + (run.value("smoke", false) ? " (smoke profile)" : "")
          + ", primary metric `" + run.value("primary_metric", "") + "`.\n\n";
    if (leaderboard.is_object() && !leaderboard.value("models", Json::array()).empty()) {
        std::string metric = leaderboard.value("primary_metric", "");
        md += "| rank | model | kind | " + metric
              + " | accuracy | f1 | log_loss | train s |\n|---:|---|---|---:|---:|---:|---:|---:|\n";
        auto num = [](const Json& v) {
            if (!v.is_number()) {
                return std::string("–");
            }
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.4f", v.get<double>());
            return std::string(buf);
        };
        for (const Json& row : leaderboard["models"]) {
            const Json test = row.value("test", Json::object());
            md += "| " + std::to_string(row.value("rank", 0)) + " | " + cell(row.value("model", "")) + " | "
                  + cell(row.value("kind", "")) + " | " + num(test.value(metric, Json())) + " | "
                  + num(test.value("accuracy", Json())) + " | " + num(test.value("f1", Json())) + " | "
                  + num(test.value("log_loss", Json())) + " | " + num(row.value("train_time_s", Json())) + " |\n";
        }
        if (leaderboard.value("recommended", Json()).is_object()) {
            md += "\n**Recommended:** " + cell(leaderboard["recommended"].value("name", "")) + " — "
                  + cell(leaderboard["recommended"].value("reason", "")) + "\n";
        }
        for (const Json& e : leaderboard.value("error_models", Json::array())) {
            md += "\n:x: " + cell(e.value("model", "")) + " failed: " + cell(e.value("error", "")) + "\n";
        }
    } else {
        md += "No leaderboard: the summary step did not complete.\n";
    }
    if (!gates.empty()) {
        md += "\n### Gates\n\n| gate | result | detail |\n|---|---|---|\n";
        for (const GateResult& g : gates) {
            md += "| " + cell(g.name) + " | " + (g.passed ? "pass" : "**FAIL**") + " | " + cell(g.message) + " |\n";
        }
    }
    md += "\n### Steps\n\n| step | state | task |\n|---|---|---|\n";
    for (const Json& n : run.value("nodes", Json::array())) {
        md += "| " + cell(n.value("name", "")) + " | " + n.value("state", "") + " | `" + n.value("task_id", "")
              + "` |\n";
    }
    write_file_atomic(path, md);
}

} // namespace mlrun
