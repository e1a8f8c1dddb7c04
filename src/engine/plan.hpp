#pragma once
// The expanded DAG of a pipeline run and the decisions on it, without threads (ninja's
// Plan): foreach fan-out into nodes "train::mlp", trigger rules, skip propagation and the
// run's final status under the policy. The executor asks; the plan answers.
#include "engine/pipeline_spec.hpp"

#include <string>
#include <vector>

namespace mlrun {

enum class NodeState { pending, running, completed, cached, failed, aborted, skipped };
std::string_view to_string(NodeState s);
bool is_done(NodeState s);     // completed or cached
bool is_ended(NodeState s);    // anything but pending and running

struct PlanNode {
    std::string name;          // "preprocess", "train::mlp"
    size_t step = 0;           // index into spec.steps
    Json foreach_value;        // null when not a fan-out
    std::vector<size_t> parents; // node indices
    std::vector<size_t> children;
    NodeState state = NodeState::pending;
    std::string task_id;
    std::string reason;        // why skipped / failed / cached
};

class Plan {
public:
    explicit Plan(const PipelineSpec& spec);

    const PipelineSpec& spec() const { return m_spec; }
    std::vector<PlanNode>& nodes() { return m_nodes; }
    const std::vector<PlanNode>& nodes() const { return m_nodes; }
    // Index of a node by name; throws UsageError (with a suggestion) when unknown.
    size_t find(const std::string& name) const;

    // Once all parents of `node` have ended: should it run? If not, `reason` says why
    // (all_success with a parent that did not succeed).
    bool should_run(size_t node, std::string& reason) const;
    void mark(size_t node, NodeState state, const std::string& reason = "");

    // Nodes of the same step (fan-out siblings), in order.
    std::vector<size_t> nodes_of_step(size_t step) const;
    // Task ids of the nodes of a parent step, for params.inputs.
    Json input_ids(size_t node) const;

    // The run succeeded? Under partial, a failed fan-out node is fine while one of its
    // siblings succeeded; optional steps never fail the run; under strict any failure does.
    bool succeeded(std::string& why) const;

private:
    PipelineSpec m_spec;
    std::vector<PlanNode> m_nodes;
};

} // namespace mlrun
