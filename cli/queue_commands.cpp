// mlrun queue create|list|dlq
#include "cli.hpp"

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
        auto* cmd = queue->add_subcommand("list", "List queues with pending, claimed and dead-lettered tasks");
        cmd->callback([&cli] {
            std::vector<std::vector<std::string>> rows;
            for (const QueueInfo& q : list_queues(cli.backends())) {
                rows.push_back({q.name, std::to_string(q.pending), std::to_string(q.claimed), std::to_string(q.dead)});
            }
            print_table({"QUEUE", "PENDING", "CLAIMED", "DEAD"}, rows);
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
