#pragma once
// Queue port (DESIGN §6). Delivery is at least once; the task id is the idempotency key.
// Adapters: the local queue (queue/local_queue.hpp, a folder per queue), Redis streams
// (the remote-execution issue). Every adapter passes tests/core/queue_suite.hpp.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlrun {

// One failed delivery of a message, kept with it (and in the dead letter).
struct AttemptError {
    int attempt = 0;   // 1-based delivery number
    std::string error; // what the agent said (or "lease expired")
    std::int64_t at_ms = 0;
};

// A claimed message. `epoch` grows with every delivery of the same message: a writer
// holding an older epoch has lost its lease (fencing).
struct Lease {
    std::string queue;
    std::string task_id;
    std::string token; // adapter-specific claim handle
    std::int64_t expires_ms = 0;
    int attempt = 1;        // this delivery's number, 1 for the first
    std::int64_t epoch = 0; // unique per delivery of this message, increasing
    int priority = 0;
    std::vector<AttemptError> errors; // earlier failed deliveries
};

// A message that failed max_attempts deliveries.
struct DeadLetter {
    std::string queue;
    std::string task_id;
    int priority = 0;
    std::vector<AttemptError> errors; // every attempt's error, oldest first
    std::int64_t dead_ms = 0;
};

struct QueueInfo {
    std::string name;
    std::size_t pending = 0;
    std::size_t claimed = 0;
    std::size_t dead = 0;
};

// What fail() did with the message.
enum class FailOutcome { requeued, dead_lettered, lease_lost };

class Queue {
public:
    virtual ~Queue() = default;
    virtual void create(const std::string& queue) = 0;
    virtual bool exists(const std::string& queue) = 0;
    // Throws UsageError when the queue does not exist. A higher priority is claimed first.
    virtual void push(const std::string& queue, const std::string& task_id, int priority = 0) = 0;
    // Claims from the first queue with work (queues in priority order); waits up to
    // block_ms. nullopt when nothing came.
    virtual std::optional<Lease> claim(const std::vector<std::string>& queues, int block_ms) = 0;
    // Extends the lease; false when it was lost (expired and reclaimed, or acked). A lease
    // past its expiry that no sweep has taken back yet is still held and is extended.
    virtual bool heartbeat(Lease& lease) = 0;
    // The message is done (whatever the task's status): it leaves the queue.
    virtual void ack(const Lease& lease) = 0;
    // A failed delivery: requeued with `error` kept, or dead-lettered once it has failed
    // max_attempts() times.
    virtual FailOutcome fail(const Lease& lease, const std::string& error) = 0;
    // Expired leases count as a failed delivery ("lease expired"); the number handled.
    virtual int requeue_expired() = 0;
    virtual std::vector<QueueInfo> list() = 0;
    // Removes a pending task from a queue (dequeue of a queued task); false if absent.
    virtual bool remove(const std::string& queue, const std::string& task_id) = 0;
    virtual std::vector<DeadLetter> dead_letters(const std::string& queue) = 0;
    // Moves a dead letter back to its queue with a fresh attempt count; false if absent.
    virtual bool requeue_dead(const std::string& queue, const std::string& task_id) = 0;
    // Deliveries before a message is dead-lettered (default 3).
    virtual int max_attempts() const = 0;
};

} // namespace mlrun
