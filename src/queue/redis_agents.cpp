#include "queue/redis_agents.hpp"

#include "core/error.hpp"
#include "core/util.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>

namespace mlrun {

namespace {

// The beat as written (stopping is not part of it: it lives in the stop key).
std::string encode(AgentInfo a, std::int64_t heartbeat_ms)
{
    a.heartbeat_ms = heartbeat_ms;
    a.stopping = false;
    return agent_to_json(a);
}

} // namespace

RedisAgentRegistry::RedisAgentRegistry(const RedisUri& uri, std::string prefix, RedisOptions options)
    : m_prefix(std::move(prefix)), m_conn(uri, options)
{}

void RedisAgentRegistry::beat(const AgentInfo& agent)
{
    check_name(agent.name, "agent name");
    if (agent.ttl_ms < 1) {
        throw UsageError("agent " + agent.name + ": the heartbeat TTL must be at least 1 ms");
    }
    const std::string ttl = std::to_string(agent.ttl_ms);
    std::lock_guard<std::mutex> lock(m_mutex);
    m_conn.command({"SET", key(agent.name), encode(agent, now_ms()), "PX", ttl});
    m_conn.command({"SADD", m_prefix + "agents", agent.name});
    RedisValue stop = m_conn.command({"GET", key(agent.name) + "/stop"});
    if (!stop.is_nil()) {
        if (stop.as_string() == std::to_string(agent.started_ms)) {
            m_conn.command({"PEXPIRE", key(agent.name) + "/stop", ttl}); // lives as long as the agent
        } else {
            m_conn.command({"DEL", key(agent.name) + "/stop"}); // meant for an earlier run
        }
    }
}

void RedisAgentRegistry::remove(const std::string& name)
{
    check_name(name, "agent name");
    std::lock_guard<std::mutex> lock(m_mutex);
    m_conn.command({"DEL", key(name), key(name) + "/stop"});
    m_conn.command({"SREM", m_prefix + "agents", name});
}

std::vector<AgentInfo> RedisAgentRegistry::live()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    std::vector<AgentInfo> out;
    const RedisValue names = m_conn.command({"SMEMBERS", m_prefix + "agents"});
    for (const RedisValue& n : names.as_array()) {
        const std::string& name = n.as_string();
        RedisValue value = m_conn.command({"GET", key(name)});
        std::optional<AgentInfo> agent = value.is_nil() ? std::nullopt : agent_from_json(value.as_string());
        if (!agent) {
            // Its TTL ran out (or the key is not ours): forget the name, unless it beat just now.
            if (m_conn.command({"EXISTS", key(name)}).as_integer() == 0) {
                m_conn.command({"SREM", m_prefix + "agents", name});
            }
            continue;
        }
        RedisValue stop = m_conn.command({"GET", key(name) + "/stop"});
        agent->stopping = !stop.is_nil() && stop.as_string() == std::to_string(agent->started_ms);
        out.push_back(std::move(*agent));
    }
    std::sort(out.begin(), out.end(), [](const AgentInfo& a, const AgentInfo& b) { return a.name < b.name; });
    return out;
}

bool RedisAgentRegistry::request_stop(const std::string& name)
{
    check_name(name, "agent name");
    std::lock_guard<std::mutex> lock(m_mutex);
    RedisValue value = m_conn.command({"GET", key(name)});
    std::optional<AgentInfo> agent = value.is_nil() ? std::nullopt : agent_from_json(value.as_string());
    if (!agent) {
        return false;
    }
    m_conn.command({"SET", key(name) + "/stop", std::to_string(agent->started_ms), "PX",
                    std::to_string(std::max<std::int64_t>(agent->ttl_ms, 1))});
    return true;
}

} // namespace mlrun
