#include "engine/pipeline_step.hpp"

#include "core/params.hpp"
#include "core/util.hpp"
#include "engine/cache.hpp"
#include "engine/pipeline_runner.hpp"
#include "engine/step_runners.hpp"
#include "ports/task_store.hpp"

#include <algorithm>

namespace mlrun {

void RunContext::emit(const StepEvent& e) const
{
    if (options.observer) {
        options.observer->step_event(e);
    }
}

namespace {

// Keeps node i's task for its children's cache keys (its own slot only).
void remember(RunContext& ctx, size_t i, const Task& task)
{
    if (i < ctx.ended.size()) {
        ctx.ended[i] = task;
    }
}

// The tasks of `node`'s parents that are in memory, by id (parents ended before it starts).
KnownTask parents_in_memory(const RunContext& ctx, const PlanNode& node)
{
    return [&ctx, parents = node.parents](const std::string& id) -> const Task* {
        for (size_t p : parents) {
            if (p < ctx.ended.size() && ctx.ended[p] && ctx.ended[p]->id == id) {
                return &*ctx.ended[p];
            }
        }
        return nullptr;
    };
}

} // namespace

bool RunContext::cancelled() const
{
    return options.cancel && options.cancel->load();
}

void load_earlier_attempt(RunContext& ctx)
{
    for (Task& t : ctx.store.list(TaskFilter{"", std::nullopt, "", ctx.run_id, ""})) {
        const bool in_flight = t.status == Status::in_progress || t.status == Status::queued;
        if (in_flight && ctx.options.adopt_in_flight) {
            // Still queued or running on an agent: the step is adopted, not run again.
        } else if (t.status == Status::in_progress && !ctx.dry_run) {
            // Its mlrun process died (SIGKILL, power): it will never finish.
            t = ctx.store.update(t.id, [](Task& x) {
                x.transition(Status::aborted, now_ms());
                x.error = "abandoned: the mlrun process running it exited";
                x.error_class = "Aborted";
            });
        }
        ctx.earlier[t.step] = t; // ids sort by creation: the last one wins
    }
    std::map<std::string, std::string> step_of;
    for (const auto& [step, t] : ctx.earlier) {
        step_of[t.id] = step;
    }
    for (Task& t : ctx.store.list(TaskFilter{"", Status::draft, "", "", ""})) {
        auto it = step_of.find(t.cloned_from);
        if (it != step_of.end()) {
            ctx.clone_of[it->second] = t;
        }
    }
}

std::optional<Task> adopt_in_flight(RunContext& ctx, Plan& plan, size_t i, const Json& params)
{
    PlanNode& node = plan.nodes()[i];
    NodeRecord& rec = ctx.records[i];
    auto earlier = ctx.earlier.find(node.name);
    if (!ctx.options.adopt_in_flight || ctx.dry_run || earlier == ctx.earlier.end() || ctx.clone_of.count(node.name)
        || (earlier->second.status != Status::queued && earlier->second.status != Status::in_progress)) {
        return std::nullopt;
    }
    const Task& t = earlier->second;
    const StepSpec& step = ctx.spec.steps[node.step];
    CacheKey key = cache_key(ctx.store, ctx.templates.at(step.template_name).kind, t.template_name, params,
                             ctx.spec.base_dir);
    node.task_id = t.id;
    rec.cache_key = t.cache_key;
    rec.cache_material = key.material;
    rec.cache_decision = "miss";
    rec.cache_reason = "adopted: still " + std::string(to_string(t.status)) + " on an agent (resume)";
    rec.executed = true;
    rec.started_ms = now_ms();
    return t;
}

bool keep_from_earlier(RunContext& ctx, Plan& plan, size_t i)
{
    PlanNode& node = plan.nodes()[i];
    NodeRecord& rec = ctx.records[i];
    bool parent_rerun = false;
    for (size_t p : node.parents) {
        parent_rerun = parent_rerun || ctx.records[p].executed;
    }
    // Keep what completed in this run unless its inputs were rerun or it was cloned.
    auto earlier_it = ctx.earlier.find(node.name);
    if (earlier_it == ctx.earlier.end() || parent_rerun || ctx.clone_of.count(node.name)
        || (earlier_it->second.status != Status::completed && earlier_it->second.status != Status::published)) {
        return false;
    }
    node.task_id = earlier_it->second.id;
    remember(ctx, i, earlier_it->second);
    rec.cache_decision = "kept";
    rec.cache_reason = "completed earlier in this run (resume)";
    rec.cache_key = earlier_it->second.cache_key;
    rec.metric = primary_value(earlier_it->second, ctx.spec.primary_metric);
    return true;
}

Json step_params(const RunContext& ctx, const Plan& plan, size_t i)
{
    const PlanNode& node = plan.nodes()[i];
    const StepSpec& step = ctx.spec.steps[node.step];
    const Template& tmpl = ctx.templates.at(step.template_name);
    Json params = tmpl.params;
    merge_params(params, step.params);
    if (!step.foreach_key.empty()) {
        set_path(params, step.foreach_key, node.foreach_value);
    }
    // Pipeline-level settings reach the steps whose templates take them.
    for (const auto& [key, value] : {std::pair<std::string, Json>{"primary_metric", ctx.spec.primary_metric},
                                     {"policy", ctx.spec.policy == Policy::strict ? "strict" : "partial"}}) {
        if (is_editable(key, tmpl.editable) && !get_path(step.params, key)) {
            set_path(params, key, value);
        }
    }
    params["inputs"] = plan.input_ids(i);
    params["base_dir"] = ctx.spec.base_dir.string();
    return params;
}

std::optional<Task> decide_cache(RunContext& ctx, Plan& plan, size_t i, const Json& params)
{
    PlanNode& node = plan.nodes()[i];
    NodeRecord& rec = ctx.records[i];
    const StepSpec& step = ctx.spec.steps[node.step];
    const Template& tmpl = ctx.templates.at(step.template_name);
    const PipelineOptions& options = ctx.options;
    if (ctx.dry_run) {
        // A parent that would run has no task yet: its outputs, hence this key, are unknown.
        for (size_t p : node.parents) {
            if (ctx.records[p].executed) {
                rec.cache_decision = "miss";
                rec.cache_reason = "input step " + plan.nodes()[p].name + " would run";
                return std::nullopt;
            }
        }
    }
    CacheKey key = cache_key(ctx.store, tmpl.kind, tmpl.name, params, ctx.spec.base_dir, parents_in_memory(ctx, node));
    rec.cache_key = key.key;
    rec.cache_material = key.material;
    bool no_cache = options.no_cache
                    || std::find_if(options.no_cache_steps.begin(), options.no_cache_steps.end(),
                                    [&](const std::string& s) { return s == node.name || s == step.name; })
                           != options.no_cache_steps.end();
    if (no_cache) {
        rec.cache_decision = "disabled";
        rec.cache_reason = options.no_cache ? "--no-cache" : "--no-cache-step " + step.name;
    } else if (ctx.clone_of.count(node.name)) {
        rec.cache_decision = "rerun";
        rec.cache_reason = "task " + ctx.clone_of.at(node.name).id + " was cloned from this step's task";
    } else if (std::optional<Task> hit = cache_lookup(ctx.store, key.key)) {
        node.task_id = hit->id;
        remember(ctx, i, *hit);
        rec.cache_decision = "hit";
        rec.cache_reason = "same key as completed task " + hit->id
                           + (hit->run_id.empty() ? "" : " of run " + hit->run_id);
        rec.metric = primary_value(*hit, ctx.spec.primary_metric);
        return hit;
    } else {
        rec.cache_decision = "miss";
        rec.cache_reason = "no completed task with key " + key.key.substr(0, 12);
    }
    return std::nullopt;
}

Task create_step_task(RunContext& ctx, Plan& plan, size_t i, const Json& params)
{
    PlanNode& node = plan.nodes()[i];
    NodeRecord& rec = ctx.records[i];
    const StepSpec& step = ctx.spec.steps[node.step];
    const Template& tmpl = ctx.templates.at(step.template_name);
    Task task;
    auto clone = ctx.clone_of.find(node.name);
    if (clone != ctx.clone_of.end() && !ctx.dry_run) {
        task = ctx.store.update(clone->second.id, [&](Task& t) {
            // The clone keeps its own params; the engine rewires its inputs.
            t.params["inputs"] = params["inputs"];
            t.params["base_dir"] = params["base_dir"];
            t.run_id = ctx.run_id;
            t.step = node.name;
            t.cache_key = cache_key(ctx.store, t.kind, t.template_name, t.params, ctx.spec.base_dir).key;
            t.transition(Status::in_progress, now_ms());
        });
        rec.cache_key = task.cache_key;
    } else {
        task.name = node.name;
        task.project = ctx.spec.project;
        task.type = tmpl.type;
        task.kind = tmpl.kind;
        task.template_name = tmpl.name;
        task.params = params;
        task.editable = tmpl.editable;
        task.tags = {"pipeline:" + ctx.spec.name};
        if (ctx.options.smoke) {
            task.tags.push_back("smoke");
        }
        task.run_id = ctx.run_id;
        task.step = node.name;
        task.parent = node.parents.empty() ? "" : plan.nodes()[node.parents.front()].task_id;
        task.queue = step.queue;
        task.cache_key = rec.cache_key;
        // Stored already started: one rewrite of task.json less per step.
        task.transition(Status::in_progress, now_ms());
        if (!ctx.dry_run) {
            ctx.store.create(task);
        }
    }
    node.task_id = task.id;
    rec.executed = true;
    rec.started_ms = now_ms();
    return task;
}

NodeEnd record_step_end(RunContext& ctx, size_t i, const Task& ended)
{
    NodeRecord& rec = ctx.records[i];
    rec.finished_ms = now_ms();
    rec.metric = primary_value(ended, ctx.spec.primary_metric);
    remember(ctx, i, ended);
    if (ended.status == Status::completed && !ctx.dry_run) {
        cache_record(ctx.store, ended.cache_key, ended, rec.cache_material);
    }
    return NodeEnd{state_of(ended.status), ctx.dry_run ? std::string(k_dry_run_reason) : ended.error};
}

} // namespace mlrun
