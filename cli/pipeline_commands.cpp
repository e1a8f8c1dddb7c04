// mlrun pipeline run|show|list|explain
#include "cli.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "engine/pipeline_runner.hpp"
#include "engine/progress.hpp"
#include "ml/leaderboard.hpp"
#include "store/task_store.hpp"
#include "tracking/tracker.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace mlrun::cli {

namespace {

struct RunArgs {
    std::string file;
    PipelineOptions options;
    bool json = false;
    bool quiet = false;
};

// The leaderboard of the run's summary step, or null when there is none.
Json run_leaderboard(Backends& b, const Json& run)
{
    for (const Json& n : run["nodes"]) {
        std::string id = n.value("task_id", "");
        if (id.empty() || (n["state"] != "completed" && n["state"] != "cached")) {
            continue;
        }
        std::optional<Task> t = b.store->find(id);
        if (t && t->kind == "summary") {
            std::ifstream in(b.tracker->fetch_artifact(id, "leaderboard.json"));
            std::stringstream ss;
            ss << in.rdbuf();
            Json lb = Json::parse(ss.str(), nullptr, false);
            return lb.is_discarded() ? Json() : lb;
        }
    }
    return Json();
}

} // namespace

void add_pipeline_commands(CLI::App& app, Cli& cli)
{
    CLI::App* pipeline = app.add_subcommand("pipeline", "Run pipelines and inspect their runs");
    pipeline->require_subcommand(1);
    {
        auto* cmd = pipeline->add_subcommand(
            "run", "Run a pipeline file locally on a TBB graph; prints the leaderboard.\n"
                   "Exit codes: 0 the run completed, 1 a step failed (or a strict-policy model), 2 bad input, 130 interrupted "
                   "(resume with --resume RUN).");
        auto args = std::make_shared<RunArgs>();
        cmd->add_option("file", args->file, "Pipeline YAML file (omit with --resume)");
        cmd->add_option("--set", args->options.sets, "Override a step param: step.key=value (repeatable)");
        cmd->add_option("--parallelism,-j", args->options.parallelism, "Steps running at once (default: the file's)")
            ->check(CLI::PositiveNumber);
        cmd->add_flag("--no-cache", args->options.no_cache, "Run every step even if a cached result exists");
        cmd->add_option("--no-cache-step", args->options.no_cache_steps, "Run this step (or train::x node) even if cached");
        cmd->add_option("--resume", args->options.resume_run, "Rerun only what did not complete in this run");
        cmd->add_flag("--smoke", args->options.smoke, "Apply the file's smoke profile (small data, few epochs) for CI");
        cmd->add_flag("--json", args->json, "One JSON event per line on stdout instead of progress");
        cmd->add_flag("--quiet,-q", args->quiet, "No progress output");
        cmd->add_option("--cores", args->options.cores, "Cores to share between running steps (default: all)")
            ->check(CLI::PositiveNumber);
        cmd->callback([&cli, args] {
            if (args->file.empty() && args->options.resume_run.empty()) {
                throw UsageError("pipeline run: give a pipeline FILE or --resume RUN");
            }
            Backends& b = cli.backends();
            ProgressMode mode = args->json ? ProgressMode::json
                                : args->quiet ? ProgressMode::quiet
                                              : default_progress_mode(stderr);
            std::unique_ptr<RunObserver> progress = make_progress(mode, args->json ? stdout : stderr);
            install_signal_handlers();
            args->options.cancel = &interrupted();
            args->options.observer = progress.get();
            args->options.templates_dir = cli.templates_dir;
            PipelineResult result = run_pipeline(b, args->file, args->options);
            if (!args->json) {
                Json lb = run_leaderboard(b, result.record);
                if (!lb.is_null()) {
                    std::printf("\n%s", ml::format_leaderboard_table(lb).c_str());
                }
                std::printf("\nrun %s %s%s\n", result.run_id.c_str(), result.status.c_str(),
                            result.why.empty() ? "" : (": " + result.why).c_str());
                std::printf("details: mlrun pipeline show %s\n", result.run_id.c_str());
            }
            cli.exit_code = result.status == "completed" ? 0 : result.status == "aborted" ? 130 : 1;
        });
    }
    {
        auto* cmd = pipeline->add_subcommand("show", "Show a run's DAG with each step's status, duration and metric");
        auto id = std::make_shared<std::string>();
        auto json = std::make_shared<bool>(false);
        cmd->add_option("run", *id, "Run id (or a unique prefix)")->required();
        cmd->add_flag("--json", *json, "The run record as JSON");
        cmd->callback([&cli, id, json] {
            Json run = load_run(cli.backends(), *id);
            if (*json) {
                std::printf("%s\n", run.dump(2).c_str());
                return;
            }
            std::printf("%s", format_run(run).c_str());
            Json lb = run_leaderboard(cli.backends(), run);
            if (!lb.is_null()) {
                std::printf("\n%s", ml::format_leaderboard_table(lb).c_str());
            }
        });
    }
    {
        auto* cmd = pipeline->add_subcommand("list", "List pipeline runs");
        cmd->callback([&cli] {
            std::vector<std::vector<std::string>> rows;
            for (const Json& r : list_runs(cli.backends())) {
                std::int64_t s = r.value("started_ms", std::int64_t{0});
                std::int64_t f = r["finished_ms"].is_number() ? r["finished_ms"].get<std::int64_t>() : 0;
                rows.push_back({r.value("id", ""), r.value("pipeline", ""), r.value("status", ""),
                                std::to_string(r["nodes"].size()), f ? format_duration_ms(f - s) : "-", age(s),
                                r.value("smoke", false) ? "smoke" : ""});
            }
            print_table({"RUN", "PIPELINE", "STATUS", "STEPS", "DURATION", "STARTED", "PROFILE"}, rows);
        });
    }
    {
        auto* cmd = pipeline->add_subcommand("explain", "Tell why a step of a run was or was not reused from the cache");
        auto id = std::make_shared<std::string>();
        auto step = std::make_shared<std::string>();
        cmd->add_option("run", *id, "Run id")->required();
        cmd->add_option("step", *step, "Step name, e.g. train::mlp")->required();
        cmd->callback([&cli, id, step] { std::printf("%s", explain_step(cli.backends(), *id, *step).c_str()); });
    }
}

} // namespace mlrun::cli
