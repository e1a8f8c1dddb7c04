#include "app/agent_ops.hpp"

#include "app/wiring.hpp"
#include "core/util.hpp"
#include "platform/self_path.hpp"
#include "store/local_store.hpp"

namespace mlrun {

AgentStats run_agent_daemon(Backends& b, const BackendOptions& options, AgentOptions agent)
{
    if (!agent.name.empty()) {
        check_name(agent.name, "agent name");
    }
    agent.exe = self_exe();
    agent.home = b.store->uri(); // what its children open: a URI for the SQL stores
    agent.broker = resolve_broker(options);
    return run_agent(*b.queue, *b.agents, *b.store, agent);
}

} // namespace mlrun
