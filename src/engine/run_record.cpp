#include "engine/run_record.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "engine/cache.hpp"
#include "engine/plan.hpp"
#include "ports/ports.hpp"
#include "ports/task_store.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

namespace mlrun {

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

namespace {

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
           {"cache",
            {{"key", r.cache_key},
             {"decision", r.cache_decision},
             {"reason", r.cache_reason},
             {"material", r.cache_material}}},
           {"started_ms", r.started_ms},
           {"finished_ms", r.finished_ms}};
    j["metric"] = r.metric ? Json(*r.metric) : Json(nullptr);
    return j;
}

} // namespace

Json run_record_json(const RunRecordHeader& h, const Plan& plan, const std::vector<NodeRecord>& records,
                     const std::string& status, const std::string& why)
{
    Json nodes = Json::array();
    for (size_t i = 0; i < plan.nodes().size(); ++i) {
        nodes.push_back(node_json(plan, i, records[i]));
    }
    const PipelineSpec& spec = plan.spec();
    Json out{{"id", h.run_id},
             {"pipeline", spec.name},
             {"project", spec.project},
             {"file", fs::absolute(spec.file).string()},
             {"status", status},
             {"why", why},
             {"started_ms", h.previous ? h.previous->value("started_ms", h.started_ms) : h.started_ms},
             {"resumed_ms", h.previous ? Json(h.started_ms) : Json(nullptr)},
             {"finished_ms", status == "running" ? Json(nullptr) : Json(now_ms())},
             {"parallelism", spec.parallelism},
             {"policy", spec.policy == Policy::strict ? "strict" : "partial"},
             {"primary_metric", spec.primary_metric},
             {"smoke", h.smoke},
             {"sets", h.sets},
             {"nodes", nodes}};
    if (!h.git.is_null()) {
        out["git"] = h.git;
    }
    return out;
}

std::string resolve_run(const Ports& b, const std::string& id_or_prefix)
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
    if (hits.empty() && id_or_prefix == "last") {
        // Ids sort by creation time, so the newest run has the greatest.
        if (ids.empty()) {
            throw UsageError("no pipeline run yet, so there is no \"last\" run");
        }
        return *std::max_element(ids.begin(), ids.end());
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

bool run_driver_gone(TaskStore& store, const std::string& run_id)
{
    try {
        // Taken and let go at once: only a live driver (or a resume starting this very
        // moment) holds it.
        return store.try_lock_run(run_id) != nullptr;
    } catch (const std::exception&) {
        return false; // cannot tell (a read-only store): as recorded
    }
}

void mark_if_dead(TaskStore& store, Json& run)
{
    if (run.value("status", "") != "running" || !run_driver_gone(store, run.value("id", ""))) {
        return;
    }
    run["status"] = std::string(k_run_dead);
    run["why"] = "no mlrun process drives it any more (killed?): resume it with `mlrun pipeline run --resume "
                 + run.value("id", "") + "`, or `mlrun store check --repair` marks it failed";
    if (run.contains("nodes") && run["nodes"].is_array()) {
        for (Json& n : run["nodes"]) {
            if (n.is_object() && n.value("state", "") == "running") {
                n["state"] = std::string(k_run_dead);
            }
        }
    }
}

Json load_run(const Ports& b, const std::string& run_id)
{
    std::string id = resolve_run(b, run_id);
    Json run = *b.store->get_record("runs", id);
    if (!well_formed_run(run)) {
        throw UsageError("run record " + b.store->location() + "/records/runs/" + id + ".json is malformed");
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
    mark_if_dead(*b.store, run);
    return run;
}

std::vector<Json> list_runs(const Ports& b)
{
    std::vector<Json> out;
    for (const std::string& id : b.store->list_records("runs")) {
        try {
            if (auto r = b.store->get_record("runs", id); r && well_formed_run(*r)) {
                out.push_back(*r);
            }
        } catch (const UsageError&) {
            // an unreadable record is left out of the listing; `pipeline show` names it
        } catch (const CorruptRecord&) {
            // as above; `mlrun store check` finds it
        }
    }
    for (Json& run : out) {
        mark_if_dead(*b.store, run);
    }
    return out;
}

std::string explain_step(const Ports& b, const std::string& run_id, const std::string& step)
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
    std::string out = "step " + step + " of run " + run["id"].get<std::string>() + ": " + node->value("state", "")
                      + "\n";
    if (decision.empty()) {
        return out + "  it did not get as far as the cache check (" + node->value("reason", "") + ")\n";
    }
    out += "  cache: " + decision + " — " + cache.value("reason", "") + "\n";
    out += "  key:   " + cache.value("key", "") + "\n";
    if (decision == "hit" || decision == "kept") {
        return out + "  reused because kind, params, input artifacts, data and mlrun version all matched\n";
    }
    if (decision == "disabled") {
        return out + "  the cache was not consulted (" + cache.value("reason", "") + "), so the step ran again\n";
    }
    if (decision == "rerun") {
        return out + "  run again on purpose: " + cache.value("reason", "") + "\n";
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
        return out
               + "  same material as the previous run, but no completed task was recorded under it "
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
    std::string out = "run " + run.value("id", "") + " of " + run.value("pipeline", "") + " ("
                      + run.value("project", "") + "): " + run.value("status", "");
    if (!run.value("why", "").empty()) {
        out += " — " + run.value("why", "");
    }
    std::int64_t start = run.value("started_ms", std::int64_t{0});
    std::int64_t end = run["finished_ms"].is_number() ? run["finished_ms"].get<std::int64_t>() : 0;
    out += "\nstarted " + format_time_ms(start) + (end ? ", took " + format_duration_ms(end - start) : "")
           + "; primary metric " + run.value("primary_metric", "")
           + (run.value("smoke", false) ? "; smoke profile" : "") + "\n\n";
    // One line per node, indented by depth (longest path from a root): a text DAG.
    std::map<std::string, int> depth;
    for (const Json& n : run["nodes"]) {
        int d = 0;
        for (const Json& p : n["parents"]) {
            d = std::max(d, depth[p.get<std::string>()] + 1);
        }
        depth[n["name"]] = d;
    }
    // Fan-out nodes per step ("train" -> 3), so a join can name "train::*" instead of each node.
    std::map<std::string, size_t> nodes_of_step;
    for (const Json& n : run["nodes"]) {
        std::string name = n["name"];
        nodes_of_step[name.substr(0, name.find("::"))]++;
    }
    // A node with several parents is drawn under the last; the others are named after it.
    auto joined_parents = [&](const Json& parents) {
        std::map<std::string, size_t> per_step;
        for (const Json& p : parents) {
            std::string name = p;
            per_step[name.substr(0, name.find("::"))]++;
        }
        std::string text;
        std::set<std::string> done;
        for (const Json& p : parents) {
            std::string name = p;
            std::string step = name.substr(0, name.find("::"));
            bool whole = name != step && per_step[step] == nodes_of_step[step];
            std::string label = whole ? step + "::*" : name;
            if (done.insert(label).second) {
                text += (text.empty() ? "" : ", ") + label;
            }
        }
        return text;
    };
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
        if (n["parents"].is_array() && n["parents"].size() > 1) {
            out += "  after " + joined_parents(n["parents"]);
        }
        std::string reason = n.value("reason", "");
        // A dry run's "would run" is the one reason a completed step shows.
        if (!reason.empty() && ((state != "completed" && state != "cached") || reason.rfind("dry run", 0) == 0)) {
            out += "  (" + reason.substr(0, 120) + ")";
        }
        out += "\n";
    }
    return out;
}

} // namespace mlrun
