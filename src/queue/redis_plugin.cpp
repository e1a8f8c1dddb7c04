// The entry of libmlrun_redis.so (queue/redis_plugin.hpp).
#include "queue/redis_plugin.hpp"

#include "platform/plugin.hpp"
#include "queue/redis_agents.hpp"
#include "queue/redis_connection.hpp"
#include "queue/redis_queue.hpp"

namespace mlrun::plugin_impl {

namespace {

RedisBroker open_redis_broker(const std::string& text, std::int64_t lease_ms)
{
    RedisUri uri = parse_redis_uri(text); // throws the one-line "no TLS in this build" hint for rediss://
    RedisQueueOptions queue_options;
    queue_options.lease_ms = lease_ms;
    RedisBroker b;
    b.queue = std::make_unique<RedisQueue>(uri, queue_options);
    b.agents = std::make_unique<RedisAgentRegistry>(uri, queue_options.prefix);
    return b;
}

} // namespace

} // namespace mlrun::plugin_impl

extern "C" const void* mlrun_redis_entry()
{
    static const mlrun::RedisEntry k_entry{mlrun::k_adapter_plugin_abi, &mlrun::plugin_impl::open_redis_broker};
    return &k_entry;
}
