#pragma once
// Local queue adapter: a directory per queue. Every message is one JSON file that moves
// between folders by rename, so it is always in exactly one place and never half-written:
//   queues/<q>/pending/<999-priority>-<seq>-<task id>   waiting (lowest name claimed first)
//   queues/<q>/claimed/<task id>                         delivered; holds the lease
//   queues/<q>/dead/<task id>                            failed max_attempts deliveries
//   queues/<q>/counter                                   last sequence number / epoch
//   queues/<q>/.lock                                     flock held by every change
//   queues/.events/<seq>                                 completion events (acked, dead,
//                                                        removed), numbered under .events/.lock
// A message file holds {task_id, priority, attempts, errors, epoch} and, once claimed, its
// lease {expires_ms, epoch}. Changes to a queue happen under its flock, so a claim, a sweep
// and a heartbeat never interleave, across threads and processes alike; within the lock a
// claim is still one atomic rename out of pending/.
#include "ports/queue.hpp"

#include <filesystem>
#include <functional>

namespace mlrun {

class LocalQueue final : public Queue {
public:
    // `root` is the store's queues/ folder. Leases last `lease_ms`; a message is dead-lettered
    // after `max_attempts` failed deliveries (at least 1).
    explicit LocalQueue(std::filesystem::path root, std::int64_t lease_ms = 60'000, int max_attempts = 3);

    void create(const std::string& queue) override;
    bool exists(const std::string& queue) override;
    void push(const std::string& queue, const std::string& task_id, int priority = 0) override;
    std::optional<Lease> claim(const std::vector<std::string>& queues, int block_ms) override;
    bool heartbeat(Lease& lease) override;
    void ack(const Lease& lease) override;
    FailOutcome fail(const Lease& lease, const std::string& error) override;
    int requeue_expired() override;
    std::vector<QueueInfo> list() override;
    bool remove(const std::string& queue, const std::string& task_id) override;
    MessageState state(const std::string& queue, const std::string& task_id) override;
    std::vector<DeadLetter> dead_letters(const std::string& queue) override;
    bool requeue_dead(const std::string& queue, const std::string& task_id) override;
    int max_attempts() const override { return m_max_attempts; }
    // Blocks on inotify of queues/.events/ (no polling); throws when it cannot watch it.
    std::unique_ptr<DoneEvents> events() override;

private:
    std::filesystem::path dir(const std::string& queue) const { return m_root / queue; }
    // Runs `fn` holding the queue's flock (blocks until it is free).
    void locked(const std::string& queue, const std::function<void()>& fn);
    // Throws UsageError naming `queue` when it was never created.
    void check_exists(const std::string& queue);

    std::filesystem::path m_root;
    std::int64_t m_lease_ms;
    int m_max_attempts;
};

} // namespace mlrun
