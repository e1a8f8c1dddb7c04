// mlrun store migrate: maintenance of the store itself. One block per subcommand; the
// group needs no backends (it opens the stores it works on itself).
#include "cli.hpp"

#include "app/store_ops.hpp"

#include <cstdio>
#include <string>

namespace mlrun::cli {

namespace {

void add_migrate(CLI::App& store, Cli& cli)
{
    auto* cmd = store.add_subcommand(
        "migrate", "Import a folder store of an older mlrun (tasks, scalars, logs, artifacts, runs, models, datasets, "
                   "queues) into the SQLite store, count for count; its old records are moved aside once verified");
    auto request = std::make_shared<MigrateRequest>();
    cmd->add_option("--from", request->from, "The folder store (folder:PATH; default: the one at --home)");
    cmd->add_option("--to", request->to, "The new store (sqlite:PATH or a path; default: the same folder)");
    cmd->callback([&cli, request] {
        request->home = cli.backend_options.home;
        MigrateReport r = migrate_store(*request,
                                        [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
        std::printf("migrated %s -> %s\n", r.from.c_str(), r.to.c_str());
        for (const MigrateCount& c : r.counts) {
            std::string line = "  " + c.what + std::string(c.what.size() < 10 ? 10 - c.what.size() : 0, ' ');
            char numbers[64];
            std::snprintf(numbers, sizeof numbers, " %8zu -> %zu", c.found, c.imported);
            line += numbers;
            if (!c.note.empty()) {
                line += "  (" + c.note + ")";
            }
            std::printf("%s\n", line.c_str());
        }
        if (!r.moved_aside.empty()) {
            std::printf("the folder store's record files are in %s (delete it once you are satisfied)\n",
                        r.moved_aside.c_str());
        }
    });
}

} // namespace

void add_store_commands(CLI::App& app, Cli& cli)
{
    CLI::App* store = app.add_subcommand("store", "The store itself: migrate an older folder store");
    store->require_subcommand(1);
    add_migrate(*store, cli);
}

} // namespace mlrun::cli
