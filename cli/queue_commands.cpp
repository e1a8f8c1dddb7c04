// mlrun queue create|list|show|purge|dlq
#include "cli.hpp"

#include "app/queue_ops.hpp"
#include "app/task_ops.hpp"
#include "core/util.hpp"
#include "ports/queue.hpp"

#include <cstdio>

namespace mlrun::cli {

void add_queue_commands(CLI::App& app, Cli& cli)
{
    CLI::App* queue = app.add_subcommand("queue", "Named queues for remote agents");
    queue->require_subcommand(1);
    {
        auto* cmd = queue->add_subcommand("create", "Create a queue");
        auto name = std::make_shared<std::string>();
        cmd->add_option("name", *name, "Queue name")->required();
        cmd->callback([&cli, name] {
            create_queue(cli.backends(), *name);
            std::printf("queue %s ready\n", name->c_str());
        });
    }
    {
        auto* cmd = queue->add_subcommand("list",
                                          "List queues: pending, running (claimed by an agent) and dead-lettered "
                                          "tasks, and the live agents serving each.\n"
                                          "Exit codes: 0 ok, 2 bad broker.");
        cmd->callback([&cli] {
            Backends& b = cli.backends();
            std::vector<std::vector<std::string>> rows;
            for (const QueueInfo& q : list_queues(b)) {
                std::string agents;
                for (const std::string& a : agents_serving(b, q.name)) {
                    agents += (agents.empty() ? "" : ",") + a;
                }
                rows.push_back({q.name, std::to_string(q.pending), std::to_string(q.claimed), std::to_string(q.dead),
                                agents.empty() ? "-" : agents});
            }
            print_table({"QUEUE", "PENDING", "RUNNING", "DEAD", "AGENTS"}, rows);
        });
    }
    {
        auto* cmd = queue->add_subcommand("show",
                                          "One queue: its counts, the tasks pending and running on it, its dead "
                                          "letters and the agents serving it.\n"
                                          "Exit codes: 0 ok, 2 unknown queue.");
        auto name = std::make_shared<std::string>();
        cmd->add_option("name", *name, "Queue name")->required();
        cmd->callback([&cli, name] {
            QueueView v = show_queue(cli.backends(), *name);
            auto ids = [](const std::vector<std::string>& items) {
                std::string out;
                for (const std::string& s : items) {
                    out += (out.empty() ? "" : " ") + s;
                }
                return out.empty() ? std::string("-") : out;
            };
            std::vector<std::string> dead;
            for (const DeadLetter& d : v.dead) {
                dead.push_back(d.task_id);
            }
            std::printf("queue:    %s\n", v.counts.name.c_str());
            std::printf("pending:  %zu  %s\n", v.counts.pending, ids(v.pending).c_str());
            std::printf("running:  %zu  %s\n", v.counts.claimed, ids(v.running).c_str());
            std::printf("dead:     %zu  %s\n", v.counts.dead, ids(dead).c_str());
            std::printf("agents:   %zu  %s\n", v.agents.size(), ids(v.agents).c_str());
        });
    }
    {
        auto* cmd = queue->add_subcommand("purge", "Take every pending task off a queue and back to draft (tasks an "
                                                   "agent already runs are left alone; dead letters stay).\n"
                                                   "Exit codes: 0 ok, 2 unknown queue.");
        auto name = std::make_shared<std::string>();
        cmd->add_option("name", *name, "Queue name")->required();
        cmd->callback([&cli, name] {
            std::vector<std::string> purged = purge_queue(cli.backends(), *name);
            for (const std::string& id : purged) {
                std::printf("%s\n", id.c_str());
            }
            std::fprintf(stderr, "%zu task(s) purged from %s\n", purged.size(), name->c_str());
        });
    }
    {
        auto* cmd = queue->add_subcommand("dlq", "List a queue's dead letters (tasks that failed every attempt) with "
                                                 "each attempt's error; --requeue ID puts one back.\n"
                                                 "Exit codes: 0 ok, 2 unknown queue or no such dead letter.");
        auto name = std::make_shared<std::string>();
        auto requeue = std::make_shared<std::string>();
        cmd->add_option("name", *name, "Queue name")->required();
        cmd->add_option("--requeue", *requeue, "Task id (or prefix) to move back to the queue");
        cmd->callback([&cli, name, requeue] {
            if (!requeue->empty()) {
                Task t = requeue_dead_letter(cli.backends(), *name, *requeue);
                std::printf("%s requeued on %s\n", t.id.c_str(), name->c_str());
                return;
            }
            std::vector<std::vector<std::string>> rows;
            for (const DeadLetter& d : list_dead_letters(cli.backends(), *name)) {
                std::string errors;
                for (const AttemptError& e : d.errors) {
                    errors += (errors.empty() ? "" : " | ") + std::to_string(e.attempt) + ": " + e.error;
                }
                rows.push_back(
                    {d.task_id, std::to_string(d.priority), std::to_string(d.errors.size()), age(d.dead_ms), errors});
            }
            print_table({"TASK", "PRIORITY", "ATTEMPTS", "DEAD", "ERRORS"}, rows);
        });
    }
}

} // namespace mlrun::cli
