#pragma once
// Reports CI systems read: JUnit XML (one test case per step and per gate, with the step's
// log tail on failure) and a Markdown job summary (leaderboard and gates).
#include "app/gates.hpp"
#include "core/params.hpp"

#include <filesystem>
#include <vector>

namespace mlrun {

class TaskStore;

// run: the run record (load_run). Written atomically.
void write_junit(const std::filesystem::path& path, TaskStore& store, const Json& run,
                 const std::vector<GateResult>& gates);
void write_summary_markdown(const std::filesystem::path& path, const Json& run, const Json& leaderboard,
                            const std::vector<GateResult>& gates);
// XML text escaping, dropping characters XML 1.0 cannot hold.
std::string xml_escape(std::string_view text);

} // namespace mlrun
