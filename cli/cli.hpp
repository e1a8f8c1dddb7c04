#pragma once
// Shared state of the CLI: global options, the backends (opened on first use) and the
// exit code a command asks for. CLI11 lives only in cli/.
#include "app/wiring.hpp"

#include <CLI/CLI.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace mlrun::cli {

struct Cli {
    BackendOptions backend_options;
    std::string templates_dir;
    int exit_code = 0;

    Backends& backends();
    // The backends with the tracking mirror (commands that run tasks): the tracking
    // server is checked here, before any step runs (UsageError when it cannot be used).
    Backends& running_backends();

private:
    std::unique_ptr<Backends> m_backends;
};

// Registration of each command group (one file each).
void add_task_commands(CLI::App& app, Cli& cli);
void add_template_commands(CLI::App& app, Cli& cli);
void add_dataset_commands(CLI::App& app, Cli& cli);
void add_log_commands(CLI::App& app, Cli& cli);
void add_model_commands(CLI::App& app, Cli& cli);
void add_queue_commands(CLI::App& app, Cli& cli);
void add_agent_commands(CLI::App& app, Cli& cli);
void add_pipeline_commands(CLI::App& app, Cli& cli);
void add_sync_commands(CLI::App& app, Cli& cli);
void add_store_commands(CLI::App& app, Cli& cli);
// `store check` (in the `store` group it shares with the other store commands).
void add_store_check_commands(CLI::App& app, Cli& cli);
void add_server_commands(CLI::App& app, Cli& cli);

// Set by SIGINT/SIGTERM once install_signal_handlers() ran.
const std::atomic<bool>& interrupted();
void install_signal_handlers();

// A whole number >= min, with a one-line message naming the bound (CLI11's PositiveNumber
// prints the whole double range).
CLI::Validator whole_number_at_least(long min);

// Fixed-width table on stdout.
void print_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows);
// The width tables on stdout fit: $COLUMNS when it is a whole number > 0, else the
// terminal's (stdout), else 80 (a pipe or a file).
std::size_t output_width();
// "3 s ago", "5 min ago", "2 h ago", or the date.
std::string age(std::int64_t ms);

} // namespace mlrun::cli
