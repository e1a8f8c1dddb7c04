// mlrun model list|show|pull: the model registry (recommended models, with lineage).
#include "cli.hpp"

#include "app/model_ops.hpp"

#include <cstdio>

namespace mlrun::cli {

void add_model_commands(CLI::App& app, Cli& cli)
{
    CLI::App* model = app.add_subcommand("model", "The model registry: recommended models with lineage");
    model->require_subcommand(1);
    {
        auto* cmd = model->add_subcommand("list", "List registered model versions");
        cmd->callback([&cli] {
            std::vector<std::vector<std::string>> rows;
            for (const ModelRecord& r : list_models(cli.backends())) {
                std::string metric;
                for (const char* m : {"roc_auc", "accuracy"}) {
                    if (r.metrics.contains(m) && r.metrics[m].is_number()) {
                        char buf[64];
                        std::snprintf(buf, sizeof buf, "%s=%.4f", m, r.metrics[m].get<double>());
                        metric = buf;
                        break;
                    }
                }
                rows.push_back({r.name, std::to_string(r.version), r.kind, r.task_id, metric, age(r.created_ms)});
            }
            print_table({"NAME", "VERSION", "KIND", "TASK", "METRIC", "CREATED"}, rows);
        });
    }
    {
        auto* cmd = model->add_subcommand("show", "Show a model version (NAME or NAME:VERSION): metrics, lineage");
        auto ref = std::make_shared<std::string>();
        cmd->add_option("model", *ref, "NAME or NAME:VERSION")->required();
        cmd->callback([&cli, ref] { std::printf("%s\n", find_model(cli.backends(), *ref).to_json().dump(2).c_str()); });
    }
    {
        auto* cmd = model->add_subcommand("pull", "Copy a model's files to a folder (default ./NAME-vVERSION)");
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
