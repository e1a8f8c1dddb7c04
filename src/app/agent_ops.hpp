#pragma once
// Agent use cases behind `mlrun agent ...`: the daemon on the backends' broker and store.
#include "agent/agent.hpp"

namespace mlrun {

struct Backends;
struct BackendOptions;

// Runs the agent (agent/agent.hpp) on b's queue, registry and store. Fills in what the
// children need from the wiring: this executable, the store root (MLRUN_HOME) and the broker
// URI of `options` (MLRUN_BROKER). UsageError for bad options or an unknown queue.
AgentStats run_agent_daemon(Backends& b, const BackendOptions& options, AgentOptions agent);

} // namespace mlrun
