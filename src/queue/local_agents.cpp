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

std::string encode(const AgentInfo& a)
{
    nlohmann::json j = {{"name", a.name},
                        {"host", a.host},
                        {"pid", a.pid},
                        {"queues", a.queues},
                        {"current_task", a.current_task},
                        {"started_ms", a.started_ms},
                        {"heartbeat_ms", a.heartbeat_ms},
                        {"ttl_ms", a.ttl_ms},
                        {"tasks_done", a.tasks_done},
                        {"stopping", a.stopping}};
    return j.dump(2);
}

// nullopt for a missing, unreadable or foreign file.
std::optional<AgentInfo> load(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (!j.is_object()) {
        return std::nullopt;
    }
    try {
        AgentInfo a;
        a.name = j.value("name", "");
        a.host = j.value("host", "");
        a.pid = j.value("pid", 0);
        a.queues = j.value("queues", std::vector<std::string>{});
        a.current_task = j.value("current_task", "");
        a.started_ms = j.value("started_ms", std::int64_t{0});
        a.heartbeat_ms = j.value("heartbeat_ms", std::int64_t{0});
        a.ttl_ms = j.value("ttl_ms", std::int64_t{0});
        a.tasks_done = j.value("tasks_done", 0);
        a.stopping = j.value("stopping", false);
        return a;
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
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
        write_file_atomic(path, encode(a));
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
        write_file_atomic(path, encode(*a));
        found = true;
    });
    return found;
}

} // namespace mlrun
