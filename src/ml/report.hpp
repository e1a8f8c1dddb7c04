#pragma once
// The summary's report.html: one self-contained page (inline CSS, PNGs as base64 data
// URIs) with the leaderboard, the recommendation and its reason, the failed models and
// the plots. Opens from an artifact store or an e-mail without its neighbours.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mlrun::ml {

struct ReportPlot {
    std::string title;
    std::filesystem::path png; // a missing file is shown as a note, not an error
};

struct ReportInput {
    std::string title;              // "Summary: project/run"
    std::vector<std::string> facts; // short lines under the title (run, task, time)
    nlohmann::json leaderboard;     // the content of leaderboard.json
    std::vector<ReportPlot> plots;
    std::vector<std::string> notes; // e.g. "ROC skipped for x: no predictions_test.csv"
};

// &, <, >, " and ' as entities.
std::string html_escape(std::string_view text);
// Standard base64 (RFC 4648) with padding.
std::string base64_encode(std::string_view bytes);

std::string render_report_html(const ReportInput& input);
// Renders and writes atomically. Throws std::runtime_error naming the file on I/O failure.
void write_report_html(const ReportInput& input, const std::filesystem::path& path);

} // namespace mlrun::ml
