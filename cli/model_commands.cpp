// mlrun model list|show|pull: the model registry (recommended models, with lineage).
#include "cli.hpp"

#include "app/model_ops.hpp"
#include "core/util.hpp"

#include <algorithm>
#include <cstdio>

namespace mlrun::cli {

void add_model_commands(CLI::App& app, Cli& cli)
{
    CLI::App* model = app.add_subcommand("model", "The model registry: recommended models with lineage");
    model->require_subcommand(1);
    {
        auto* cmd = model->add_subcommand("list", "List registered model versions (smoke runs' hidden; --all)");
        auto all = std::make_shared<bool>(false);
        cmd->add_flag("--all", *all, "Also the versions CI smoke runs registered (tagged smoke)");
        cmd->callback([&cli, all] {
            std::vector<std::vector<std::string>> rows;
            size_t hidden = 0;
            for (const ModelRecord& r : list_models(cli.backends())) {
                bool smoke = std::find(r.tags.begin(), r.tags.end(), "smoke") != r.tags.end();
                if (smoke && !*all) {
                    ++hidden;
                    continue;
                }
                std::string metric;
                for (const char* m : {"roc_auc", "accuracy"}) {
                    if (r.metrics.contains(m) && r.metrics[m].is_number()) {
                        char buf[64];
                        std::snprintf(buf, sizeof buf, "%s=%.4f", m, r.metrics[m].get<double>());
                        metric = buf;
                        break;
                    }
                }
                rows.push_back({r.name, std::to_string(r.version) + (smoke ? " (smoke)" : ""), r.kind, r.task_id,
                                metric, age(r.created_ms)});
            }
            print_table({"NAME", "VERSION", "KIND", "TASK", "METRIC", "CREATED"}, rows);
            if (hidden > 0) {
                std::printf("(%zu version%s from smoke runs hidden: --all shows them)\n", hidden,
                            hidden == 1 ? "" : "s");
            }
        });
    }
    {
        auto* cmd = model->add_subcommand("show", "Show a model version (NAME or NAME:VERSION): metrics, lineage "
                                                  "(--json: the record)");
        auto ref = std::make_shared<std::string>();
        auto json = std::make_shared<bool>(false);
        cmd->add_option("model", *ref, "NAME or NAME:VERSION")->required();
        cmd->add_flag("--json", *json, "Print the model record as JSON, for scripts");
        cmd->callback([&cli, ref, json] {
            ModelRecord r = find_model(cli.backends(), *ref);
            if (*json) {
                std::printf("%s\n", r.to_json().dump(2).c_str());
                return;
            }
            auto text = [](const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
            std::printf("model    %s v%d (%s)\n", r.name.c_str(), r.version, r.kind.c_str());
            std::printf("task     %s (artifact %s)\n", r.task_id.c_str(), r.artifact.c_str());
            std::printf("run      %s, recommended by %s\n", r.run_id.empty() ? "-" : r.run_id.c_str(),
                        r.source_task.empty() ? "-" : r.source_task.c_str());
            std::printf("created  %s\n", format_time_ms(r.created_ms).c_str());
            if (!r.reason.empty()) {
                std::printf("why      %s\n", r.reason.c_str());
            }
            if (!r.tags.empty()) {
                std::string tags;
                for (const std::string& t : r.tags) {
                    tags += (tags.empty() ? "" : ", ") + t;
                }
                std::printf("tags     %s\n", tags.c_str());
            }
            std::vector<std::vector<std::string>> rows;
            for (const auto& [key, value] : r.metrics.items()) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "%.6g", value.is_number() ? value.get<double>() : 0.0);
                rows.push_back({key, value.is_number() ? buf : text(value)});
            }
            if (!rows.empty()) {
                std::printf("\n");
                print_table({"METRIC", "VALUE"}, rows);
            }
            if (r.lineage.is_object() && !r.lineage.empty()) {
                std::printf("\nlineage\n");
                for (const auto& [key, value] : r.lineage.items()) {
                    std::string shown = text(value);
                    if (shown.empty() || shown == "null") {
                        continue;
                    }
                    if (shown.size() > 100) {
                        shown = shown.substr(0, 97) + "... (--json for all)";
                    }
                    std::printf("  %-16s %s\n", key.c_str(), shown.c_str());
                }
            }
        });
    }
    {
        auto* cmd = model->add_subcommand(
            "pull",
            "Write a bundle that scores raw rows (model, transform, record) to a folder (default ./NAME-vVERSION)");
        auto ref = std::make_shared<std::string>();
        auto to = std::make_shared<std::string>();
        cmd->add_option("model", *ref, "NAME or NAME:VERSION")->required();
        cmd->add_option("--to", *to, "Destination folder");
        cmd->callback([&cli, ref, to] {
            std::filesystem::path dest = pull_model(cli.backends(), *ref, *to);
            std::printf("%s\n", dest.string().c_str());
        });
    }
}

} // namespace mlrun::cli
