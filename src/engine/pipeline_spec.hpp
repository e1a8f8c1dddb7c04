#pragma once
// A pipeline file (YAML, DESIGN §5), parsed and validated before anything runs.
#include "core/params.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace mlrun {

enum class Trigger { all_success, all_done };
enum class Policy { partial, strict };

struct StepSpec {
    std::string name;
    std::string template_name;
    Json params = Json::object(); // the step's own params (nested)
    std::vector<std::string> parents;
    std::string foreach_key; // "model.kind": one node per value
    std::vector<Json> foreach_values;
    std::string queue;
    Trigger trigger = Trigger::all_success;
    bool optional = false;
};

struct Gate {
    std::string metric;
    std::string op; // >=, >, <=, <, ==
    double bound = 0;
    std::string text; // as written
};

struct PipelineSpec {
    std::string name;
    std::string project;
    std::string primary_metric = "roc_auc";
    int parallelism = 2;
    Policy policy = Policy::partial;
    std::vector<StepSpec> steps;
    Json smoke = Json::object(); // step.param -> value, applied with --smoke
    std::vector<Gate> gates;
    std::filesystem::path file;     // where it was read from
    std::filesystem::path base_dir; // its folder: relative data paths resolve here
};

// Parses and checks structure: unknown keys, duplicate step names, unknown parents,
// cycles ("dependency cycle: a -> b -> a"). Throws UsageError "FILE: step "x": ...".
PipelineSpec load_pipeline(const std::filesystem::path& path);
PipelineSpec parse_pipeline(const Json& doc, const std::filesystem::path& path);

// Applies "step.key=value" overrides; unknown step (with a suggestion) is an error.
// Setting a step's foreach key replaces its fan-out list.
void apply_step_sets(PipelineSpec& spec, const std::vector<std::string>& sets, const std::string& origin);
void set_step_param(PipelineSpec& spec, const std::string& key, Json value, const std::string& origin);
// The file's smoke profile (step.param: value), applied before --set.
void apply_smoke(PipelineSpec& spec);

// Parses "roc_auc>=0.8"; throws UsageError with the expected form.
Gate parse_gate(const std::string& text);
bool gate_passes(const Gate& gate, double value);

// Step names in an order where parents come first (the spec is known acyclic).
std::vector<size_t> topological_order(const PipelineSpec& spec);

} // namespace mlrun
