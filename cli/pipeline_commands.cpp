// mlrun pipeline run|show|list|explain
#include "cli.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "engine/ci_reports.hpp"
#include "engine/gates.hpp"
#include "engine/pipeline_runner.hpp"
#include "engine/progress.hpp"
#include "ml/leaderboard.hpp"
#include "ports/task_store.hpp"
#include "tracking/tracker.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <filesystem>

namespace mlrun::cli {

namespace {

struct RunArgs {
    std::string file;
    PipelineOptions options;
    bool json = false;
    bool quiet = false;
    std::vector<std::string> gates;
    bool gate_each = false;
    std::string baseline;
    std::vector<std::string> max_drop;
    std::string junit;
    std::string summary_md;
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
            Json lb = Json::parse(read_file(b.tracker->fetch_artifact(id, "leaderboard.json")), nullptr, false);
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
                   "Exit codes: 0 the run completed and its gates passed, 1 a step failed (a model under policy strict) or a gate was missed, 2 bad input, 130 interrupted "
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
        cmd->add_option("--gate", args->gates,
                        "Quality gate on the recommended model's test metric, e.g. 'roc_auc>=0.80' (repeatable; "
                        "adds to the file's gates:). A missed gate exits 1");
        cmd->add_flag("--gate-each", args->gate_each, "Check the gates against every ranked model, not only the recommended one");
        cmd->add_option("--baseline", args->baseline, "An earlier run to compare the recommended model with (see --max-drop)");
        cmd->add_option("--max-drop", args->max_drop, "Largest allowed drop against --baseline: METRIC=AMOUNT, e.g. roc_auc=0.02");
        auto queue = std::make_shared<std::string>();
        cmd->add_option("--queue", *queue, "Send the steps to agents on this queue (not implemented yet: runs are local)");
        cmd->add_option("--junit", args->junit, "Write a JUnit XML report: one test case per step and per gate");
        cmd->add_option("--summary-md", args->summary_md, "Write a Markdown summary (leaderboard, gates) for a CI job page");
        cmd->callback([&cli, args, queue] {
            if (!queue->empty()) {
                throw UsageError("pipeline run --queue: running steps on agents is not implemented yet; run without "
                                 "--queue to run the pipeline here");
            }
            if (args->file.empty() && args->options.resume_run.empty()) {
                throw UsageError("pipeline run: give a pipeline FILE or --resume RUN");
            }
            // Bad gate syntax is bad input: refuse it before anything runs.
            std::vector<Gate> gates;
            for (const std::string& g : args->gates) {
                gates.push_back(parse_gate(g));
            }
            std::map<std::string, double> max_drop;
            for (const std::string& d : args->max_drop) {
                max_drop.insert(parse_max_drop(d));
            }
            if (!max_drop.empty() && args->baseline.empty()) {
                throw UsageError("--max-drop needs --baseline RUN");
            }
            if (!args->baseline.empty() && max_drop.empty()) {
                throw UsageError("--baseline needs at least one --max-drop METRIC=AMOUNT");
            }
            Backends& b = cli.backends();
            std::string baseline_run = args->baseline.empty() ? "" : resolve_run(b, args->baseline);
            // Reports are written after the run: refuse a folder that does not exist now.
            for (const std::string& out : {args->junit, args->summary_md}) {
                if (out.empty()) {
                    continue;
                }
                std::filesystem::path parent = std::filesystem::absolute(out).parent_path();
                if (!std::filesystem::is_directory(parent)) {
                    throw UsageError("cannot write " + out + ": folder " + parent.string() + " does not exist");
                }
            }
            ProgressMode mode = args->json ? ProgressMode::json
                                : args->quiet ? ProgressMode::quiet
                                              : default_progress_mode(stderr);
            std::unique_ptr<RunObserver> progress = make_progress(mode, args->json ? stdout : stderr);
            install_signal_handlers();
            args->options.cancel = &interrupted();
            args->options.observer = progress.get();
            args->options.templates_dir = cli.templates_dir;
            PipelineResult result = run_pipeline(b, args->file, args->options);
            gates.insert(gates.end(), result.gates.begin(), result.gates.end()); // the file's gates:
            Json run = load_run(b, result.run_id);
            Json lb = run_leaderboard(b, run);
            std::vector<GateResult> checked = check_gates(lb, gates, args->gate_each);
            if (!baseline_run.empty()) {
                std::vector<GateResult> drops =
                    check_baseline(lb, run_leaderboard(b, load_run(b, baseline_run)), baseline_run, max_drop);
                checked.insert(checked.end(), drops.begin(), drops.end());
            }
            bool gates_ok = std::all_of(checked.begin(), checked.end(), [](const GateResult& g) { return g.passed; });
            if (!args->junit.empty()) {
                write_junit(args->junit, *b.store, run, checked);
            }
            if (!args->summary_md.empty()) {
                write_summary_markdown(args->summary_md, run, lb, checked);
            }
            if (!args->json) {
                if (!lb.is_null()) {
                    std::printf("\n%s", ml::format_leaderboard_table(lb).c_str());
                }
                for (const GateResult& g : checked) {
                    std::printf("gate %s: %s — %s\n", g.passed ? "passed" : "FAILED", g.name.c_str(), g.message.c_str());
                }
                std::printf("\nrun %s %s%s\n", result.run_id.c_str(), result.status.c_str(),
                            result.why.empty() ? "" : (": " + result.why).c_str());
                std::printf("details: mlrun pipeline show %s\n", result.run_id.c_str());
            } else {
                for (const GateResult& g : checked) {
                    std::printf("%s\n", Json{{"event", "gate"}, {"gate", g.name}, {"passed", g.passed}, {"message", g.message}}
                                            .dump()
                                            .c_str());
                }
            }
            for (const GateResult& g : checked) {
                if (!g.passed) {
                    std::fprintf(stderr, "mlrun: gate failed: %s\n", g.message.c_str());
                }
            }
            cli.exit_code = result.status == "aborted" ? 130 : result.status == "completed" && gates_ok ? 0 : 1;
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
                std::int64_t f = r.value("finished_ms", Json()).is_number() ? r["finished_ms"].get<std::int64_t>() : 0;
                rows.push_back({r.value("id", ""), r.value("pipeline", ""), r.value("status", ""),
                                std::to_string(r.value("nodes", Json::array()).size()), f ? format_duration_ms(f - s) : "-", age(s),
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
