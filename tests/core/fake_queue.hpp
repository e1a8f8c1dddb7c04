#pragma once
// In-memory adapters of the Queue and AgentRegistry ports for tests of code that uses them
// (agents, controllers, enqueue). They keep the ports' contracts — FakeQueue passes
// queue_suite.hpp like the real adapters — so a test against a fake says something about
// the real thing. Several handles may share one state, as agents share one queue server;
// every handle is thread-safe.
#include "core/error.hpp"
#include "core/util.hpp"
#include "ports/agent_registry.hpp"
#include "ports/queue.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>

namespace mlrun::test {

// What every FakeQueue handle on one "server" shares.
struct FakeQueueState {
    struct Message {
        std::string task_id;
        int priority = 0;
        std::int64_t seq = 0; // push order
        int attempts = 0;     // deliveries so far
        std::vector<AttemptError> errors;
        std::int64_t epoch = 0; // of the latest delivery
        std::int64_t expires_ms = 0;
        std::int64_t dead_ms = 0;
    };
    struct Channel {
        std::vector<Message> pending;
        std::map<std::string, Message> claimed; // by task id
        std::map<std::string, Message> dead;    // by task id
    };
    std::mutex mutex;
    std::condition_variable pushed;
    std::map<std::string, Channel> queues;
    std::int64_t counter = 0;      // orders pushes and numbers deliveries
    std::vector<DoneEvent> events; // every completion event, oldest first
    std::condition_variable evented;

    // Adds a completion event; the caller holds the mutex.
    void publish(const std::string& queue, const std::string& task_id, const char* outcome)
    {
        events.push_back({queue, task_id, outcome, now_ms()});
        evented.notify_all();
    }
};

// Reads FakeQueueState::events from the count at opening.
class FakeDoneEvents final : public DoneEvents {
public:
    explicit FakeDoneEvents(std::shared_ptr<FakeQueueState> state) : m_state(std::move(state))
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        m_next = m_state->events.size();
    }
    std::vector<DoneEvent> wait(int block_ms) override
    {
        std::unique_lock<std::mutex> lock(m_state->mutex);
        m_state->evented.wait_for(lock, std::chrono::milliseconds(std::max(0, block_ms)),
                                  [&] { return m_state->events.size() > m_next; });
        std::vector<DoneEvent> out(m_state->events.begin() + static_cast<std::ptrdiff_t>(m_next),
                                   m_state->events.end());
        m_next = m_state->events.size();
        return out;
    }

private:
    std::shared_ptr<FakeQueueState> m_state;
    std::size_t m_next = 0;
};

class FakeQueue final : public Queue {
public:
    explicit FakeQueue(std::shared_ptr<FakeQueueState> state = std::make_shared<FakeQueueState>(), int max_attempts = 3,
                       std::int64_t lease_ms = 60'000)
        : m_state(std::move(state)), m_max_attempts(std::max(1, max_attempts)), m_lease_ms(lease_ms)
    {}

    void create(const std::string& queue) override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        m_state->queues[queue];
    }
    bool exists(const std::string& queue) override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        return m_state->queues.count(queue) != 0;
    }
    void push(const std::string& queue, const std::string& task_id, int priority = 0) override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        FakeQueueState::Message m;
        m.task_id = task_id;
        m.priority = priority;
        m.seq = ++m_state->counter;
        get(queue).pending.push_back(std::move(m));
        m_state->pushed.notify_all();
    }
    std::optional<Lease> claim(const std::vector<std::string>& queues, int block_ms) override
    {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(block_ms);
        std::unique_lock<std::mutex> lock(m_state->mutex);
        while (true) {
            for (const std::string& name : queues) {
                if (auto lease = try_claim(name)) {
                    return lease;
                }
            }
            if (m_state->pushed.wait_until(lock, deadline) == std::cv_status::timeout) {
                for (const std::string& name : queues) {
                    if (auto lease = try_claim(name)) {
                        return lease;
                    }
                }
                return std::nullopt;
            }
        }
    }
    bool heartbeat(Lease& lease) override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        FakeQueueState::Message* m = current(lease);
        if (!m) {
            return false;
        }
        m->expires_ms = now_ms() + m_lease_ms;
        lease.expires_ms = m->expires_ms;
        return true;
    }
    void ack(const Lease& lease) override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        if (current(lease)) {
            m_state->queues[lease.queue].claimed.erase(lease.task_id);
            m_state->publish(lease.queue, lease.task_id, "acked");
        }
    }
    FailOutcome fail(const Lease& lease, const std::string& error) override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        if (!current(lease)) {
            return FailOutcome::lease_lost;
        }
        return fail_locked(lease.queue, lease.task_id, error);
    }
    int requeue_expired() override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        int n = 0;
        const std::int64_t now = now_ms();
        for (auto& [name, q] : m_state->queues) {
            std::vector<std::string> expired;
            for (const auto& [id, m] : q.claimed) {
                if (m.expires_ms < now) {
                    expired.push_back(id);
                }
            }
            for (const std::string& id : expired) {
                fail_locked(name, id, "lease expired");
                ++n;
            }
        }
        return n;
    }
    std::vector<QueueInfo> list() override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        std::vector<QueueInfo> out;
        for (const auto& [name, q] : m_state->queues) {
            out.push_back({name, q.pending.size(), q.claimed.size(), q.dead.size()});
        }
        return out; // std::map: sorted by name
    }
    bool remove(const std::string& queue, const std::string& task_id) override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        auto q = m_state->queues.find(queue);
        if (q == m_state->queues.end()) {
            return false;
        }
        auto& pending = q->second.pending;
        auto it = std::find_if(pending.begin(), pending.end(), [&](const auto& m) { return m.task_id == task_id; });
        if (it == pending.end()) {
            return false;
        }
        pending.erase(it);
        m_state->publish(queue, task_id, "removed");
        return true;
    }
    MessageState state(const std::string& queue, const std::string& task_id) override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        auto q = m_state->queues.find(queue);
        if (q == m_state->queues.end()) {
            return MessageState::absent;
        }
        const auto& c = q->second;
        if (c.claimed.count(task_id)) {
            return MessageState::claimed;
        }
        if (c.dead.count(task_id)) {
            return MessageState::dead;
        }
        bool waiting = std::any_of(c.pending.begin(), c.pending.end(),
                                   [&](const auto& m) { return m.task_id == task_id; });
        return waiting ? MessageState::pending : MessageState::absent;
    }
    std::vector<DeadLetter> dead_letters(const std::string& queue) override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        std::vector<DeadLetter> out;
        for (const auto& [id, m] : get(queue).dead) {
            out.push_back({queue, id, m.priority, m.errors, m.dead_ms});
        }
        std::sort(out.begin(), out.end(), [](const DeadLetter& a, const DeadLetter& b) {
            return a.dead_ms != b.dead_ms ? a.dead_ms < b.dead_ms : a.task_id < b.task_id;
        });
        return out;
    }
    bool requeue_dead(const std::string& queue, const std::string& task_id) override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        auto& q = get(queue);
        auto it = q.dead.find(task_id);
        if (it == q.dead.end()) {
            return false;
        }
        FakeQueueState::Message m = std::move(it->second);
        q.dead.erase(it);
        m.attempts = 0;
        m.errors.clear();
        m.dead_ms = 0;
        m.seq = ++m_state->counter;
        q.pending.push_back(std::move(m));
        m_state->pushed.notify_all();
        return true;
    }
    int max_attempts() const override { return m_max_attempts; }
    std::unique_ptr<DoneEvents> events() override { return std::make_unique<FakeDoneEvents>(m_state); }

private:
    // The queue, or UsageError like the real adapters; the caller holds the mutex.
    FakeQueueState::Channel& get(const std::string& queue)
    {
        auto it = m_state->queues.find(queue);
        if (it == m_state->queues.end()) {
            throw UsageError("unknown queue \"" + queue + "\"");
        }
        return it->second;
    }
    std::optional<Lease> try_claim(const std::string& name)
    {
        auto& q = get(name);
        // Highest priority, then first pushed; a task whose earlier push is still claimed waits.
        auto best = q.pending.end();
        for (auto it = q.pending.begin(); it != q.pending.end(); ++it) {
            if (q.claimed.count(it->task_id) != 0) {
                continue;
            }
            if (best == q.pending.end() || it->priority > best->priority
                || (it->priority == best->priority && it->seq < best->seq)) {
                best = it;
            }
        }
        if (best == q.pending.end()) {
            return std::nullopt;
        }
        FakeQueueState::Message m = std::move(*best);
        q.pending.erase(best);
        m.attempts += 1;
        m.epoch = ++m_state->counter;
        m.expires_ms = now_ms() + m_lease_ms;
        Lease lease{name, m.task_id, std::to_string(m.epoch), m.expires_ms, m.attempts, m.epoch, m.priority, m.errors};
        q.claimed[m.task_id] = std::move(m);
        return lease;
    }
    FakeQueueState::Message* current(const Lease& lease)
    {
        auto q = m_state->queues.find(lease.queue);
        if (q == m_state->queues.end()) {
            return nullptr;
        }
        auto it = q->second.claimed.find(lease.task_id);
        return it == q->second.claimed.end() || it->second.epoch != lease.epoch ? nullptr : &it->second;
    }
    FailOutcome fail_locked(const std::string& queue, const std::string& task_id, const std::string& error)
    {
        auto& q = m_state->queues[queue];
        FakeQueueState::Message m = std::move(q.claimed[task_id]);
        q.claimed.erase(task_id);
        const std::int64_t now = now_ms();
        m.errors.push_back({m.attempts, error, now});
        if (m.attempts >= m_max_attempts) {
            m.dead_ms = now;
            q.dead[task_id] = std::move(m);
            m_state->publish(queue, task_id, "dead");
            return FailOutcome::dead_lettered;
        }
        m.seq = ++m_state->counter;
        q.pending.push_back(std::move(m));
        m_state->pushed.notify_all();
        return FailOutcome::requeued;
    }

    std::shared_ptr<FakeQueueState> m_state;
    int m_max_attempts;
    std::int64_t m_lease_ms;
};

// What every FakeAgentRegistry handle on one "server" shares.
struct FakeAgentState {
    std::mutex mutex;
    std::map<std::string, AgentInfo> agents;
};

class FakeAgentRegistry final : public AgentRegistry {
public:
    explicit FakeAgentRegistry(std::shared_ptr<FakeAgentState> state = std::make_shared<FakeAgentState>())
        : m_state(std::move(state))
    {}

    void beat(const AgentInfo& agent) override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        AgentInfo a = agent;
        a.heartbeat_ms = now_ms();
        auto old = m_state->agents.find(a.name);
        if (old != m_state->agents.end() && old->second.stopping && old->second.started_ms == a.started_ms
            && is_live(old->second, a.heartbeat_ms)) {
            a.stopping = true;
        }
        m_state->agents[a.name] = std::move(a);
    }
    void remove(const std::string& name) override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        m_state->agents.erase(name);
    }
    std::vector<AgentInfo> live() override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        std::vector<AgentInfo> out;
        const std::int64_t now = now_ms();
        for (const auto& [name, a] : m_state->agents) {
            if (is_live(a, now)) {
                out.push_back(a);
            }
        }
        return out;
    }
    bool request_stop(const std::string& name) override
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        auto it = m_state->agents.find(name);
        if (it == m_state->agents.end() || !is_live(it->second, now_ms())) {
            return false;
        }
        it->second.stopping = true;
        return true;
    }

private:
    static bool is_live(const AgentInfo& a, std::int64_t now) { return now - a.heartbeat_ms <= a.ttl_ms; }
    std::shared_ptr<FakeAgentState> m_state;
};

} // namespace mlrun::test
