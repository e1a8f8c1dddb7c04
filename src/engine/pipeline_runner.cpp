#include "engine/pipeline_runner.hpp"

#include "core/error.hpp"
#include "engine/kinds.hpp"
#include "core/template.hpp"
#include "core/util.hpp"
#include "engine/cache.hpp"
#include "engine/executor.hpp"
#include "engine/plan.hpp"
#include "engine/run_observer.hpp"
#include "engine/task_runner.hpp"
#include "store/backends.hpp"
#include "store/local_store.hpp"
#include "store/task_store.hpp"

#include <algorithm>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <cmath>
#include <map>
#include <mutex>
#include <thread>

namespace mlrun {

namespace {

// What the runner keeps per node besides the Plan's state.
struct NodeRecord {
    std::string cache_key;
    Json cache_material;
    std::string cache_decision; // hit | miss | disabled | kept | rerun
    std::string cache_reason;
    std::int64_t started_ms = 0;
    std::int64_t finished_ms = 0;
    std::optional<double> metric;
    bool executed = false;      // ran (or was rerun) in this invocation
};

std::optional<double> primary_value(const Task& t, const std::string& metric)
{
    if (const Json* v = get_path(t.values, "test." + metric); v && v->is_number()) {
        return v->get<double>();
    }
    if (const Json* v = get_path(t.values, "best_score"); v && v->is_number()) {
        return v->get<double>();
    }
    return std::nullopt;
}

NodeState state_of(Status s)
{
    switch (s) {
    case Status::completed:
    case Status::published: return NodeState::completed;
    case Status::aborted: return NodeState::aborted;
    default: return NodeState::failed;
    }
}

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
    }
}

Json node_json(const Plan& plan, size_t i, const NodeRecord& r)
{
    const PlanNode& n = plan.nodes()[i];
    Json parents = Json::array();
    for (size_t p : n.parents) {
        parents.push_back(plan.nodes()[p].name);
    }
    Json j{{"name", n.name},
           {"step", plan.spec().steps[n.step].name},
           {"parents", parents},
           {"task_id", n.task_id},
           {"state", std::string(to_string(n.state))},
           {"reason", n.reason},
           {"optional", plan.spec().steps[n.step].optional},
           {"cache", {{"key", r.cache_key}, {"decision", r.cache_decision}, {"reason", r.cache_reason},
                      {"material", r.cache_material}}},
           {"started_ms", r.started_ms},
           {"finished_ms", r.finished_ms}};
    j["metric"] = r.metric ? Json(*r.metric) : Json(nullptr);
    return j;
}

} // namespace

PipelineResult run_pipeline(Backends& b, const std::string& file, PipelineOptions options)
{
    std::string run_id;
    std::optional<Json> previous;
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
    check_step_params(spec, templates);
    for (const std::string& s : options.no_cache_steps) {
        bool known = std::any_of(spec.steps.begin(), spec.steps.end(), [&](const StepSpec& st) {
            return st.name == s || s.rfind(st.name + "::", 0) == 0;
        });
        if (!known) {
            throw UsageError("--no-cache-step \"" + s + "\": no such step in " + spec.file.string());
        }
    }

    Plan plan(spec);
    std::vector<NodeRecord> records(plan.nodes().size());
    if (run_id.empty()) {
        run_id = new_id();
    }
    // One process drives a run at a time: a resume of a run that is still going would take
    // its running steps for abandoned ones.
    b.local->ensure_created();
    fs::create_directories(b.local->root() / "records" / "runs");
    int lock_fd = ::open((b.local->root() / "records" / "runs" / ("." + run_id + ".lock")).c_str(),
                         O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (lock_fd >= 0) {
            ::close(lock_fd);
        }
        throw UsageError("run " + run_id + " is still running in another mlrun process; wait for it or stop it first");
    }
    struct LockGuard {
        int fd;
        ~LockGuard() { ::close(fd); }
    } run_lock{lock_fd};
    int cores = options.cores > 0 ? options.cores : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    int share = std::max(1, cores / spec.parallelism);
    KindRegistry::instance().set_threads(share);

    // Tasks of the run so far (resume): the newest per step, and drafts cloned from them.
    std::map<std::string, Task> earlier;
    std::map<std::string, Task> clone_of;
    if (previous) {
        for (Task& t : b.store->list(TaskFilter{"", std::nullopt, "", run_id, ""})) {
            if (t.status == Status::in_progress) {
                // Its mlrun process died (SIGKILL, power): it will never finish.
                t = b.store->update(t.id, [](Task& x) {
                    x.status = Status::aborted;
                    x.finished_ms = now_ms();
                    x.error = "abandoned: the mlrun process running it exited";
                    x.error_class = "Aborted";
                });
            }
            earlier[t.step] = t; // ids sort by creation: the last one wins
        }
        std::map<std::string, std::string> step_of;
        for (const auto& [step, t] : earlier) {
            step_of[t.id] = step;
        }
        for (Task& t : b.store->list(TaskFilter{"", Status::draft, "", "", ""})) {
            auto it = step_of.find(t.cloned_from);
            if (it != step_of.end()) {
                clone_of[it->second] = t;
            }
        }
    }

    std::int64_t run_started = now_ms();
    auto write_record = [&](const std::string& status, const std::string& why) {
        Json nodes = Json::array();
        for (size_t i = 0; i < plan.nodes().size(); ++i) {
            nodes.push_back(node_json(plan, i, records[i]));
        }
        Json rec{{"id", run_id},
                 {"pipeline", spec.name},
                 {"project", spec.project},
                 {"file", fs::absolute(spec.file).string()},
                 {"status", status},
                 {"why", why},
                 {"started_ms", previous ? previous->value("started_ms", run_started) : run_started},
                 {"resumed_ms", previous ? Json(run_started) : Json(nullptr)},
                 {"finished_ms", status == "running" ? Json(nullptr) : Json(now_ms())},
                 {"parallelism", spec.parallelism},
                 {"policy", spec.policy == Policy::strict ? "strict" : "partial"},
                 {"primary_metric", spec.primary_metric},
                 {"smoke", options.smoke},
                 {"sets", options.sets},
                 {"nodes", nodes}};
        b.store->put_record("runs", run_id, rec);
        return rec;
    };
    write_record("running", "");

    std::vector<std::string> names;
    for (const PlanNode& n : plan.nodes()) {
        names.push_back(n.name);
    }
    if (options.observer) {
        options.observer->run_started(run_id, spec.name, names, spec.parallelism);
    }
    auto emit = [&](StepEvent e) {
        if (options.observer) {
            options.observer->step_event(e);
        }
    };
    auto cancelled = [&] { return options.cancel && options.cancel->load(); };

    NodeBody body = [&](size_t i, int slot) {
        PlanNode& node = plan.nodes()[i];
        NodeRecord& rec = records[i];
        const StepSpec& step = spec.steps[node.step];
        const Template& tmpl = templates.at(step.template_name);
        try {
            std::string reason;
            if (cancelled()) {
                plan.mark(i, NodeState::aborted, "the run was interrupted before it started");
                emit({node.name, "", slot, "aborted", "", 0, 0, 0, node.reason});
                return;
            }
            if (!plan.should_run(i, reason)) {
                plan.mark(i, NodeState::skipped, reason);
                emit({node.name, "", slot, "skipped", "", 0, 0, 0, reason});
                return;
            }
            bool parent_rerun = false;
            for (size_t p : node.parents) {
                parent_rerun = parent_rerun || records[p].executed;
            }
            // Resume: keep what completed in this run unless its inputs were rerun or it was cloned.
            auto earlier_it = earlier.find(node.name);
            if (earlier_it != earlier.end() && !parent_rerun && !clone_of.count(node.name)
                && (earlier_it->second.status == Status::completed || earlier_it->second.status == Status::published)) {
                node.task_id = earlier_it->second.id;
                rec.cache_decision = "kept";
                rec.cache_reason = "completed earlier in this run (resume)";
                rec.cache_key = earlier_it->second.cache_key;
                rec.metric = primary_value(earlier_it->second, spec.primary_metric);
                plan.mark(i, NodeState::completed, "kept from the earlier attempt");
                emit({node.name, node.task_id, slot, "completed", "", 0, 0, 0, "kept from the earlier attempt",
                      rec.metric.value_or(0), rec.metric.has_value()});
                return;
            }

            Json params = tmpl.params;
            merge_params(params, step.params);
            if (!step.foreach_key.empty()) {
                set_path(params, step.foreach_key, node.foreach_value);
            }
            // Pipeline-level settings reach the steps whose templates take them.
            for (const auto& [key, value] : {std::pair<std::string, Json>{"primary_metric", spec.primary_metric},
                                             {"policy", spec.policy == Policy::strict ? "strict" : "partial"}}) {
                if (is_editable(key, tmpl.editable) && !get_path(step.params, key)) {
                    set_path(params, key, value);
                }
            }
            params["inputs"] = plan.input_ids(i);
            params["base_dir"] = spec.base_dir.string();

            CacheKey key = cache_key(*b.store, tmpl.kind, tmpl.name, params, spec.base_dir);
            rec.cache_key = key.key;
            rec.cache_material = key.material;
            bool no_cache = options.no_cache
                            || std::find_if(options.no_cache_steps.begin(), options.no_cache_steps.end(),
                                            [&](const std::string& s) { return s == node.name || s == step.name; })
                                   != options.no_cache_steps.end();
            bool cloned = clone_of.count(node.name) > 0;
            if (no_cache) {
                rec.cache_decision = "disabled";
                rec.cache_reason = options.no_cache ? "--no-cache" : "--no-cache-step " + step.name;
            } else if (cloned) {
                rec.cache_decision = "rerun";
                rec.cache_reason = "task " + clone_of.at(node.name).id + " was cloned from this step's task";
            } else if (std::optional<Task> hit = cache_lookup(*b.store, key.key)) {
                node.task_id = hit->id;
                rec.cache_decision = "hit";
                rec.cache_reason = "same key as completed task " + hit->id + (hit->run_id.empty() ? "" : " of run " + hit->run_id);
                rec.metric = primary_value(*hit, spec.primary_metric);
                plan.mark(i, NodeState::cached, "reused task " + hit->id);
                emit({node.name, hit->id, slot, "cached", "", 0, 0, 0, "", rec.metric.value_or(0), rec.metric.has_value()});
                return;
            } else {
                rec.cache_decision = "miss";
                rec.cache_reason = "no completed task with key " + key.key.substr(0, 12);
            }

            Task task;
            if (cloned) {
                task = b.store->update(clone_of.at(node.name).id, [&](Task& t) {
                    // The clone keeps its own params; the engine rewires its inputs.
                    t.params["inputs"] = params["inputs"];
                    t.params["base_dir"] = params["base_dir"];
                    t.run_id = run_id;
                    t.step = node.name;
                    t.cache_key = cache_key(*b.store, t.kind, t.template_name, t.params, spec.base_dir).key;
                });
                rec.cache_key = task.cache_key;
            } else {
                task.name = node.name;
                task.project = spec.project;
                task.type = tmpl.type;
                task.kind = tmpl.kind;
                task.template_name = tmpl.name;
                task.params = params;
                task.editable = tmpl.editable;
                task.tags = {"pipeline:" + spec.name};
                if (options.smoke) {
                    task.tags.push_back("smoke");
                }
                task.run_id = run_id;
                task.step = node.name;
                task.parent = node.parents.empty() ? "" : plan.nodes()[node.parents.front()].task_id;
                task.queue = step.queue;
                task.cache_key = key.key;
                // Stored already started: one rewrite of task.json less per step.
                task.status = Status::in_progress;
                task.attempts = 1;
                task.started_ms = now_ms();
                b.store->create(task);
            }
            node.task_id = task.id;
            rec.executed = true;
            rec.started_ms = now_ms();
            plan.mark(i, NodeState::running);
            emit({node.name, task.id, slot, "started"});

            RunOptions run;
            run.threads = share;
            run.cancel = options.cancel;
            run.on_progress = [&](const std::string& stage, int done, int total) {
                emit({node.name, task.id, slot, "stage", stage, done, total, now_ms() - rec.started_ms});
            };
            run.created_started = cloned ? nullptr : &task;
            Task ended = run_task(b, task.id, run);
            Status status = ended.status;
            rec.finished_ms = now_ms();
            rec.metric = primary_value(ended, spec.primary_metric);
            NodeState state = state_of(status);
            plan.mark(i, state, ended.error);
            if (status == Status::completed) {
                cache_record(*b.store, ended.cache_key, ended, rec.cache_material);
            }
            emit({node.name, task.id, slot, std::string(to_string(state)), "", 0, 0, rec.finished_ms - rec.started_ms,
                  ended.error, rec.metric.value_or(0), rec.metric.has_value()});
        } catch (const std::exception& e) {
            // A body must not throw (it would cancel the whole graph): record and go on.
            plan.mark(i, NodeState::failed, e.what());
            rec.finished_ms = now_ms();
            emit({node.name, node.task_id, slot, "failed", "", 0, 0, 0, e.what()});
        }
    };

    DagShape dag;
    for (const PlanNode& n : plan.nodes()) {
        dag.parents.push_back(n.parents);
    }
    if (options.serial) {
        SerialExecutor().run(dag, 1, body);
    } else {
        TbbExecutor().run(dag, spec.parallelism, body);
    }

    PipelineResult result;
    result.run_id = run_id;
    result.gates = spec.gates;
    std::string why;
    if (cancelled()) {
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
    result.record = write_record(result.status, result.why);
    if (options.observer) {
        options.observer->run_finished(run_id, result.status, now_ms() - run_started);
    }
    return result;
}

std::string resolve_run(Backends& b, const std::string& id_or_prefix)
{
    check_name(id_or_prefix, "run id");
    std::vector<std::string> ids = b.store->list_records("runs");
    std::vector<std::string> hits;
    for (const std::string& id : ids) {
        if (id == id_or_prefix) {
            return id;
        }
        if (id.rfind(id_or_prefix, 0) == 0) {
            hits.push_back(id);
        }
    }
    if (hits.size() == 1) {
        return hits.front();
    }
    if (hits.empty()) {
        throw UsageError("unknown run \"" + id_or_prefix + "\" (see `mlrun pipeline list`)");
    }
    throw UsageError("run id prefix \"" + id_or_prefix + "\" is ambiguous");
}

namespace {
// Every field the readers below index: they may then use operator[] safely.
bool well_formed_run(const Json& run)
{
    if (!run.is_object() || !run.contains("id") || !run["id"].is_string() || !run.contains("nodes")
        || !run["nodes"].is_array() || !run.contains("pipeline") || !run.contains("finished_ms")) {
        return false;
    }
    for (const Json& n : run["nodes"]) {
        if (!n.is_object() || !n.contains("name") || !n["name"].is_string() || !n.contains("parents")
            || !n["parents"].is_array() || !n.contains("state") || !n.contains("metric") || !n.contains("cache")
            || !n["cache"].is_object()) {
            return false;
        }
    }
    return true;
}
} // namespace

Json load_run(Backends& b, const std::string& run_id)
{
    std::string id = resolve_run(b, run_id);
    Json run = *b.store->get_record("runs", id);
    if (!well_formed_run(run)) {
        throw UsageError("run record " + b.local->root().string() + "/records/runs/" + id + ".json is malformed");
    }
    // A run still going (or killed) has a stale record: read each step's task for the truth.
    std::map<std::string, Task> live;
    for (Task& t : b.store->list(TaskFilter{"", std::nullopt, "", id, ""})) {
        live[t.step] = t;
    }
    for (Json& n : run["nodes"]) {
        std::string task_id = n.value("task_id", "");
        std::optional<Task> t;
        if (!task_id.empty()) {
            t = b.store->find(task_id);
        } else if (live.count(n["name"])) {
            t = live[n["name"]];
            n["task_id"] = t->id;
        }
        if (t && n["state"] != "cached") {
            if (t->status == Status::in_progress) {
                n["state"] = "running";
            } else if (n["state"] == "pending" || n["state"] == "running") {
                n["state"] = std::string(to_string(state_of(t->status)));
                if (t->status == Status::draft || t->status == Status::queued) {
                    n["state"] = "pending";
                }
            }
            if (t->started_ms) {
                n["started_ms"] = t->started_ms;
                n["finished_ms"] = t->finished_ms;
            }
            if (n["metric"].is_null()) {
                if (auto v = primary_value(*t, run.value("primary_metric", "roc_auc"))) {
                    n["metric"] = *v;
                }
            }
        }
    }
    return run;
}

std::vector<Json> list_runs(Backends& b)
{
    std::vector<Json> out;
    for (const std::string& id : b.store->list_records("runs")) {
        try {
            if (auto r = b.store->get_record("runs", id); r && well_formed_run(*r)) {
                out.push_back(*r);
            }
        } catch (const UsageError&) {
            // an unreadable record is left out of the listing; `pipeline show` names it
        }
    }
    return out;
}

std::string explain_step(Backends& b, const std::string& run_id, const std::string& step)
{
    Json run = load_run(b, run_id);
    const Json* node = nullptr;
    std::vector<std::string> names;
    for (const Json& n : run["nodes"]) {
        names.push_back(n["name"]);
        if (n["name"] == step) {
            node = &n;
        }
    }
    if (!node) {
        std::string near = nearest(step, names);
        throw UsageError("run " + run["id"].get<std::string>() + " has no step \"" + step + "\""
                         + (near.empty() ? "" : " (did you mean " + near + "?)"));
    }
    const Json& cache = (*node)["cache"];
    std::string decision = cache.value("decision", "");
    std::string out = "step " + step + " of run " + run["id"].get<std::string>() + ": " + node->value("state", "") + "\n";
    if (decision.empty()) {
        return out + "  it did not get as far as the cache check (" + node->value("reason", "") + ")\n";
    }
    out += "  cache: " + decision + " — " + cache.value("reason", "") + "\n";
    out += "  key:   " + cache.value("key", "") + "\n";
    if (decision == "hit" || decision == "kept") {
        return out + "  reused because kind, params, input artifacts, data and mlrun version all matched\n";
    }
    // Compare with the same step in the latest earlier run of this pipeline.
    std::optional<Json> before;
    for (const Json& r : list_runs(b)) {
        if (r["pipeline"] == run["pipeline"] && r["id"] < run["id"]) {
            for (const Json& n : r["nodes"]) {
                if (n["name"] == step && n["cache"].value("material", Json()).is_object()) {
                    before = n["cache"]["material"];
                }
            }
        }
    }
    if (!before) {
        return out + "  no earlier run of this pipeline ran this step, so nothing could be reused\n";
    }
    std::vector<std::string> diff = material_diff(*before, cache.value("material", Json::object()));
    if (diff.empty()) {
        return out + "  same material as the previous run, but no completed task was recorded under it "
                     "(the earlier step failed or was reset)\n";
    }
    out += "  differs from the previous run in:\n";
    for (const std::string& d : diff) {
        out += "    " + d + "\n";
    }
    return out;
}

std::string format_run(const Json& run)
{
    std::string out = "run " + run.value("id", "") + " of " + run.value("pipeline", "") + " (" + run.value("project", "")
                      + "): " + run.value("status", "");
    if (!run.value("why", "").empty()) {
        out += " — " + run.value("why", "");
    }
    std::int64_t start = run.value("started_ms", std::int64_t{0});
    std::int64_t end = run["finished_ms"].is_number() ? run["finished_ms"].get<std::int64_t>() : 0;
    out += "\nstarted " + format_time_ms(start) + (end ? ", took " + format_duration_ms(end - start) : "") + "; primary metric "
           + run.value("primary_metric", "") + (run.value("smoke", false) ? "; smoke profile" : "") + "\n\n";
    // One line per node, indented by depth (longest path from a root): a text DAG.
    std::map<std::string, int> depth;
    for (const Json& n : run["nodes"]) {
        int d = 0;
        for (const Json& p : n["parents"]) {
            d = std::max(d, depth[p.get<std::string>()] + 1);
        }
        depth[n["name"]] = d;
    }
    for (const Json& n : run["nodes"]) {
        std::string name = n["name"];
        int d = depth[name];
        std::string prefix = std::string(static_cast<size_t>(d) * 2, ' ') + (d ? "`- " : "");
        std::string state = n.value("state", "");
        std::string dur;
        std::int64_t s = n.value("started_ms", std::int64_t{0});
        std::int64_t f = n.value("finished_ms", std::int64_t{0});
        if (s && f >= s) {
            dur = format_duration_ms(f - s);
        }
        char metric[32] = "";
        if (n["metric"].is_number()) {
            std::snprintf(metric, sizeof metric, "%.4f", n["metric"].get<double>());
        }
        char line[512];
        std::string label = prefix + name;
        std::snprintf(line, sizeof line, "%-34s %-10s %10s  %-8s %s", label.c_str(), state.c_str(), dur.c_str(), metric,
                      n.value("task_id", "").c_str());
        out += line;
        std::string reason = n.value("reason", "");
        if (!reason.empty() && state != "completed" && state != "cached") {
            out += "  (" + reason.substr(0, 120) + ")";
        }
        out += "\n";
    }
    return out;
}

} // namespace mlrun
