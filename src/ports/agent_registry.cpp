#include "ports/agent_registry.hpp"

#include <algorithm>

namespace mlrun {

bool served(const std::vector<AgentInfo>& agents, const std::string& queue)
{
    return std::any_of(agents.begin(), agents.end(), [&](const AgentInfo& a) {
        return !a.stopping && std::find(a.queues.begin(), a.queues.end(), queue) != a.queues.end();
    });
}

} // namespace mlrun
