// mlrun pipeline run|show|list|explain
#include "cli.hpp"

#include "app/pipeline_job.hpp"
#include "app/sync.hpp"
#include "core/crash.hpp"
#include "core/util.hpp"
#include "engine/pipeline_runner.hpp"
#include "engine/progress.hpp"
#include "engine/run_record.hpp"
#include "ml/leaderboard.hpp"

#include <cstdio>

namespace mlrun::cli {

namespace {

struct RunArgs {
    PipelineJobRequest request;
    bool json = false;
    bool quiet = false;
    bool wide = false;
};

constexpr const char* k_wide_help = "Print every leaderboard column (by default the table fits $COLUMNS or the "
                                    "terminal, else 80 columns, hiding the less important ones)";

// The run's and its tasks' MLflow sync state: one line for the run, one per task behind.
void print_run_mirror(Backends& b, const Json& run)
{
    const std::string line = mirror_line(run_mirror_state(*b.store, run));
    if (!line.empty()) {
        std::printf("\nmlflow: %s\n", line.c_str());
    }
    TaskFilter filter;
    filter.run_id = run.value("id", "");
    for (const Task& t : b.store->list(filter)) {
        const MirrorState s = task_mirror_state(*b.store, t);
        if (s.tracked && !s.synced) {
            std::printf("  %s (%s): %s\n", t.name.c_str(), t.id.c_str(), mirror_line(s).c_str());
        }
    }
}

// Passes every event on, and names the run in the fatal-signal line once it has an id.
class CrashHintObserver final : public RunObserver {
public:
    explicit CrashHintObserver(RunObserver* inner) : m_inner(inner) {}
    void run_started(const std::string& run_id, const std::string& pipeline, const std::vector<std::string>& steps,
                     int parallelism) override
    {
        set_crash_run_hint(run_id);
        if (m_inner) {
            m_inner->run_started(run_id, pipeline, steps, parallelism);
        }
    }
    void step_event(const StepEvent& event) override
    {
        if (m_inner) {
            m_inner->step_event(event);
        }
    }
    void run_finished(const std::string& run_id, const std::string& status, std::int64_t elapsed_ms) override
    {
        if (m_inner) {
            m_inner->run_finished(run_id, status, elapsed_ms);
        }
    }

private:
    RunObserver* m_inner;
};

} // namespace

void add_pipeline_commands(CLI::App& app, Cli& cli)
{
    CLI::App* pipeline = app.add_subcommand("pipeline", "Run pipelines and inspect their runs");
    pipeline->require_subcommand(1);
    {
        auto* cmd = pipeline->add_subcommand(
            "run", "Run a pipeline file locally on a TBB graph, or on agents with --queue; prints the leaderboard.\n"
                   "Exit codes: 0 the run completed and its gates passed, 1 a step failed (a model under policy "
                   "strict) or a gate was missed, 2 bad input, 130 interrupted "
                   "(resume with --resume RUN).");
        auto args = std::make_shared<RunArgs>();
        cmd->add_option("file", args->request.file, "Pipeline YAML file (omit with --resume)");
        cmd->add_option("--set", args->request.options.sets, "Override a step param: step.key=value (repeatable)");
        cmd->add_option("--parallelism,-j", args->request.options.parallelism,
                        "Steps running at once (default: the file's)")
            ->check(whole_number_at_least(1));
        cmd->add_flag("--no-cache", args->request.options.no_cache, "Run every step even if a cached result exists");
        cmd->add_option("--no-cache-step", args->request.options.no_cache_steps,
                        "Run this step (or train::x node) even if cached");
        cmd->add_option("--resume", args->request.options.resume_run,
                        "Rerun only what did not complete in this run (an id, a prefix, or `last`)");
        cmd->add_flag("--smoke", args->request.options.smoke,
                      "Apply the file's smoke profile (small data, few epochs) for CI");
        cmd->add_flag("--dry-run,-n", args->request.options.dry_run,
                      "Show which steps would run and which are cached or kept, without running or writing anything");
        cmd->add_flag("--json", args->json, "One JSON event per line on stdout instead of progress");
        cmd->add_flag("--quiet,-q", args->quiet, "No progress output");
        cmd->add_flag("--wide", args->wide, k_wide_help);
        cmd->add_option("--cores", args->request.options.cores, "Cores to share between running steps (default: all)")
            ->check(whole_number_at_least(1));
        cmd->add_option("--gate", args->request.gates,
                        "Quality gate on the recommended model's test metric, e.g. 'roc_auc>=0.80' (repeatable; "
                        "adds to the file's gates:). A missed gate exits 1");
        cmd->add_flag("--gate-each", args->request.gate_each,
                      "Check the gates against every ranked model, not only the recommended one");
        cmd->add_option("--baseline", args->request.baseline,
                        "An earlier run to compare the recommended model with (see --max-drop)");
        cmd->add_option("--max-drop", args->request.max_drop,
                        "Largest allowed drop against --baseline: METRIC=AMOUNT, e.g. roc_auc=0.02");
        cmd->add_option("--baseline-model", args->request.baseline_model,
                        "A registered model version on the MLflow server to compare with, by alias: "
                        "NAME@ALIAS, e.g. titanic@recommended (see --max-drop)");
        cmd->add_option("--queue", args->request.queue,
                        "Run the steps on agents: the default queue of every step (a step's own queue: wins). "
                        "Checks first that every queue exists (exit 2), turns local data.path files into dataset "
                        "versions, then enqueues each step when it is ready and waits for its completion event. "
                        "With --resume, steps still queued or running on agents are adopted, not run again");
        cmd->add_flag("--require-agent", args->request.require_agent,
                      "With --queue: refuse (exit 2) unless a live agent serves every queue the run needs");
        cmd->add_option("--priority", args->request.priority, "With --queue: the priority of every step's push");
        cmd->add_option("--controller-queue", args->request.controller_queue,
                        "With --queue: run the controller itself as a task on an agent serving this queue (e.g. "
                        "services) and return once it is enqueued (exit 0); its log holds the run's --json events "
                        "(`mlrun task logs -f ID`). Requeued after its agent died, it resumes the same run");
        cmd->add_option("--junit", args->request.junit,
                        "Write a JUnit XML report: one test case per step and per gate");
        cmd->add_option("--summary-md", args->request.summary_md,
                        "Write a Markdown summary (leaderboard, gates) for a CI job page");
        cmd->callback([&cli, args] {
            ProgressMode mode = args->json    ? ProgressMode::json
                                : args->quiet ? ProgressMode::quiet
                                              : default_progress_mode(stderr);
            std::unique_ptr<RunObserver> progress = make_progress(mode, args->json ? stdout : stderr);
            install_signal_handlers();
            PipelineJobRequest request = args->request;
            request.options.cancel = &interrupted();
            CrashHintObserver observer(progress.get());
            request.options.observer = &observer;
            request.options.templates_dir = cli.templates_dir;
            request.tracking = cli.backend_options.tracking;
            PipelineJobResult job = run_pipeline_job(cli.running_backends(), request);
            if (!job.controller_task.empty()) {
                if (args->json) {
                    std::printf("%s\n", Json{{"event", "controller_enqueued"},
                                             {"task_id", job.controller_task},
                                             {"queue", request.controller_queue}}
                                            .dump()
                                            .c_str());
                } else {
                    std::printf("controller task %s enqueued on %s; follow it with `mlrun task logs -f %s`; the run "
                                "shows in `mlrun pipeline list`\n",
                                job.controller_task.c_str(), request.controller_queue.c_str(),
                                job.controller_task.c_str());
                }
                cli.exit_code = 0;
                return;
            }
            const PipelineResult& result = job.run;
            if (request.options.dry_run) {
                if (args->json) {
                    std::printf("%s\n", result.record.dump().c_str());
                } else {
                    std::printf("%s", format_run(result.record).c_str());
                    std::printf("\ndry run: nothing was run or written\n");
                }
                cli.exit_code = job.exit_status;
                return;
            }
            const Json& lb = job.leaderboard;
            const std::vector<GateResult>& checked = job.gates;
            if (!args->json) {
                if (!lb.is_null()) {
                    std::printf("\n%s", ml::format_leaderboard_table(lb, args->wide ? 0 : output_width()).c_str());
                }
                for (const GateResult& g : checked) {
                    std::printf("gate %s: %s — %s\n", g.passed ? "passed" : "FAILED", g.name.c_str(),
                                g.message.c_str());
                }
                std::printf("\nrun %s %s%s\n", result.run_id.c_str(), result.status.c_str(),
                            result.why.empty() ? "" : (": " + result.why).c_str());
                std::printf("details: mlrun pipeline show %s\n", result.run_id.c_str());
            } else {
                for (const GateResult& g : checked) {
                    std::printf("%s\n",
                                Json{{"event", "gate"}, {"gate", g.name}, {"passed", g.passed}, {"message", g.message}}
                                    .dump()
                                    .c_str());
                }
            }
            for (const GateResult& g : checked) {
                if (!g.passed) {
                    std::fprintf(stderr, "mlrun: gate failed: %s\n", g.message.c_str());
                }
            }
            if (result.status != "completed") {
                // The reason also on stderr: CI logs and `2>err` keep it when stdout goes elsewhere.
                std::fprintf(stderr, "mlrun: run %s %s%s\n", result.run_id.c_str(), result.status.c_str(),
                             result.why.empty() ? "" : (": " + result.why).c_str());
            }
            cli.exit_code = job.exit_status;
        });
    }
    {
        auto* cmd = pipeline->add_subcommand("show", "Show a run's DAG with each step's status, duration and metric");
        auto id = std::make_shared<std::string>();
        auto json = std::make_shared<bool>(false);
        auto wide = std::make_shared<bool>(false);
        cmd->add_option("run", *id, "Run id, a unique prefix of one, or `last`")->required();
        cmd->add_flag("--json", *json, "The run record as JSON");
        cmd->add_flag("--wide", *wide, k_wide_help);
        cmd->callback([&cli, id, json, wide] {
            Json run = load_run(cli.backends().ports(), *id);
            if (*json) {
                std::printf("%s\n", run.dump(2).c_str());
                return;
            }
            std::printf("%s", format_run(run).c_str());
            print_run_mirror(cli.backends(), run);
            Json lb = run_leaderboard(cli.backends(), run);
            if (!lb.is_null()) {
                std::printf("\n%s", ml::format_leaderboard_table(lb, *wide ? 0 : output_width()).c_str());
            }
        });
    }
    {
        auto* cmd = pipeline->add_subcommand("list", "List pipeline runs");
        cmd->callback([&cli] {
            std::vector<std::vector<std::string>> rows;
            for (const Json& r : list_runs(cli.backends().ports())) {
                std::int64_t s = r.value("started_ms", std::int64_t{0});
                std::int64_t f = r.value("finished_ms", Json()).is_number() ? r["finished_ms"].get<std::int64_t>() : 0;
                rows.push_back({r.value("id", ""), r.value("pipeline", ""), r.value("status", ""),
                                std::to_string(r.value("nodes", Json::array()).size()),
                                f ? format_duration_ms(f - s) : "-", age(s), r.value("smoke", false) ? "smoke" : ""});
            }
            print_table({"RUN", "PIPELINE", "STATUS", "STEPS", "DURATION", "STARTED", "PROFILE"}, rows);
        });
    }
    {
        auto* cmd = pipeline->add_subcommand("explain",
                                             "Tell why a step of a run was or was not reused from the cache");
        auto id = std::make_shared<std::string>();
        auto step = std::make_shared<std::string>();
        cmd->add_option("run", *id, "Run id, a unique prefix of one, or `last`")->required();
        cmd->add_option("step", *step, "Step name, e.g. train::mlp")->required();
        cmd->callback(
            [&cli, id, step] { std::printf("%s", explain_step(cli.backends().ports(), *id, *step).c_str()); });
    }
}

} // namespace mlrun::cli
