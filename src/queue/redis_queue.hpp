#pragma once
// Redis adapter of the Queue port (DESIGN §6), for agents on several machines. Keys, under
// a prefix ("mlrun:"; names never hold "/", so no two keys can collide):
//   queues                 SET of the created queue names
//   epoch                  counter: every delivery of every message takes the next value
//   q/<q>/p<prio>          STREAM per priority, consumer group "mlrun"; an entry = a message
//                          waiting (undelivered) or claimed (in the group's pending list)
//   q/<q>/prios            ZSET of the priorities that have a stream (claimed highest first)
//   q/<q>/m/<task>         HASH: state (pending|claimed|dead), priority, attempts, errors
//                          (JSON), entry (stream id), epoch, lease (ms) of the delivery
//   q/<q>/dead             STREAM of dead letters {task, priority, errors, dead_ms}
//   q/<q>/bell             STREAM, capped: one entry per push, what blocked claims wait on
//   events                 STREAM, capped (~10000): completion events {queue, task, outcome,
//                          at_ms}, added by the ack / dead-letter / remove scripts themselves
// Every change is one Lua script, so claim + epoch, ack + delete and fail → requeue/dead
// are atomic, whichever agents race. A lease is idle-timed by Redis (the group's pending
// list); heartbeat resets it with XCLAIM. Standalone Redis ≥ 6.2 (not a cluster).
#include "ports/queue.hpp"
#include "queue/redis_connection.hpp"

#include <memory>
#include <mutex>

namespace mlrun {

struct RedisQueueOptions {
    std::int64_t lease_ms = 60'000; // of this handle's claims
    int max_attempts = 3;           // at least 1
    std::string prefix = "mlrun:";  // of every key (tests use one per run)
    RedisOptions connection;
};

// Thread-safe: commands share one connection; each blocked claim waits on a connection of
// its own, so a heartbeat never waits behind a claim.
class RedisQueue final : public Queue {
public:
    // Connects (UsageError when the broker cannot be used; the password never shown).
    explicit RedisQueue(const RedisUri& uri, RedisQueueOptions options = {});
    ~RedisQueue() override;

    void create(const std::string& queue) override;
    bool exists(const std::string& queue) override;
    // A task already pending or claimed in `queue` is not queued twice (so a push repeated
    // after a lost connection is harmless); a dead-lettered one is queued afresh.
    void push(const std::string& queue, const std::string& task_id, int priority = 0) override;
    // No polling: with nothing to claim it blocks on the queues' bell streams (XREAD BLOCK,
    // from the ids read atomically with the scan, so no push is missed) and scans again.
    std::optional<Lease> claim(const std::vector<std::string>& queues, int block_ms) override;
    bool heartbeat(Lease& lease) override;
    void ack(const Lease& lease) override;
    FailOutcome fail(const Lease& lease, const std::string& error) override;
    // A delivery whose pending-list idle time reached its own lease length counts as failed
    // ("lease expired"): requeued or dead-lettered, as fail() would.
    int requeue_expired() override;
    std::vector<QueueInfo> list() override;
    bool remove(const std::string& queue, const std::string& task_id) override;
    MessageState state(const std::string& queue, const std::string& task_id) override;
    std::vector<DeadLetter> dead_letters(const std::string& queue) override;
    bool requeue_dead(const std::string& queue, const std::string& task_id) override;
    int max_attempts() const override { return m_options.max_attempts; }
    // A reader on a connection of its own: XREAD BLOCK on the events stream from its last
    // entry at opening; it reconnects like every connection (and reads on from its cursor).
    std::unique_ptr<DoneEvents> events() override;

    // This handle's consumer name in the groups (host, pid, handle number).
    const std::string& consumer() const { return m_consumer; }

private:
    // Runs a script on the command connection (under m_mutex).
    RedisValue run(const RedisScript& script, std::vector<std::string> args);
    // UsageError naming `queue` and the known queues.
    [[noreturn]] void unknown_queue(const std::string& queue);
    std::unique_ptr<RedisConnection> take_blocking();
    void give_back(std::unique_ptr<RedisConnection> conn);

    RedisUri m_uri;
    RedisQueueOptions m_options;
    std::string m_consumer;
    std::mutex m_mutex;
    std::unique_ptr<RedisConnection> m_conn;
    std::mutex m_pool_mutex;
    std::vector<std::unique_ptr<RedisConnection>> m_idle; // for blocked claims
};

} // namespace mlrun
