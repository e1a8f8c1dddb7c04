#pragma once
// Redis adapter of the AgentRegistry port: each agent is a JSON string key with a TTL
// (SET ... PX ttl), so Redis itself forgets an agent that stopped beating; a set of names
// lets live() find them (and drops names whose key expired). A stop request is a key of
// its own holding the started_ms of the run it was meant for, so the agent's next beats
// (written from its own copy) keep it and a new run under the same name starts fresh.
//   <prefix>agents               SET of names
//   <prefix>agent/<name>         JSON of AgentInfo, PX ttl_ms
//   <prefix>agent/<name>/stop    started_ms of the run asked to stop, PX ttl_ms
#include "ports/agent_registry.hpp"
#include "queue/redis_connection.hpp"

#include <mutex>

namespace mlrun {

// Thread-safe (one connection under a mutex).
class RedisAgentRegistry final : public AgentRegistry {
public:
    // Connects (UsageError when the broker cannot be used; the password never shown).
    explicit RedisAgentRegistry(const RedisUri& uri, std::string prefix = "mlrun:", RedisOptions options = {});

    // UsageError for a bad name or a TTL under 1 ms.
    void beat(const AgentInfo& agent) override;
    void remove(const std::string& name) override;
    std::vector<AgentInfo> live() override;
    bool request_stop(const std::string& name) override;

private:
    std::string key(const std::string& name) const { return m_prefix + "agent/" + name; }

    std::string m_prefix;
    std::mutex m_mutex;
    RedisConnection m_conn;
};

} // namespace mlrun
