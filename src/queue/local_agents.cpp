#include "queue/local_agents.hpp"

#include "platform/file_lock.hpp"

#include "core/util.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

namespace mlrun {

namespace {

// nullopt for a missing, unreadable or foreign file.
std::optional<AgentInfo> load(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return agent_from_json(ss.str());
}

bool is_live(const AgentInfo& a, std::int64_t now)
{
    return now - a.heartbeat_ms <= a.ttl_ms;
}

} // namespace

void LocalAgentRegistry::locked(const std::function<void()>& fn)
{
    fs::create_directories(m_folder);
    FileLock lock(m_folder / ".lock");
    fn();
}

void LocalAgentRegistry::beat(const AgentInfo& agent)
{
    check_name(agent.name, "agent name");
    locked([&] {
        fs::path path = m_folder / (agent.name + ".json");
        AgentInfo a = agent;
        a.heartbeat_ms = now_ms();
        // A stop request written by `agent stop` between two beats of this run of the agent
        // must not be lost; a new run (another start time) starts fresh.
        if (std::optional<AgentInfo> old = load(path);
            old && old->stopping && old->started_ms == a.started_ms && is_live(*old, a.heartbeat_ms)) {
            a.stopping = true;
        }
        write_file_atomic(path, agent_to_json(a));
    });
}

void LocalAgentRegistry::remove(const std::string& name)
{
    check_name(name, "agent name");
    std::error_code ec;
    fs::remove(m_folder / (name + ".json"), ec);
}

std::vector<AgentInfo> LocalAgentRegistry::live()
{
    std::vector<AgentInfo> out;
    const std::int64_t now = now_ms();
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(m_folder, ec)) {
        const std::string file = e.path().filename().string();
        if (e.path().extension() != ".json" || file.find(".tmp.") != std::string::npos) {
            continue;
        }
        if (std::optional<AgentInfo> a = load(e.path()); a && is_live(*a, now)) {
            out.push_back(std::move(*a));
        }
    }
    std::sort(out.begin(), out.end(), [](const AgentInfo& a, const AgentInfo& b) { return a.name < b.name; });
    return out;
}

bool LocalAgentRegistry::request_stop(const std::string& name)
{
    check_name(name, "agent name");
    bool found = false;
    locked([&] {
        fs::path path = m_folder / (name + ".json");
        std::optional<AgentInfo> a = load(path);
        if (!a || !is_live(*a, now_ms())) {
            return;
        }
        a->stopping = true;
        write_file_atomic(path, agent_to_json(*a));
        found = true;
    });
    return found;
}

} // namespace mlrun
