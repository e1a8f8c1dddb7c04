#pragma once
// Queue port (DESIGN §6). Delivery is at least once; the task id is the idempotency key.
// Adapters: the local queue (queue/local_queue.hpp, a folder per queue), Redis streams
// (the remote-execution issue). Every adapter passes tests/core/queue_suite.hpp.
#include <cstdint>
#include <memory>
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

// Where a task's message is in a queue (Queue::state).
enum class MessageState { absent, pending, claimed, dead };

// What fail() did with the message.
enum class FailOutcome { requeued, dead_lettered, lease_lost };

// A message that left its queue for good (a completion event): acked by the agent that ran
// it (the task ended, or was already ended), dead-lettered after max_attempts, or removed
// while pending (dequeue, abort). The task's own record says how it ended.
struct DoneEvent {
    std::string queue;
    std::string task_id;
    std::string outcome; // "acked" | "dead" | "removed"
    std::int64_t at_ms = 0;
};

// A reader of the completion events of one queue backend (all its queues), from the moment
// it was opened on. Every adapter publishes them in the same step as the ack, dead letter or
// removal (a Lua script on Redis, under the queue's lock locally), so an event is never
// published for a change that did not happen. A reader has its own connection: it may block
// in wait() on one thread while the Queue handle is used on others.
class DoneEvents {
public:
    virtual ~DoneEvents() = default;
    // The events published since the last call (since opening for the first), oldest first,
    // each once. Blocks on the backend (not polling) up to block_ms for the first; empty when
    // none came. Events lost by the backend (a server that lost its data) are not seen: the
    // caller keeps a slow check of its own.
    virtual std::vector<DoneEvent> wait(int block_ms) = 0;
};

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
    // The message is done (whatever the task's status): it leaves the queue, and an "acked"
    // completion event is published. Nothing happens for a lost lease.
    virtual void ack(const Lease& lease) = 0;
    // A failed delivery: requeued with `error` kept, or dead-lettered (a "dead" completion
    // event) once it has failed max_attempts() times.
    virtual FailOutcome fail(const Lease& lease, const std::string& error) = 0;
    // Expired leases count as a failed delivery ("lease expired"), dead-lettered like fail();
    // the number handled.
    virtual int requeue_expired() = 0;
    virtual std::vector<QueueInfo> list() = 0;
    // Removes a pending task from a queue (dequeue of a queued task; a "removed" completion
    // event); false if absent.
    virtual bool remove(const std::string& queue, const std::string& task_id) = 0;
    // Where the task's message is: waiting, claimed by an agent, dead-lettered, or absent
    // (never pushed, acked, removed; or the queue does not exist).
    virtual MessageState state(const std::string& queue, const std::string& task_id) = 0;
    virtual std::vector<DeadLetter> dead_letters(const std::string& queue) = 0;
    // Moves a dead letter back to its queue with a fresh attempt count; false if absent.
    virtual bool requeue_dead(const std::string& queue, const std::string& task_id) = 0;
    // Deliveries before a message is dead-lettered (default 3).
    virtual int max_attempts() const = 0;
    // Opens a reader of the completion events published from now on (see DoneEvents).
    virtual std::unique_ptr<DoneEvents> events() = 0;
};

} // namespace mlrun
