#include "engine/pipeline_runner.hpp"

#include "core/crash.hpp"
#include "core/error.hpp"
#include "core/template.hpp"
#include "core/util.hpp"
#include "engine/environment.hpp"
#include "engine/executor.hpp"
#include "engine/kinds.hpp"
#include "engine/pipeline_step.hpp"
#include "engine/plan.hpp"
#include "engine/run_observer.hpp"
#include "engine/step_runners.hpp"
#include "ports/ports.hpp"
#include "ports/result_sink.hpp"
#include "ports/task_store.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace mlrun {

namespace {

void check_step_params(const PipelineSpec& spec, const std::map<std::string, Template>& templates)
{
    for (const StepSpec& step : spec.steps) {
        const Template& t = templates.at(step.template_name);
        std::string where = spec.file.string() + ": step \"" + step.name + "\": ";
        std::string allowed;
        for (const std::string& e : t.editable) {
            allowed += (allowed.empty() ? "" : ", ") + e;
        }
        const Json flat = flatten(step.params);
        for (auto it = flat.begin(); it != flat.end(); ++it) {
            if (!is_editable(it.key(), t.editable)) {
                throw UsageError(where + "param \"" + it.key() + "\" is not editable in template " + t.name
                                 + " (editable: " + (allowed.empty() ? "none" : allowed) + ")");
            }
        }
        if (!step.foreach_key.empty() && !is_editable(step.foreach_key, t.editable)) {
            throw UsageError(where + "foreach param \"" + step.foreach_key + "\" is not editable in template " + t.name
                             + " (editable: " + (allowed.empty() ? "none" : allowed) + ")");
        }
        // Types, ranges and choices (the template's schema), before anything runs.
        check_params(t.schema, step.params, where);
        for (const Json& v : step.foreach_values) {
            check_param(t.schema, step.foreach_key, v, where + "foreach ");
        }
        if (!spec.primary_metric.empty() && is_editable("primary_metric", t.editable)
            && !get_path(step.params, "primary_metric")) {
            check_param(t.schema, "primary_metric", spec.primary_metric, spec.file.string() + ": ");
        }
    }
}

// Each --set against its step's template schema, so the error names the --set it came from.
void check_set_types(const PipelineSpec& spec, const std::map<std::string, Template>& templates,
                     const std::vector<std::string>& sets)
{
    for (const std::string& set : sets) {
        auto [key, value] = parse_assignment(set);
        const size_t dot = key.find('.');
        const std::string name = key.substr(0, dot);
        auto step = std::find_if(spec.steps.begin(), spec.steps.end(),
                                 [&](const StepSpec& s) { return s.name == name; });
        if (dot == std::string::npos || step == spec.steps.end()) {
            continue; // apply_step_sets already refused these
        }
        const std::string param = key.substr(dot + 1);
        const ParamSchema& schema = templates.at(step->template_name).schema;
        const std::string where = "--set \"" + set + "\": step \"" + name + "\": ";
        if (param == step->foreach_key) {
            for (const Json& v : value.is_array() ? value : Json::array({value})) {
                check_param(schema, param, v, where);
            }
        } else {
            check_param(schema, param, value, where);
        }
    }
}

// The spec as it will run (resume, smoke, --set, parallelism applied), its templates, and
// the record of the run being resumed. Throws UsageError for bad input.
struct LoadedRun {
    PipelineSpec spec;
    std::map<std::string, Template> templates;
    std::string run_id; // empty for a new run
    std::optional<Json> previous;
};

LoadedRun load_run_input(const Ports& b, const std::string& file, PipelineOptions& options)
{
    LoadedRun loaded;
    std::string& run_id = loaded.run_id;
    std::optional<Json>& previous = loaded.previous;
    std::string pipeline_file = file;
    if (!options.resume_run.empty()) {
        run_id = resolve_run(b, options.resume_run);
        previous = b.store->get_record("runs", run_id);
        if (pipeline_file.empty()) {
            pipeline_file = previous->value("file", "");
        }
        // The resumed run keeps its overrides and profile; new --set values come after.
        std::vector<std::string> sets = previous->value("sets", std::vector<std::string>{});
        sets.insert(sets.end(), options.sets.begin(), options.sets.end());
        options.sets = sets;
        options.smoke = options.smoke || previous->value("smoke", false);
    }
    if (pipeline_file.empty()) {
        throw UsageError("pipeline run: give a pipeline FILE or --resume RUN");
    }
    PipelineSpec spec = load_pipeline(pipeline_file);
    if (options.smoke) {
        apply_smoke(spec);
    }
    apply_step_sets(spec, options.sets, "--set");
    if (options.parallelism > 0) {
        spec.parallelism = options.parallelism;
    }
    std::map<std::string, Template> templates;
    for (const StepSpec& step : spec.steps) {
        if (!templates.count(step.template_name)) {
            try {
                templates.emplace(step.template_name, find_template(step.template_name, options.templates_dir));
            } catch (const UsageError& e) {
                throw UsageError(spec.file.string() + ": step \"" + step.name + "\": " + e.what());
            }
        }
    }
    check_set_types(spec, templates, options.sets);
    check_step_params(spec, templates);
    for (const std::string& s : options.no_cache_steps) {
        bool known = std::any_of(spec.steps.begin(), spec.steps.end(),
                                 [&](const StepSpec& st) { return st.name == s || s.rfind(st.name + "::", 0) == 0; });
        if (!known) {
            throw UsageError("--no-cache-step \"" + s + "\": no such step in " + spec.file.string());
        }
    }
    if (options.preflight) {
        options.preflight(spec);
    }
    loaded.spec = std::move(spec);
    loaded.templates = std::move(templates);
    return loaded;
}

// Passes a cancel request (Ctrl-C) on to the runner, whose steps may be running anywhere.
class CancelRelay {
public:
    CancelRelay(const std::atomic<bool>* cancel, StepRunner& runner)
    {
        if (!cancel) {
            return;
        }
        m_thread = std::thread([this, cancel, &runner] {
            std::unique_lock<std::mutex> lock(m_mutex);
            while (!m_done) {
                if (cancel->load()) {
                    runner.abort_all();
                    return;
                }
                m_wake.wait_for(lock, std::chrono::milliseconds(20));
            }
        });
    }
    ~CancelRelay()
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_done = true;
        }
        m_wake.notify_all();
        if (m_thread.joinable()) {
            m_thread.join();
        }
    }
    CancelRelay(const CancelRelay&) = delete;
    CancelRelay& operator=(const CancelRelay&) = delete;

private:
    std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_done = false;
    std::thread m_thread; // last: started once the members above exist
};

// A node that failed after its task was created: the record ends failed too (a step never
// stays in_progress). Never throws.
void fail_started_node(RunContext& ctx, NodeRecord& rec, const PlanNode& node, const std::string& what,
                       const std::string& cls)
{
    rec.finished_ms = now_ms();
    if (!rec.executed || node.task_id.empty() || ctx.dry_run) {
        return;
    }
    try {
        if (std::optional<Task> t = ctx.store.find(node.task_id); t && !is_final(t->status)) {
            fail_step_record(ctx.store, *t, what, cls);
        }
    } catch (const std::exception&) {
        // the store is gone: `mlrun store check --repair` ends it later
    }
}

// What a node does when the plan hands it out: the executor's start hook. Ends the node
// through `done` exactly once: at once when it is aborted, kept or cached, otherwise when
// the step runner reports the step's end. Never throws.
void start_node(RunContext& ctx, Plan& plan, StepRunner& runner, size_t i, int slot, const NodeDone& done)
{
    PlanNode& node = plan.nodes()[i];
    NodeRecord& rec = ctx.records[i];
    try {
        if (ctx.cancelled()) {
            const std::string reason = k_interrupted_before_start;
            ctx.emit({node.name, "", slot, "aborted", "", 0, 0, 0, reason});
            done(NodeEnd{NodeState::aborted, reason});
            return;
        }
        if (keep_from_earlier(ctx, plan, i)) {
            ctx.emit({node.name, node.task_id, slot, "completed", "", 0, 0, 0, "kept from the earlier attempt",
                      rec.metric.value_or(0), rec.metric.has_value()});
            done(NodeEnd{NodeState::completed, "kept from the earlier attempt"});
            return;
        }
        Json params = step_params(ctx, plan, i);
        std::optional<Task> adopted = adopt_in_flight(ctx, plan, i, params);
        if (!adopted) {
            if (std::optional<Task> hit = decide_cache(ctx, plan, i, params)) {
                ctx.emit({node.name, hit->id, slot, "cached", "", 0, 0, 0, "", rec.metric.value_or(0),
                          rec.metric.has_value()});
                done(NodeEnd{NodeState::cached, "reused task " + hit->id});
                return;
            }
        }
        Task task = adopted ? *adopted : create_step_task(ctx, plan, i, params);
        ctx.emit({node.name, task.id, slot, "started"});

        StepCallbacks callbacks;
        callbacks.on_stage = [&ctx, &rec, name = node.name, id = task.id, slot](const std::string& stage, int d,
                                                                                int total) {
            ctx.emit({name, id, slot, "stage", stage, d, total, now_ms() - rec.started_ms});
        };
        callbacks.on_end = [&ctx, &rec, i, name = node.name, id = task.id, slot, done](Task ended) {
            // Runs on the runner's thread (a TBB worker, the child waiter): never throws, and
            // always ends the node, or the graph would wait for it for ever.
            NodeEnd end;
            try {
                end = record_step_end(ctx, i, ended);
            } catch (const std::exception& e) {
                rec.finished_ms = now_ms();
                end = NodeEnd{NodeState::failed, e.what()};
            }
            try {
                ctx.emit({name, id, slot, std::string(to_string(end.state)), "", 0, 0, rec.finished_ms - rec.started_ms,
                          end.reason, rec.metric.value_or(0), rec.metric.has_value()});
            } catch (const std::exception&) {
                // a display that fails does not hold the run
            }
            done(std::move(end));
        };
        runner.start(StepRequest{node.name, std::move(task), ctx.share, slot, adopted.has_value()},
                     std::move(callbacks));
    } catch (const std::exception& e) {
        // Nothing may escape into the graph (it would cancel it): record and go on.
        fail_started_node(ctx, rec, node, e.what(), is_io_error(e) ? k_error_class_io : "exception");
        try {
            ctx.emit({node.name, node.task_id, slot, "failed", "", 0, 0, 0, e.what()});
        } catch (const std::exception&) {
            // as above
        }
        done(NodeEnd{NodeState::failed, e.what()});
    }
}

// A node the plan ended without starting it.
void report_settled(const RunContext& ctx, const Plan& plan, size_t i)
{
    const PlanNode& node = plan.nodes()[i];
    ctx.emit({node.name, "", 0, std::string(to_string(node.state)), "", 0, 0, 0, node.reason});
}

// The run's status and why, from the plan once every node ended.
void decide_outcome(const Plan& plan, bool cancelled, PipelineResult& result)
{
    const PipelineSpec& spec = plan.spec();
    std::string why;
    if (cancelled) {
        result.status = "aborted";
        result.why = "interrupted";
    } else if (plan.succeeded(why)) {
        result.status = "completed";
    } else {
        result.status = "failed";
        result.why = why;
    }
    if (result.status == "completed" && spec.policy == Policy::strict) {
        for (const PlanNode& n : plan.nodes()) {
            if (!is_done(n.state) && !spec.steps[n.step].optional) {
                result.status = "failed";
                result.why = "policy strict: step " + n.name + " " + std::string(to_string(n.state));
                break;
            }
        }
    }
}

// Writes the run record (not in a dry run) and returns it.
Json write_run_record(RunContext& ctx, const RunRecordHeader& header, const Plan& plan, const std::string& status,
                      const std::string& why)
{
    Json rec = run_record_json(header, plan, ctx.records, status, why);
    if (!ctx.dry_run) {
        ctx.store.put_record("runs", header.run_id, rec);
    }
    return rec;
}

// A run start or end to every sink, then (at the end) a flush: the run record is already
// stored, so a failing sink is only warned about.
void report_run(const Ports& ports, Outcome (ResultSink::*event)(const Json&), const Json& run)
{
    for (ResultSink* sink : ports.sinks) {
        Outcome o = (sink->*event)(run);
        if (!o && event == &ResultSink::run_ended) {
            o = sink->flush();
        }
        if (o) {
            std::fprintf(stderr, "mlrun: warning: result sink: %s\n", o->message.c_str());
        }
    }
}

} // namespace

PipelineResult run_pipeline(const Ports& b, const std::string& file, PipelineOptions options)
{
    LoadedRun loaded = load_run_input(b, file, options);
    const PipelineSpec& spec = loaded.spec;
    Plan plan(spec);
    std::string run_id = loaded.run_id.empty() ? new_id() : loaded.run_id;
    // One process drives a run at a time: a resume of a run that is still going would take
    // its running steps for abandoned ones.
    std::unique_ptr<RunLock> run_lock;
    if (!options.dry_run) {
        run_lock = b.store->try_lock_run(run_id);
        if (!run_lock) {
            throw UsageError("run " + run_id
                             + " is still running in another mlrun process; wait for it or stop it first");
        }
    }
    int cores = options.cores > 0 ? options.cores : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    int share = std::max(1, cores / spec.parallelism);
    KindRegistry::instance().set_threads(share);

    RunContext ctx{*b.store,
                   spec,
                   loaded.templates,
                   options,
                   run_id,
                   options.dry_run,
                   share,
                   {},
                   {},
                   std::vector<NodeRecord>(plan.nodes().size()),
                   std::vector<std::optional<Task>>(plan.nodes().size())};
    if (loaded.previous) {
        load_earlier_attempt(ctx);
    }
    RunRecordHeader header{run_id,        loaded.previous, now_ms(),
                           options.smoke, options.sets,    git_state(std::filesystem::absolute(spec.file))};
    Json started = write_run_record(ctx, header, plan, "running", "");
    if (!options.dry_run) {
        report_run(b, &ResultSink::run_started, started);
    }

    std::vector<std::string> names;
    for (const PlanNode& n : plan.nodes()) {
        names.push_back(n.name);
    }
    if (options.observer) {
        options.observer->run_started(run_id, spec.name, names, spec.parallelism);
    }

    // An uncaught exception in any thread: the run and its running steps end failed.
    CrashScope crash([&ctx, run_id](const std::string& what) {
        for (const Task& t : ctx.store.list(TaskFilter{"", Status::in_progress, "", run_id, ""})) {
            fail_step_record(ctx.store, t, what, k_error_class_crash);
        }
        // get + put, not update_record: the folder store's record lock is the run lock file,
        // which this process holds.
        if (std::optional<Json> run = ctx.store.get_record("runs", run_id)) {
            (*run)["status"] = "failed";
            (*run)["why"] = what;
            (*run)["error_class"] = k_error_class_crash;
            (*run)["finished_ms"] = now_ms();
            ctx.store.put_record("runs", run_id, *run);
        }
    });

    InProcessStepRunner in_process(b);
    DryRunStepRunner dry_run;
    StepRunner& runner = options.runner    ? *options.runner
                         : options.dry_run ? static_cast<StepRunner&>(dry_run)
                                           : in_process;
    std::string executor_error;
    std::string executor_class;
    {
        CancelRelay relay(options.cancel, runner);
        ExecutorHooks hooks;
        hooks.start = [&](size_t i, int slot, NodeDone done) { start_node(ctx, plan, runner, i, slot, done); };
        hooks.can_start_more = [&] { return runner.can_run_more(); };
        hooks.settled = [&](size_t i) { report_settled(ctx, plan, i); };
        hooks.cancel = options.cancel;
        try {
            if (options.serial) {
                SerialExecutor().run(plan, 1, hooks);
            } else {
                TbbExecutor().run(plan, spec.parallelism, hooks);
            }
        } catch (const std::exception& e) {
            executor_error = e.what();
            executor_class = is_io_error(e) ? k_error_class_io : "exception";
        }
    }

    PipelineResult result;
    result.run_id = run_id;
    result.gates = spec.gates;
    decide_outcome(plan, ctx.cancelled(), result);
    if (!executor_error.empty()) {
        // The loop itself failed: no step it started may stay in_progress, the run fails.
        if (!options.dry_run) {
            for (const Task& t : ctx.store.list(TaskFilter{"", Status::in_progress, "", run_id, ""})) {
                fail_step_record(ctx.store, t, executor_error, executor_class);
            }
        }
        result.status = "failed";
        result.why = executor_error;
    }
    try {
        result.record = write_run_record(ctx, header, plan, result.status, result.why);
    } catch (const std::exception& e) {
        // The store cannot take the end (a full disk): the run record says "running", and
        // with the run lock released below, `pipeline list` shows the run dead.
        const std::string what = "run " + run_id + " ended " + result.status
                                 + " but its record could not be written: " + e.what();
        if (is_io_error(e)) {
            throw IoError(what);
        }
        throw std::runtime_error(what);
    }
    if (!options.dry_run) {
        report_run(b, &ResultSink::run_ended, result.record);
    }
    if (options.observer) {
        options.observer->run_finished(run_id, result.status, now_ms() - header.started_ms);
    }
    return result;
}

} // namespace mlrun
