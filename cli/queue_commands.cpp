// mlrun queue create|list
#include "cli.hpp"

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
            cli.backends().queue->create(*name);
            std::printf("queue %s ready\n", name->c_str());
        });
    }
    {
        auto* cmd = queue->add_subcommand("list", "List queues with pending, claimed and dead-lettered tasks");
        cmd->callback([&cli] {
            std::vector<std::vector<std::string>> rows;
            for (const QueueInfo& q : cli.backends().queue->list()) {
                rows.push_back({q.name, std::to_string(q.pending), std::to_string(q.claimed), std::to_string(q.dead)});
            }
            print_table({"QUEUE", "PENDING", "CLAIMED", "DEAD"}, rows);
        });
    }
}

} // namespace mlrun::cli
