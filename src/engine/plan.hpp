#pragma once
// The expanded DAG of a pipeline run and the decisions on it, without threads (ninja's
// Plan): foreach fan-out into nodes "train::mlp", trigger rules, skip propagation and the
// run's final status under the policy. The executor asks; the plan answers.
#include "engine/pipeline_spec.hpp"

#include <set>
#include <string>
#include <vector>

namespace mlrun {

enum class NodeState { pending, running, completed, cached, failed, aborted, skipped };
std::string_view to_string(NodeState s);
bool is_done(NodeState s);  // completed or cached
bool is_ended(NodeState s); // anything but pending and running

struct PlanNode {
    std::string name;            // "preprocess", "train::mlp"
    size_t step = 0;             // index into spec.steps
    Json foreach_value;          // null when not a fan-out
    std::vector<size_t> parents; // node indices
    std::vector<size_t> children;
    NodeState state = NodeState::pending;
    std::string task_id;
    std::string reason; // why skipped / failed / cached
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
    // Sets a node's state directly, outside the scheduling below (tests, reports).
    void mark(size_t node, NodeState state, const std::string& reason = "");

    // Scheduling (ninja's Plan::FindWork / EdgeFinished), without threads. A node becomes
    // ready once all its parents ended; take_ready() hands each ready node out once, in node
    // (topological) order, marked running. A ready node that should not run is ended here
    // instead: skipped with should_run's reason, or aborted with the cancel reason after
    // cancel(); its children are then evaluated in the same call, and take_settled() returns
    // it. finished() records the end of a handed-out node; it throws std::logic_error for a
    // node that is not running (never handed out, or finished twice) or a state that is not
    // an end.
    std::vector<size_t> take_ready();
    std::vector<size_t> take_settled();
    void finished(size_t node, NodeState state, const std::string& reason = "");
    // From now on a node that becomes ready ends aborted with `reason` instead of running.
    void cancel(const std::string& reason);
    // Every node ended: nothing is ready, running or waiting any more.
    bool all_ended() const;
    // Nodes handed out and not finished yet.
    size_t running() const { return m_running; }

    // Nodes of the same step (fan-out siblings), in order.
    std::vector<size_t> nodes_of_step(size_t step) const;
    // Task ids of the nodes of a parent step, for params.inputs.
    Json input_ids(size_t node) const;

    // The run succeeded? Under partial, a failed fan-out node is fine while one of its
    // siblings succeeded; optional steps never fail the run; under strict any failure does.
    bool succeeded(std::string& why) const;

private:
    // A node ended: its children each have one parent less to wait for.
    void parent_ended(size_t node);

    PipelineSpec m_spec;
    std::vector<PlanNode> m_nodes;
    std::vector<size_t> m_waiting; // per node: parents not ended yet
    std::set<size_t> m_candidates; // all parents ended, not yet handed out or settled
    std::vector<size_t> m_settled; // ended by take_ready, not yet taken
    size_t m_running = 0;
    size_t m_ended = 0;
    bool m_cancelled = false;
    std::string m_cancel_reason;
};

} // namespace mlrun
