#pragma once
// Queue port (DESIGN §6). Delivery is at least once; the task id is the idempotency key.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlrun {

struct Lease {
    std::string queue;
    std::string task_id;
    std::string token;          // adapter-specific claim handle
    std::int64_t expires_ms = 0;
};

struct QueueInfo {
    std::string name;
    std::size_t pending = 0;
    std::size_t claimed = 0;
};

class Queue {
public:
    virtual ~Queue() = default;
    virtual void create(const std::string& queue) = 0;
    virtual bool exists(const std::string& queue) = 0;
    virtual void push(const std::string& queue, const std::string& task_id, int priority = 0) = 0;
    // Claims from the first queue with work (queues in priority order); waits up to
    // block_ms. nullopt when nothing came.
    virtual std::optional<Lease> claim(const std::vector<std::string>& queues, int block_ms) = 0;
    virtual void heartbeat(Lease& lease) = 0;
    virtual void ack(const Lease& lease) = 0;
    // Gives the task back to its queue (requeue).
    virtual void fail(const Lease& lease) = 0;
    // Returns expired leases to their queues; the number returned.
    virtual int requeue_expired() = 0;
    virtual std::vector<QueueInfo> list() = 0;
    // Removes a pending task from a queue (dequeue of a queued task); false if absent.
    virtual bool remove(const std::string& queue, const std::string& task_id) = 0;
};

} // namespace mlrun
