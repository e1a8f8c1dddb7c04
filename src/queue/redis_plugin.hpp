#pragma once
// The entry of libmlrun_redis.so (app/adapter_plugin.hpp): the Redis broker, the code that
// needs hiredis. Opened by src/app/wiring.cpp for redis:// (and rediss://) broker URIs.
#include "ports/agent_registry.hpp"
#include "ports/queue.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace mlrun {

// The queue and the agent registry of one broker.
struct RedisBroker {
    std::unique_ptr<Queue> queue;
    std::unique_ptr<AgentRegistry> agents;
};

struct RedisEntry {
    std::uint32_t abi; // k_adapter_plugin_abi
    // RedisQueue + RedisAgentRegistry on `uri` (one connection each, one key prefix), claims
    // leased for lease_ms. UsageError, one line with the password masked: a malformed URI,
    // rediss:// (no TLS in this build), an unreachable server, refused AUTH.
    RedisBroker (*open_broker)(const std::string& uri, std::int64_t lease_ms);
};

} // namespace mlrun

extern "C" const void* mlrun_redis_entry();
