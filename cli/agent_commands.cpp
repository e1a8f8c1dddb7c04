// mlrun agent daemon|list|stop
#include "cli.hpp"

#include "app/agent_ops.hpp"
#include "core/error.hpp"
#include "core/util.hpp"
#include "ports/agent_registry.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

namespace mlrun::cli {

namespace {

std::int64_t seconds_to_ms(double s)
{
    return static_cast<std::int64_t>(std::llround(s * 1000.0));
}

std::string join(const std::vector<std::string>& items)
{
    std::string out;
    for (const std::string& s : items) {
        out += (out.empty() ? "" : ",") + s;
    }
    return out;
}

} // namespace

void add_agent_commands(CLI::App& app, Cli& cli)
{
    CLI::App* agent = app.add_subcommand("agent", "Agents: daemons that run queued tasks");
    agent->require_subcommand(1);
    {
        auto* cmd = agent->add_subcommand(
            "daemon", "Serve queues: claim each task (first queue first), run it as `mlrun task run` in a child\n"
                      "process, heartbeat its lease, ack when it ends; --workers N runs up to N tasks at once, each\n"
                      "with its own child and lease. SIGTERM or `mlrun agent stop` stops claiming and lets the\n"
                      "running tasks finish within --grace, else requeues them.\n"
                      "--gpus 0,1,...: CUDA_VISIBLE_DEVICES of each worker's children. With at least as many\n"
                      "devices as workers each worker gets a contiguous block (0,1,2,3 over 2 workers: 0,1 and\n"
                      "2,3); with fewer, worker i shares device i mod the number of devices.\n"
                      "Exit codes: 0 stopped (signal, stop request, --once, --max-idle), 2 bad input.");
        struct Args {
            std::vector<std::string> queues;
            std::string name;
            bool once = false;
            int workers = 1;
            std::string gpus;
            double max_idle_s = 0;
            double lease_s = 60;
            double grace_s = 30;
            bool quiet = false;
            bool cold = false;
        };
        auto a = std::make_shared<Args>();
        cmd->add_option("--queue", a->queues, "Queue to serve (repeatable; the first has the highest priority)")
            ->required();
        cmd->add_option("--name", a->name, "Agent name (default: <host>-<pid>)");
        cmd->add_flag("--once", a->once, "Exit after one task");
        cmd->add_option("--workers", a->workers, "Tasks run at once (default 1)")->check(CLI::Range(1, 1024));
        cmd->add_option("--gpus", a->gpus, "GPU devices spread over the workers (e.g. 0,1)");
        cmd->add_option("--max-idle", a->max_idle_s, "Exit after this many seconds without a task (0: never)")
            ->check(CLI::NonNegativeNumber);
        cmd->add_option("--lease", a->lease_s, "Lease of each claim in seconds (heartbeat every quarter)")
            ->check(CLI::Range(0.1, 86400.0));
        cmd->add_option("--grace", a->grace_s, "On stop, seconds the running task may still take")
            ->check(CLI::NonNegativeNumber);
        cmd->add_flag("--quiet,-q", a->quiet, "No event lines on stderr");
        // Benchmarks only: start every child cold (no warm `mlrun task run` waiting ahead).
        cmd->add_flag("--cold", a->cold, "Start each task's child only when it is claimed")->group("");
        cmd->callback([&cli, a] {
            install_signal_handlers();
            std::vector<std::string> worker_gpus = assign_gpus(a->gpus, a->workers); // bad list: exit 2 first
            cli.backend_options.lease_ms = seconds_to_ms(a->lease_s);
            Backends& b = cli.backends();
            AgentOptions options;
            options.name = a->name;
            options.queues = a->queues;
            options.once = a->once;
            options.workers = a->workers;
            options.worker_gpus = worker_gpus;
            options.warm_children = !a->cold;
            options.max_idle_ms = seconds_to_ms(a->max_idle_s);
            options.lease_ms = seconds_to_ms(a->lease_s);
            options.grace_ms = seconds_to_ms(a->grace_s);
            options.stop = &interrupted();
            if (!a->quiet) {
                options.on_log = [](const std::string& line) {
                    std::fprintf(stderr, "%s mlrun agent: %s\n", format_time_ms(now_ms()).c_str(), line.c_str());
                    std::fflush(stderr);
                };
            }
            run_agent_daemon(b, cli.backend_options, options);
            cli.exit_code = 0;
        });
    }
    {
        auto* cmd = agent->add_subcommand("list",
                                          "Live agents: name, host, pid, queues, current tasks (one per busy "
                                          "worker), last heartbeat, tasks done. Exit codes: 0 ok, 2 bad input.");
        cmd->callback([&cli] {
            std::vector<std::vector<std::string>> rows;
            for (const AgentInfo& ag : cli.backends().agents->live()) {
                rows.push_back({ag.name, ag.host, std::to_string(ag.pid), join(ag.queues),
                                ag.current_task.empty() ? "-" : ag.current_task, age(ag.heartbeat_ms),
                                std::to_string(ag.tasks_done), ag.stopping ? "stopping" : "running"});
            }
            print_table({"NAME", "HOST", "PID", "QUEUES", "TASK", "HEARTBEAT", "DONE", "STATE"}, rows);
        });
    }
    {
        auto* cmd = agent->add_subcommand(
            "stop", "Ask an agent to stop claiming; it finishes (or requeues) its current task and exits.\n"
                    "Exit codes: 0 asked (with --drain: it has exited), 1 --timeout passed, 2 no such live agent.");
        auto name = std::make_shared<std::string>();
        auto drain = std::make_shared<bool>(false);
        auto timeout_s = std::make_shared<double>(0);
        cmd->add_option("name", *name, "Agent name (see `mlrun agent list`)")->required();
        cmd->add_flag("--drain", *drain, "Wait until the agent has finished its task and exited");
        cmd->add_option("--timeout", *timeout_s, "With --drain: give up after this many seconds (0: never)")
            ->check(CLI::NonNegativeNumber);
        cmd->callback([&cli, name, drain, timeout_s] {
            install_signal_handlers();
            AgentRegistry& agents = *cli.backends().agents;
            if (!agents.request_stop(*name)) {
                std::vector<std::string> names;
                for (const AgentInfo& ag : agents.live()) {
                    names.push_back(ag.name);
                }
                throw UsageError("no live agent named \"" + *name + "\""
                                 + (names.empty() ? std::string(" (none is live)") : " (live: " + join(names) + ")"));
            }
            std::printf("agent %s asked to stop\n", name->c_str());
            if (!*drain) {
                return;
            }
            auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(seconds_to_ms(*timeout_s));
            for (;;) {
                bool live = false;
                for (const AgentInfo& ag : agents.live()) {
                    live = live || ag.name == *name;
                }
                if (!live) {
                    std::printf("agent %s stopped\n", name->c_str());
                    return;
                }
                if (interrupted().load()) {
                    throw Aborted("interrupted");
                }
                if (*timeout_s > 0 && std::chrono::steady_clock::now() >= deadline) {
                    std::fprintf(stderr, "mlrun: agent %s still running after %g s\n", name->c_str(), *timeout_s);
                    cli.exit_code = 1;
                    return;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
            }
        });
    }
}

} // namespace mlrun::cli
