#pragma once
// Local queue adapter: a directory per queue; a claim is an atomic rename from pending/
// to claimed/, so agents on one machine (or a shared filesystem) never take one task twice.
//   queues/<q>/pending/<priority>-<time>-<task id>
//   queues/<q>/claimed/<task id>   (content: lease expiry in ms)
#include "ports/queue.hpp"

#include <filesystem>

namespace mlrun {

class LocalQueue final : public Queue {
public:
    explicit LocalQueue(std::filesystem::path root, std::int64_t lease_ms = 60'000)
        : m_root(std::move(root)), m_lease_ms(lease_ms) {}

    void create(const std::string& queue) override;
    bool exists(const std::string& queue) override;
    void push(const std::string& queue, const std::string& task_id, int priority) override;
    std::optional<Lease> claim(const std::vector<std::string>& queues, int block_ms) override;
    bool heartbeat(Lease& lease) override;
    void ack(const Lease& lease) override;
    // Requeues for now (attempts and dead letters come with the queue rework).
    FailOutcome fail(const Lease& lease, const std::string& error) override;
    int requeue_expired() override;
    std::vector<QueueInfo> list() override;
    bool remove(const std::string& queue, const std::string& task_id) override;
    std::vector<DeadLetter> dead_letters(const std::string& queue) override;
    bool requeue_dead(const std::string& queue, const std::string& task_id) override;
    int max_attempts() const override { return 3; }

private:
    std::optional<Lease> try_claim(const std::string& queue);
    std::filesystem::path m_root;
    std::int64_t m_lease_ms;
};

} // namespace mlrun
