// mlrun dataset create|list|show|get
#include "cli.hpp"

#include "app/dataset_ops.hpp"
#include "core/params.hpp"
#include "core/util.hpp"

#include <cstdio>

namespace mlrun::cli {

void add_dataset_commands(CLI::App& app, Cli& cli)
{
    CLI::App* ds = app.add_subcommand("dataset", "Versioned, content-addressed datasets");
    ds->require_subcommand(1);
    {
        auto* cmd = ds->add_subcommand("create",
                                       "Make a finalized dataset version from files and folders; prints its id");
        auto req = std::make_shared<DatasetRequest>();
        auto paths = std::make_shared<std::vector<std::string>>();
        cmd->add_option("--name", req->name, "Dataset name")->required();
        cmd->add_option("--project", req->project, "Project");
        cmd->add_option("--parent", req->parent, "Parent version: its files are kept, unchanged ones not stored again");
        cmd->add_option("paths", *paths, "Files or folders")->required();
        cmd->callback([&cli, req, paths] {
            for (const std::string& p : *paths) {
                req->paths.emplace_back(p);
            }
            Json rec = create_dataset(cli.backends(), *req);
            std::fprintf(stderr, "dataset %s: %zu files, %llu bytes (%llu new)\n",
                         rec["name"].get<std::string>().c_str(), rec["files"].size(),
                         static_cast<unsigned long long>(rec["total_size"].get<std::uint64_t>()),
                         static_cast<unsigned long long>(rec["stored_bytes"].get<std::uint64_t>()));
            std::printf("%s\n", rec["id"].get<std::string>().c_str());
        });
    }
    {
        auto* cmd = ds->add_subcommand("list", "List dataset versions");
        cmd->callback([&cli] {
            std::vector<std::vector<std::string>> rows;
            for (const Json& d : list_datasets(cli.backends())) {
                rows.push_back({d["id"], d["name"], d.value("project", ""), d.value("parent", ""),
                                std::to_string(d["files"].size()), std::to_string(d["total_size"].get<std::uint64_t>()),
                                age(d.value("created_ms", std::int64_t{0}))});
            }
            print_table({"ID", "NAME", "PROJECT", "PARENT", "FILES", "BYTES", "CREATED"}, rows);
        });
    }
    {
        auto* cmd = ds->add_subcommand("show", "Show a dataset version and its files");
        auto id = std::make_shared<std::string>();
        cmd->add_option("id", *id, "Dataset id")->required();
        cmd->callback([&cli, id] { std::printf("%s\n", get_dataset(cli.backends(), *id).dump(2).c_str()); });
    }
    {
        auto* cmd = ds->add_subcommand("get", "Print the local folder holding a dataset version's files");
        auto id = std::make_shared<std::string>();
        cmd->add_option("id", *id, "Dataset id")->required();
        cmd->callback([&cli, id] { std::printf("%s\n", dataset_path(cli.backends(), *id).string().c_str()); });
    }
}

} // namespace mlrun::cli
