#include "ports/agent_registry.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace mlrun {

std::string agent_to_json(const AgentInfo& a)
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
    return j.dump();
}

std::optional<AgentInfo> agent_from_json(std::string_view text)
{
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) {
        return std::nullopt;
    }
    try {
        AgentInfo a;
        a.name = j.at("name").get<std::string>();
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

bool served(const std::vector<AgentInfo>& agents, const std::string& queue)
{
    return std::any_of(agents.begin(), agents.end(), [&](const AgentInfo& a) {
        return !a.stopping && std::find(a.queues.begin(), a.queues.end(), queue) != a.queues.end();
    });
}

} // namespace mlrun
