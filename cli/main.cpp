// mlrun: parse, call the library, print. Errors are mapped to exit codes here only:
// 0 ok, 1 a task or gate failed, 2 bad input, 130 interrupted.
#include "cli.hpp"

#include "core/crash.hpp"
#include "core/error.hpp"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <unistd.h>

namespace mlrun::cli {

namespace {
std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int)
{
    g_interrupted.store(true);
}
} // namespace

const std::atomic<bool>& interrupted()
{
    return g_interrupted;
}

void install_signal_handlers()
{
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

Backends& Cli::backends()
{
    if (!m_backends) {
        m_backends = std::make_unique<Backends>(open_backends(backend_options));
    }
    return *m_backends;
}

Backends& Cli::running_backends()
{
    if (m_backends && !backend_options.mirror) {
        m_backends.reset(); // opened earlier without the mirror: open again with it
    }
    backend_options.mirror = true;
    return backends();
}

namespace {
// For "A subcommand is required": the command that needed one, the word it did not know
// (if any) and the subcommands it has, so that `mlrun task frobnicate` says what exists.
std::string missing_subcommand_message(CLI::App& app)
{
    CLI::App* at = &app;
    std::string path = "mlrun";
    for (bool deeper = true; deeper;) {
        deeper = false;
        for (CLI::App* sub : at->get_subcommands()) {
            at = sub;
            path += " " + sub->get_name();
            deeper = true;
            break;
        }
    }
    std::string names;
    for (CLI::App* sub : at->get_subcommands([](CLI::App*) { return true; })) {
        if (!sub->get_name().empty()) {
            names += (names.empty() ? "" : ", ") + sub->get_name();
        }
    }
    // The word may stay with the command or fall through to the top (app.fallthrough()).
    std::vector<std::string> rest = at->remaining();
    if (rest.empty()) {
        rest = app.remaining();
    }
    std::string unknown;
    for (const std::string& r : rest) {
        if (!r.empty() && r.front() != '-') {
            unknown = r;
            break;
        }
    }
    return path + ": " + (unknown.empty() ? "a subcommand is required" : "unknown command \"" + unknown + "\"")
           + " (one of: " + names + "; see " + path + " --help)";
}
} // namespace

} // namespace mlrun::cli

int main(int argc, char** argv)
{
    using namespace mlrun;
    // Before any thread starts (setenv races with readers of the environment). OpenBLAS
    // reads it when the task plugin loads: one BLAS thread per step.
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    // An exception nobody caught, in any thread: one line, the failure recorded, exit 1.
    install_crash_handler();
    cli::Cli state;
    CLI::App app{"mlrun: ML pipelines as clonable tasks (preprocess -> train per model -> summary -> inference).\n"
                 "Tasks run locally on a TBB graph; results go to a local store (./.mlrun by default).\n\n"
                 "Exit codes: 0 ok, 1 a task or gate failed, 2 bad input, 130 interrupted.",
                 "mlrun"};
    app.set_version_flag("--version", std::string("mlrun ") + MLRUN_VERSION);
    app.add_option(
        "--home", state.backend_options.home,
        "Store folder, an SQLite store (default: $MLRUN_HOME, else ./.mlrun); folder:PATH opens an old folder store");
    app.add_option("--tracking", state.backend_options.tracking,
                   "Tracking server: http(s)://host:port mirrors runs to MLflow (default: the local store only; "
                   "$MLRUN_TRACKING_URI, else $MLFLOW_TRACKING_URI)");
    app.add_option("--broker,--queue-uri", state.backend_options.queue,
                   "Queue broker: redis://[user:password@]host:port/db (default: the local queue in the store; "
                   "$MLRUN_BROKER)");
    app.add_option("--templates", state.templates_dir, "Extra folder searched first for templates");
    app.require_subcommand(1);
    app.fallthrough();

    cli::add_task_commands(app, state);
    cli::add_template_commands(app, state);
    cli::add_dataset_commands(app, state);
    cli::add_log_commands(app, state);
    cli::add_model_commands(app, state);
    cli::add_queue_commands(app, state);
    cli::add_agent_commands(app, state);
    cli::add_pipeline_commands(app, state);
    cli::add_sync_commands(app, state);
    cli::add_store_commands(app, state);
    cli::add_store_check_commands(app, state);
    cli::add_server_commands(app, state);

    try {
        app.parse(argc, argv);
        return state.exit_code;
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::RequiredError& e) {
        if (std::string(e.what()).find("subcommand") != std::string::npos) {
            std::cerr << "mlrun: error: " << cli::missing_subcommand_message(app) << "\n";
        } else {
            std::cerr << "mlrun: error: " << e.what() << " (see mlrun --help)\n";
        }
        return k_exit_usage;
    } catch (const CLI::ParseError& e) {
        std::cerr << "mlrun: error: " << e.what() << " (see mlrun --help)\n";
        return k_exit_usage;
    } catch (const UsageError& e) {
        std::cerr << "mlrun: error: " << e.what() << "\n";
        return k_exit_usage;
    } catch (const CorruptRecord& e) {
        // A record the command was pointed at cannot be read: as bad input, naming the file.
        std::cerr << "mlrun: error: " << e.what() << "\n";
        return k_exit_usage;
    } catch (const Aborted& e) {
        std::cerr << "mlrun: interrupted\n";
        return k_exit_interrupted;
    } catch (const TaskFailed& e) {
        std::cerr << "mlrun: error: " << e.what() << "\n";
        return k_exit_failed;
    } catch (const std::exception& e) {
        std::cerr << "mlrun: error: " << e.what() << "\n";
        return k_exit_failed;
    } catch (...) {
        std::cerr << "mlrun: error: an exception of an unknown type\n";
        return k_exit_failed;
    }
}
