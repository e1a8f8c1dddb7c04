#include "engine/plan.hpp"

#include "core/error.hpp"
#include "core/util.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace mlrun {

std::string_view to_string(NodeState s)
{
    switch (s) {
    case NodeState::pending: return "pending";
    case NodeState::running: return "running";
    case NodeState::completed: return "completed";
    case NodeState::cached: return "cached";
    case NodeState::failed: return "failed";
    case NodeState::aborted: return "aborted";
    case NodeState::skipped: return "skipped";
    }
    return "unknown";
}

bool is_done(NodeState s)
{
    return s == NodeState::completed || s == NodeState::cached;
}

bool is_ended(NodeState s)
{
    return s != NodeState::pending && s != NodeState::running;
}

Plan::Plan(const PipelineSpec& spec) : m_spec(spec)
{
    std::map<std::string, std::vector<size_t>> by_step;
    for (size_t si : topological_order(m_spec)) {
        const StepSpec& step = m_spec.steps[si];
        std::vector<size_t> parents;
        for (const std::string& p : step.parents) {
            const auto& ids = by_step.at(p);
            parents.insert(parents.end(), ids.begin(), ids.end());
        }
        auto add = [&](const std::string& name, const Json& value) {
            PlanNode n;
            n.name = name;
            n.step = si;
            n.foreach_value = value;
            n.parents = parents;
            by_step[step.name].push_back(m_nodes.size());
            m_nodes.push_back(std::move(n));
        };
        if (step.foreach_key.empty()) {
            add(step.name, nullptr);
        } else {
            for (const Json& v : step.foreach_values) {
                add(step.name + "::" + (v.is_string() ? v.get<std::string>() : v.dump()), v);
            }
        }
    }
    for (size_t i = 0; i < m_nodes.size(); ++i) {
        for (size_t p : m_nodes[i].parents) {
            m_nodes[p].children.push_back(i);
        }
        m_waiting.push_back(m_nodes[i].parents.size());
        if (m_nodes[i].parents.empty()) {
            m_candidates.insert(i);
        }
    }
}

std::vector<size_t> Plan::take_ready()
{
    std::vector<size_t> ready;
    // Lowest index first: settling a node can make a lower-indexed child a candidate.
    while (!m_candidates.empty()) {
        size_t i = *m_candidates.begin();
        m_candidates.erase(m_candidates.begin());
        std::string reason;
        if (m_cancelled) {
            mark(i, NodeState::aborted, m_cancel_reason);
        } else if (!should_run(i, reason)) {
            mark(i, NodeState::skipped, reason);
        } else {
            mark(i, NodeState::running);
            ++m_running;
            ready.push_back(i);
            continue;
        }
        m_settled.push_back(i);
        ++m_ended;
        parent_ended(i);
    }
    return ready;
}

std::vector<size_t> Plan::take_settled()
{
    std::vector<size_t> out;
    out.swap(m_settled);
    return out;
}

void Plan::finished(size_t node, NodeState state, const std::string& reason)
{
    if (node >= m_nodes.size() || m_nodes[node].state != NodeState::running) {
        throw std::logic_error("plan: node " + (node < m_nodes.size() ? m_nodes[node].name : std::to_string(node))
                               + " finished but was not running");
    }
    if (!is_ended(state)) {
        throw std::logic_error("plan: node " + m_nodes[node].name + " finished as " + std::string(to_string(state)));
    }
    mark(node, state, reason);
    --m_running;
    ++m_ended;
    parent_ended(node);
}

void Plan::parent_ended(size_t node)
{
    for (size_t c : m_nodes[node].children) {
        if (--m_waiting[c] == 0) {
            m_candidates.insert(c);
        }
    }
}

void Plan::cancel(const std::string& reason)
{
    if (!m_cancelled) {
        m_cancelled = true;
        m_cancel_reason = reason;
    }
}

bool Plan::all_ended() const
{
    return m_ended == m_nodes.size();
}

size_t Plan::find(const std::string& name) const
{
    std::vector<std::string> names;
    for (size_t i = 0; i < m_nodes.size(); ++i) {
        if (m_nodes[i].name == name) {
            return i;
        }
        names.push_back(m_nodes[i].name);
    }
    std::string near = nearest(name, names);
    throw UsageError("unknown step \"" + name + "\"" + (near.empty() ? "" : " (did you mean " + near + "?)"));
}

bool Plan::should_run(size_t node, std::string& reason) const
{
    const PlanNode& n = m_nodes[node];
    const StepSpec& step = m_spec.steps[n.step];
    if (step.trigger == Trigger::all_done) {
        // Runs once every parent ended, whatever happened (an aborted or failed model counts
        // as done: the summary lists it in error_models.json), unless the whole run was
        // cancelled or nothing upstream even started (a skipped parent: an earlier failure).
        for (size_t p : n.parents) {
            if (m_nodes[p].state == NodeState::aborted && m_cancelled) {
                reason = "parent " + m_nodes[p].name + " was aborted";
                return false;
            }
        }
        bool any_ran = n.parents.empty();
        for (size_t p : n.parents) {
            any_ran = any_ran || m_nodes[p].state != NodeState::skipped;
        }
        if (!any_ran) {
            reason = "every parent was skipped";
            return false;
        }
        return true;
    }
    for (size_t p : n.parents) {
        if (!is_done(m_nodes[p].state)) {
            reason = "parent " + m_nodes[p].name + " " + std::string(to_string(m_nodes[p].state));
            return false;
        }
    }
    return true;
}

void Plan::mark(size_t node, NodeState state, const std::string& reason)
{
    m_nodes[node].state = state;
    m_nodes[node].reason = reason;
}

std::vector<size_t> Plan::nodes_of_step(size_t step) const
{
    std::vector<size_t> out;
    for (size_t i = 0; i < m_nodes.size(); ++i) {
        if (m_nodes[i].step == step) {
            out.push_back(i);
        }
    }
    return out;
}

Json Plan::input_ids(size_t node) const
{
    Json inputs = Json::object();
    const StepSpec& step = m_spec.steps[m_nodes[node].step];
    for (const std::string& parent : step.parents) {
        auto it = std::find_if(m_spec.steps.begin(), m_spec.steps.end(),
                               [&](const StepSpec& s) { return s.name == parent; });
        size_t si = static_cast<size_t>(it - m_spec.steps.begin());
        const StepSpec& ps = *it;
        if (ps.foreach_key.empty()) {
            const PlanNode& pn = m_nodes[nodes_of_step(si).front()];
            if (!pn.task_id.empty()) {
                inputs[parent] = pn.task_id;
            }
        } else {
            Json ids = Json::array();
            for (size_t pi : nodes_of_step(si)) {
                if (!m_nodes[pi].task_id.empty()) {
                    ids.push_back(m_nodes[pi].task_id);
                }
            }
            inputs[parent] = ids;
        }
    }
    return inputs;
}

bool Plan::succeeded(std::string& why) const
{
    for (size_t i = 0; i < m_nodes.size(); ++i) {
        const PlanNode& n = m_nodes[i];
        const StepSpec& step = m_spec.steps[n.step];
        if (is_done(n.state) || step.optional) {
            continue;
        }
        if ((n.state == NodeState::aborted && (m_cancelled || step.foreach_key.empty()))
            || n.state == NodeState::pending || n.state == NodeState::running) {
            why = "step " + n.name + " " + std::string(to_string(n.state));
            return false;
        }
        // One model aborted (`task abort`) while the run went on: under partial, as a failed one.
        if (m_spec.policy == Policy::partial && !step.foreach_key.empty()) {
            bool sibling_ok = false;
            for (size_t s : nodes_of_step(n.step)) {
                sibling_ok = sibling_ok || is_done(m_nodes[s].state);
            }
            if (sibling_ok) {
                continue; // a failed model goes to error_models.json; the run goes on
            }
        }
        why = "step " + n.name + " " + std::string(to_string(n.state)) + (n.reason.empty() ? "" : ": " + n.reason);
        return false;
    }
    return true;
}

} // namespace mlrun
