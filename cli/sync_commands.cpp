// mlrun sync: send what the MLflow mirror could not send when the tasks ran.
#include "cli.hpp"

#include "app/sync.hpp"

#include <cstdio>

namespace mlrun::cli {

void add_sync_commands(CLI::App& app, Cli& cli)
{
    auto* cmd = app.add_subcommand("sync", "Send to the MLflow tracking server what it has not received yet "
                                           "(runs, params, metrics, artifacts, models); idempotent");
    auto request = std::make_shared<SyncRequest>();
    cmd->add_option("--run", request->run_id, "Only this pipeline run's tasks (id or prefix)");
    cmd->add_option("--task", request->task_id, "Only this task (id or prefix)");
    cmd->callback([&cli, request] {
        request->tracking = cli.backend_options.tracking;
        SyncResult r = sync_to_mlflow(cli.backends(), *request);
        for (const SyncLine& line : r.lines) {
            std::printf("%-8s %s %s: %s\n", line.synced ? "synced" : "FAILED", line.key.c_str(), line.name.c_str(),
                        line.detail.c_str());
        }
        std::printf("%zu sent, %zu already synced (%s)\n", r.lines.size(), r.up_to_date, r.server.c_str());
        if (r.exit_status != 0) {
            std::fprintf(stderr,
                         "mlrun: error: some tasks could not be sent to MLflow; run `mlrun sync` again later\n");
        }
        cli.exit_code = r.exit_status;
    });
}

} // namespace mlrun::cli
