#pragma once
// Agent registry port (DESIGN §6): who serves which queue. An agent registers with a TTL
// and renews it with its heartbeat; an entry whose TTL ran out is not live. Adapters:
// local (a file per agent under <store>/agents), Redis (TTL keys).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrun {

struct AgentInfo {
    std::string name;
    std::string host;
    int pid = 0;
    std::vector<std::string> queues;
    std::string current_task; // "" when idle
    std::int64_t started_ms = 0;
    std::int64_t heartbeat_ms = 0; // last renewal
    std::int64_t ttl_ms = 0;
    int tasks_done = 0;
    bool stopping = false; // asked to drain (`agent stop --drain`)
};

class AgentRegistry {
public:
    virtual ~AgentRegistry() = default;
    // Registers or renews `agent` (heartbeat_ms is set by the adapter). A stop request
    // survives the agent's later beats (same started_ms), so the agent sees it in live().
    virtual void beat(const AgentInfo& agent) = 0;
    virtual void remove(const std::string& name) = 0;
    // Live agents only (heartbeat within their TTL), sorted by name.
    virtual std::vector<AgentInfo> live() = 0;
    // Asks an agent to stop claiming; false when no live agent has that name.
    virtual bool request_stop(const std::string& name) = 0;
};

// The one JSON form of an agent record (both registries store it).
std::string agent_to_json(const AgentInfo& agent);
// nullopt for text that is not an agent's record (written by something else, or torn).
std::optional<AgentInfo> agent_from_json(std::string_view text);

// Some agent of `agents` (pass live()) lists `queue` and is not stopping.
bool served(const std::vector<AgentInfo>& agents, const std::string& queue);

} // namespace mlrun
