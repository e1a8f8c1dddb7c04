// mlrun store check [--repair]: find (and fix) what is broken in the store.
#include "cli.hpp"

#include "app/store_check.hpp"
#include "core/error.hpp"
#include "core/params.hpp"

#include <cstdio>

namespace mlrun::cli {

namespace {
// The `store` group: shared with the other store commands (migrate), whichever registers first.
CLI::App* store_group(CLI::App& app)
{
    for (CLI::App* sub : app.get_subcommands([](CLI::App* a) { return a->get_name() == "store"; })) {
        return sub;
    }
    auto* group = app.add_subcommand("store", "Check and maintain the store");
    group->require_subcommand(1);
    return group;
}
} // namespace

void add_store_check_commands(CLI::App& app, Cli& cli)
{
    auto* cmd = store_group(app)->add_subcommand(
        "check", "Find unreadable records, leftover temp files, dangling blobs and dead runs; exit 1 when any");
    auto repair = std::make_shared<bool>(false);
    auto json = std::make_shared<bool>(false);
    cmd->add_flag("--repair", *repair,
                  "Quarantine what is broken (moved under <store>/quarantine/) and mark dead runs failed");
    cmd->add_flag("--json", *json, "The findings as JSON");
    cmd->callback([&cli, repair, json] {
        StoreCheckOptions options;
        options.repair = *repair;
        StoreCheckReport report = check_store(*cli.backends().local, options);
        if (*json) {
            Json out = Json::array();
            for (const StoreFinding& f : report.findings) {
                out.push_back(
                    Json{{"kind", f.kind}, {"where", f.where}, {"detail", f.detail}, {"repaired", f.repaired}});
            }
            std::printf("%s\n", out.dump(2).c_str());
        } else {
            std::printf("%s", format_store_report(report, *repair).c_str());
        }
        cli.exit_code = report.clean() ? k_exit_ok : k_exit_failed;
    });
}

} // namespace mlrun::cli
