// mlrun model list|show|pull: the model registry (recommended models, with lineage).
#include "cli.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "tracking/tracker.hpp"

#include <cstdio>
#include <filesystem>

namespace mlrun::cli {

namespace {
// "name" or "name:3"
std::pair<std::string, int> parse_ref(const std::string& ref)
{
    size_t colon = ref.rfind(':');
    if (colon == std::string::npos) {
        return {ref, 0};
    }
    try {
        return {ref.substr(0, colon), std::stoi(ref.substr(colon + 1))};
    } catch (const std::exception&) {
        throw UsageError("model \"" + ref + "\": expected NAME or NAME:VERSION");
    }
}

ModelRecord find_model(Tracker& tracker, const std::string& ref)
{
    auto [name, version] = parse_ref(ref);
    std::optional<ModelRecord> r = tracker.model(name, version);
    if (!r) {
        throw UsageError("unknown model \"" + ref + "\" (see `mlrun model list`)");
    }
    return *r;
}
} // namespace

void add_model_commands(CLI::App& app, Cli& cli)
{
    CLI::App* model = app.add_subcommand("model", "The model registry: recommended models with lineage");
    model->require_subcommand(1);
    {
        auto* cmd = model->add_subcommand("list", "List registered model versions");
        cmd->callback([&cli] {
            std::vector<std::vector<std::string>> rows;
            for (const ModelRecord& r : cli.backends().tracker->models("")) {
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
        cmd->callback([&cli, ref] { std::printf("%s\n", find_model(*cli.backends().tracker, *ref).to_json().dump(2).c_str()); });
    }
    {
        auto* cmd = model->add_subcommand("pull", "Copy a model's files to a folder (default ./NAME-vVERSION)");
        auto ref = std::make_shared<std::string>();
        auto to = std::make_shared<std::string>();
        cmd->add_option("model", *ref, "NAME or NAME:VERSION")->required();
        cmd->add_option("--to", *to, "Destination folder");
        cmd->callback([&cli, ref, to] {
            Tracker& tracker = *cli.backends().tracker;
            ModelRecord r = find_model(tracker, *ref);
            std::filesystem::path src = tracker.fetch_artifact(r.task_id, r.artifact);
            std::filesystem::path dest = to->empty() ? r.name + "-v" + std::to_string(r.version) : *to;
            if (std::filesystem::exists(dest)) {
                throw UsageError("model pull: " + dest.string() + " exists already");
            }
            std::filesystem::path tmp = dest;
            tmp += ".tmp." + new_id();
            std::filesystem::copy(src, tmp, std::filesystem::copy_options::recursive);
            std::filesystem::rename(tmp, dest);
            std::printf("%s\n", dest.string().c_str());
        });
    }
}

} // namespace mlrun::cli
