// mlrun log scalar|value|artifact: how an exec task's command reports (MLRUN_TASK_ID).
#include "cli.hpp"

#include "app/task_ops.hpp"
#include "core/error.hpp"
#include "core/params.hpp"

#include <cstdio>
#include <cstdlib>

namespace mlrun::cli {

namespace {
std::string task_from_env(const std::string& given)
{
    if (!given.empty()) {
        return given;
    }
    const char* env = std::getenv("MLRUN_TASK_ID");
    if (!env || !*env) {
        throw UsageError("no task: run this inside an exec task (MLRUN_TASK_ID) or pass --task ID");
    }
    return env;
}
} // namespace

void add_log_commands(CLI::App& app, Cli& cli)
{
    CLI::App* log = app.add_subcommand("log", "Report from inside a task: scalars, single values, artifacts");
    log->require_subcommand(1);
    auto task = std::make_shared<std::string>();
    log->add_option("--task", *task, "Task id (default: $MLRUN_TASK_ID)");
    {
        auto* cmd = log->add_subcommand("scalar", "Report one point of a series: TITLE SERIES ITERATION VALUE");
        auto title = std::make_shared<std::string>();
        auto series = std::make_shared<std::string>();
        auto iteration = std::make_shared<std::int64_t>(0);
        auto value = std::make_shared<double>(0);
        cmd->add_option("title", *title, "e.g. loss")->required();
        cmd->add_option("series", *series, "e.g. train")->required();
        cmd->add_option("iteration", *iteration, "Step or epoch")->required();
        cmd->add_option("value", *value, "Number")->required();
        cmd->callback([&cli, task, title, series, iteration, value] {
            log_scalar(cli.backends(), task_from_env(*task), Scalar{*title, *series, *iteration, *value});
        });
    }
    {
        auto* cmd = log->add_subcommand("value", "Report a single value: NAME VALUE (typed like --set)");
        auto name = std::make_shared<std::string>();
        auto value = std::make_shared<std::string>();
        cmd->add_option("name", *name, "e.g. accuracy")->required();
        cmd->add_option("value", *value, "e.g. 0.93")->required();
        cmd->callback(
            [&cli, task, name, value] { log_value(cli.backends(), task_from_env(*task), *name, parse_value(*value)); });
    }
    {
        auto* cmd = log->add_subcommand("artifact", "Store a file or folder as an artifact: NAME PATH");
        auto name = std::make_shared<std::string>();
        auto path = std::make_shared<std::string>();
        cmd->add_option("name", *name, "Artifact name (no .. or leading /)")->required();
        cmd->add_option("path", *path, "File or folder")->required();
        cmd->callback([&cli, task, name, path] {
            ArtifactRecord a = log_artifact(cli.backends(), task_from_env(*task), *name, *path);
            std::printf("%s %llu bytes sha256:%s\n", a.name.c_str(), static_cast<unsigned long long>(a.size),
                        a.sha256.c_str());
        });
    }
}

} // namespace mlrun::cli
