// mlrun dataset create|list|show|get
#include "cli.hpp"

#include "app/dataset_ops.hpp"
#include "core/params.hpp"
#include "core/util.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

namespace mlrun::cli {

namespace {

// Version numbers per dataset name (1 = the oldest), from the creation order of the records.
std::map<std::string, int> version_numbers(std::vector<Json> all)
{
    std::stable_sort(all.begin(), all.end(), [](const Json& a, const Json& b) {
        return a.value("created_ms", std::int64_t{0}) < b.value("created_ms", std::int64_t{0});
    });
    std::map<std::string, int> count;
    std::map<std::string, int> out;
    for (const Json& d : all) {
        out[d["id"].get<std::string>()] = ++count[d.value("name", "")];
    }
    return out;
}

std::string bytes_text(std::uint64_t n)
{
    char buf[48];
    if (n >= 10ull << 20) {
        std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(n) / (1 << 20));
    } else if (n >= 10ull << 10) {
        std::snprintf(buf, sizeof buf, "%.1f kB", static_cast<double>(n) / (1 << 10));
    } else {
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    }
    return buf;
}

} // namespace

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
            std::vector<Json> all = list_datasets(cli.backends());
            std::map<std::string, int> versions = version_numbers(all);
            std::vector<std::vector<std::string>> rows;
            for (const Json& d : all) {
                rows.push_back({d["id"], d["name"], std::to_string(versions[d["id"].get<std::string>()]),
                                d.value("project", ""), d.value("parent", ""), std::to_string(d["files"].size()),
                                std::to_string(d["total_size"].get<std::uint64_t>()),
                                age(d.value("created_ms", std::int64_t{0}))});
            }
            print_table({"ID", "NAME", "VERSION", "PROJECT", "PARENT", "FILES", "BYTES", "CREATED"}, rows);
        });
    }
    {
        auto* cmd = ds->add_subcommand("show", "Show a dataset version and its files (--json: the record)");
        auto id = std::make_shared<std::string>();
        auto json = std::make_shared<bool>(false);
        cmd->add_option("id", *id, "Dataset id (or a unique prefix)")->required();
        cmd->add_flag("--json", *json, "Print the dataset record as JSON, for scripts");
        cmd->callback([&cli, id, json] {
            Json d = get_dataset(cli.backends(), *id);
            if (*json) {
                std::printf("%s\n", d.dump(2).c_str());
                return;
            }
            std::vector<Json> all = list_datasets(cli.backends());
            std::map<std::string, int> versions = version_numbers(all);
            int of = 0;
            for (const Json& other : all) {
                of += other.value("name", "") == d.value("name", "") ? 1 : 0;
            }
            const std::string parent = d.value("parent", "");
            std::printf("dataset  %s\n", d["id"].get<std::string>().c_str());
            std::printf("name     %s (version %d of %d)\n", d.value("name", "").c_str(),
                        versions[d["id"].get<std::string>()], of);
            std::printf("project  %s\n", d.value("project", "").empty() ? "-" : d.value("project", "").c_str());
            std::printf("parent   %s\n", parent.empty() ? "-" : parent.c_str());
            std::printf("created  %s\n", format_time_ms(d.value("created_ms", std::int64_t{0})).c_str());
            std::printf("files    %zu, %s (%s stored by this version)\n", d["files"].size(),
                        bytes_text(d.value("total_size", std::uint64_t{0})).c_str(),
                        bytes_text(d.value("stored_bytes", std::uint64_t{0})).c_str());
            std::vector<std::vector<std::string>> rows;
            for (const Json& f : d["files"]) {
                rows.push_back({f.value("path", ""), std::to_string(f.value("size", std::uint64_t{0})),
                                f.value("sha256", "").substr(0, 12), f.value("reused", false) ? "reused" : "new"});
            }
            print_table({"PATH", "BYTES", "SHA256", "STORED"}, rows);
        });
    }
    {
        auto* cmd = ds->add_subcommand("get", "Print the local folder holding a dataset version's files");
        auto id = std::make_shared<std::string>();
        cmd->add_option("id", *id, "Dataset id")->required();
        cmd->callback([&cli, id] { std::printf("%s\n", dataset_path(cli.backends(), *id).string().c_str()); });
    }
}

} // namespace mlrun::cli
