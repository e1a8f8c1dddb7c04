#include "engine/pipeline_spec.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "core/yaml.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

namespace mlrun {

namespace {

void check_keys(const Json& obj, const std::vector<std::string>& allowed, const std::string& where)
{
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
            std::string near = nearest(it.key(), allowed);
            throw UsageError(where + "unknown key \"" + it.key() + "\""
                             + (near.empty() ? "" : " (did you mean " + near + "?)"));
        }
    }
}

std::string get_string(const Json& obj, const char* key, const std::string& where, bool required)
{
    if (!obj.contains(key) || obj[key].is_null()) {
        if (required) {
            throw UsageError(where + "missing \"" + key + "\"");
        }
        return "";
    }
    if (!obj[key].is_string()) {
        throw UsageError(where + "\"" + key + "\" must be a string");
    }
    return obj[key].get<std::string>();
}

std::vector<std::string> string_list(const Json& v, const std::string& where)
{
    std::vector<std::string> out;
    if (v.is_string()) {
        out.push_back(v.get<std::string>());
        return out;
    }
    if (!v.is_array()) {
        throw UsageError(where + "expected a list of names");
    }
    for (const Json& e : v) {
        if (!e.is_string()) {
            throw UsageError(where + "expected a list of names");
        }
        out.push_back(e.get<std::string>());
    }
    return out;
}

void check_cycles(const PipelineSpec& spec, const std::string& origin)
{
    std::map<std::string, size_t> index;
    for (size_t i = 0; i < spec.steps.size(); ++i) {
        index[spec.steps[i].name] = i;
    }
    // Depth-first search with colours; the grey path is the cycle when a grey node is met.
    std::vector<int> colour(spec.steps.size(), 0);
    std::vector<std::string> path;
    std::function<void(size_t)> visit = [&](size_t i) {
        colour[i] = 1;
        path.push_back(spec.steps[i].name);
        for (const std::string& p : spec.steps[i].parents) {
            size_t j = index.at(p);
            if (colour[j] == 1) {
                auto start = std::find(path.begin(), path.end(), p);
                std::string cycle;
                for (auto it = start; it != path.end(); ++it) {
                    cycle += *it + " -> ";
                }
                throw UsageError(origin + ": dependency cycle: " + cycle + p);
            }
            if (colour[j] == 0) {
                visit(j);
            }
        }
        path.pop_back();
        colour[i] = 2;
    };
    for (size_t i = 0; i < spec.steps.size(); ++i) {
        if (colour[i] == 0) {
            visit(i);
        }
    }
}

} // namespace

PipelineSpec parse_pipeline(const Json& doc, const fs::path& path)
{
    std::string origin = path.string();
    std::string top = origin + ": ";
    if (!doc.is_object()) {
        throw UsageError(top + "a pipeline is a mapping with name and steps");
    }
    check_keys(doc,
               {"name", "project", "description", "primary_metric", "parallelism", "policy", "steps", "smoke", "gates"},
               top);
    PipelineSpec spec;
    spec.file = path;
    spec.base_dir = fs::absolute(path).parent_path();
    spec.name = get_string(doc, "name", top, false);
    if (spec.name.empty()) {
        spec.name = path.stem().string();
    }
    spec.project = get_string(doc, "project", top, false);
    if (spec.project.empty()) {
        spec.project = spec.name;
    }
    check_relative_path(spec.project, "project name");
    if (doc.contains("primary_metric")) {
        spec.primary_metric = get_string(doc, "primary_metric", top, true);
    }
    if (doc.contains("parallelism")) {
        if (!doc["parallelism"].is_number_integer() || doc["parallelism"].get<int>() < 1) {
            throw UsageError(top + "\"parallelism\" must be a whole number >= 1");
        }
        spec.parallelism = doc["parallelism"].get<int>();
    }
    if (doc.contains("policy")) {
        std::string p = get_string(doc, "policy", top, true);
        if (p == "partial") {
            spec.policy = Policy::partial;
        } else if (p == "strict") {
            spec.policy = Policy::strict;
        } else {
            throw UsageError(top + "\"policy\" must be partial or strict, not \"" + p + "\"");
        }
    }
    if (doc.contains("smoke") && !doc["smoke"].is_null()) {
        if (!doc["smoke"].is_object()) {
            throw UsageError(top + "\"smoke\" must be a mapping of step.param: value overrides");
        }
        spec.smoke = doc["smoke"];
    }
    if (doc.contains("gates") && !doc["gates"].is_null()) {
        for (const std::string& g : string_list(doc["gates"], top + "\"gates\": ")) {
            spec.gates.push_back(parse_gate(g));
        }
    }
    if (!doc.contains("steps") || !doc["steps"].is_array() || doc["steps"].empty()) {
        throw UsageError(top + "\"steps\" must be a non-empty list");
    }
    std::set<std::string> names;
    for (const Json& s : doc["steps"]) {
        if (!s.is_object()) {
            throw UsageError(top + "each step is a mapping with name and template");
        }
        StepSpec step;
        step.name = get_string(s, "name", top + "step: ", true);
        std::string where = top + "step \"" + step.name + "\": ";
        check_name(step.name, "step name");
        if (step.name.find("::") != std::string::npos) {
            throw UsageError(where + "\"::\" is reserved for fan-out steps");
        }
        check_keys(s,
                   {"name", "template", "params", "parents", "foreach", "queue", "trigger", "optional", "description"},
                   where);
        if (!names.insert(step.name).second) {
            throw UsageError(where + "duplicate step name");
        }
        step.template_name = get_string(s, "template", where, true);
        if (s.contains("params") && !s["params"].is_null()) {
            if (!s["params"].is_object()) {
                throw UsageError(where + "\"params\" must be a mapping");
            }
            merge_params(step.params, s["params"]);
        }
        if (s.contains("parents") && !s["parents"].is_null()) {
            step.parents = string_list(s["parents"], where + "\"parents\": ");
        }
        if (s.contains("foreach") && !s["foreach"].is_null()) {
            const Json& f = s["foreach"];
            if (!f.is_object() || f.size() != 1 || !f.begin().value().is_array() || f.begin().value().empty()) {
                throw UsageError(
                    where + "\"foreach\" must be one param with a non-empty list, e.g. {model.kind: [logreg, mlp]}");
            }
            step.foreach_key = f.begin().key();
            std::set<std::string> seen;
            for (const Json& v : f.begin().value()) {
                std::string label = v.is_string() ? v.get<std::string>() : v.dump();
                check_name(label, "foreach value");
                if (!seen.insert(label).second) {
                    throw UsageError(where + "duplicate foreach value \"" + label + "\"");
                }
                step.foreach_values.push_back(v);
            }
        }
        step.queue = get_string(s, "queue", where, false);
        std::string trigger = get_string(s, "trigger", where, false);
        if (trigger == "all_done") {
            step.trigger = Trigger::all_done;
        } else if (!trigger.empty() && trigger != "all_success") {
            throw UsageError(where + "\"trigger\" must be all_success or all_done, not \"" + trigger + "\"");
        }
        if (s.contains("optional")) {
            if (!s["optional"].is_boolean()) {
                throw UsageError(where + "\"optional\" must be true or false");
            }
            step.optional = s["optional"].get<bool>();
        }
        spec.steps.push_back(std::move(step));
    }
    std::vector<std::string> all(names.begin(), names.end());
    for (const StepSpec& step : spec.steps) {
        for (const std::string& p : step.parents) {
            if (!names.count(p)) {
                std::string near = nearest(p, all);
                throw UsageError(top + "step \"" + step.name + "\": unknown parent \"" + p + "\""
                                 + (near.empty() ? "" : " (did you mean " + near + "?)"));
            }
        }
    }
    check_cycles(spec, origin);
    return spec;
}

PipelineSpec load_pipeline(const fs::path& path)
{
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
        throw UsageError(path.string() + ": no such pipeline file");
    }
    return parse_pipeline(load_yaml_file(path), path);
}

void set_step_param(PipelineSpec& spec, const std::string& key, Json value, const std::string& origin)
{
    size_t dot = key.find('.');
    if (dot == std::string::npos) {
        throw UsageError(origin + " \"" + key + "\": expected step.param");
    }
    std::string step = key.substr(0, dot);
    auto it = std::find_if(spec.steps.begin(), spec.steps.end(), [&](const StepSpec& s) { return s.name == step; });
    if (it == spec.steps.end()) {
        std::vector<std::string> names;
        for (const StepSpec& s : spec.steps) {
            names.push_back(s.name);
        }
        std::string near = nearest(step, names);
        throw UsageError(origin + " \"" + key + "\": unknown step \"" + step + "\""
                         + (near.empty() ? "" : " (did you mean " + near + "?)"));
    }
    std::string param = key.substr(dot + 1);
    if (!it->foreach_key.empty() && param == it->foreach_key) {
        // The same checks as the file's foreach: node names must be valid and distinct.
        it->foreach_values.clear();
        std::set<std::string> seen;
        for (const Json& v : value.is_array() ? value : Json::array({value})) {
            std::string label = v.is_string() ? v.get<std::string>() : v.dump();
            check_name(label, "foreach value");
            if (!seen.insert(label).second) {
                throw UsageError(origin + " \"" + key + "\": duplicate foreach value \"" + label + "\"");
            }
            it->foreach_values.push_back(v);
        }
        if (it->foreach_values.empty()) {
            throw UsageError(origin + " \"" + key + "\": a fan-out needs at least one value");
        }
        return;
    }
    set_path(it->params, param, std::move(value));
}

void apply_step_sets(PipelineSpec& spec, const std::vector<std::string>& sets, const std::string& origin)
{
    for (const std::string& set : sets) {
        auto [key, value] = parse_assignment(set);
        set_step_param(spec, key, std::move(value), origin + " \"" + set + "\":");
    }
}

void apply_smoke(PipelineSpec& spec)
{
    const Json flat = flatten(spec.smoke);
    for (auto it = flat.begin(); it != flat.end(); ++it) {
        set_step_param(spec, it.key(), it.value(), spec.file.string() + ": smoke");
    }
}

Gate parse_gate(const std::string& text)
{
    static const char* ops[] = {">=", "<=", "==", ">", "<"};
    for (const char* op : ops) {
        size_t at = text.find(op);
        if (at == std::string::npos || at == 0) {
            continue;
        }
        Gate g;
        g.text = text;
        g.op = op;
        g.metric = text.substr(0, at);
        g.metric.erase(g.metric.find_last_not_of(" \t") + 1);
        std::string bound = text.substr(at + std::string(op).size());
        bound.erase(0, bound.find_first_not_of(" \t"));
        Json v = parse_value(bound);
        bool metric_ok = !g.metric.empty() && g.metric.find_first_of(" <>=!") == std::string::npos;
        if (metric_ok && v.is_number()) {
            g.bound = v.get<double>();
            return g;
        }
        break;
    }
    throw UsageError("gate \"" + text
                     + "\": expected METRIC OP NUMBER with OP one of >= > <= < ==, e.g. 'roc_auc>=0.80'");
}

bool gate_passes(const Gate& gate, double value)
{
    if (std::isnan(value)) {
        return false;
    }
    if (gate.op == ">=") return value >= gate.bound;
    if (gate.op == ">") return value > gate.bound;
    if (gate.op == "<=") return value <= gate.bound;
    if (gate.op == "<") return value < gate.bound;
    return value == gate.bound;
}

std::vector<size_t> topological_order(const PipelineSpec& spec)
{
    std::map<std::string, size_t> index;
    for (size_t i = 0; i < spec.steps.size(); ++i) {
        index[spec.steps[i].name] = i;
    }
    std::vector<size_t> order;
    std::vector<bool> done(spec.steps.size(), false);
    while (order.size() < spec.steps.size()) {
        for (size_t i = 0; i < spec.steps.size(); ++i) {
            if (done[i]) {
                continue;
            }
            bool ready = std::all_of(spec.steps[i].parents.begin(), spec.steps[i].parents.end(),
                                     [&](const std::string& p) { return done[index.at(p)]; });
            if (ready) {
                done[i] = true;
                order.push_back(i);
            }
        }
    }
    return order;
}

} // namespace mlrun
