#pragma once
// The behavioural suites of the Queue and AgentRegistry ports (DESIGN §6): written once,
// run against every adapter (local folders, the in-memory fake, Redis later):
//   MLRUN_QUEUE_SUITE("queue suite: local", make_factory)
//   MLRUN_AGENT_REGISTRY_SUITE("agent registry suite: local", make_factory)
// define one TEST_CASE per behaviour (a failure in one never hides the others), each
// calling `make_factory()` once for a fresh, empty backing store that the returned
// factory owns (capture the temp folder or server state in it).
//
// Factory contract: every call of one factory opens another handle on the SAME backing
// store (as two agents share one queue server), with its own max_attempts and lease
// length. Handles are used from one thread each. Only the port is used here.
#include "core/error.hpp"
#include "core/util.hpp"
#include "ports/agent_registry.hpp"
#include "ports/queue.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace mlrun::test {

using QueueFactory = std::function<std::unique_ptr<Queue>(int max_attempts, std::int64_t lease_ms)>;
using AgentRegistryFactory = std::function<std::unique_ptr<AgentRegistry>()>;

namespace suite_detail {

inline void sleep_ms(int ms)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

inline std::int64_t elapsed_ms(std::chrono::steady_clock::time_point since)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since).count();
}

// Claims everything claimable now from `queues`, acking each; the task ids in order.
inline std::vector<std::string> drain(Queue& q, const std::vector<std::string>& queues)
{
    std::vector<std::string> ids;
    while (auto lease = q.claim(queues, 0)) {
        ids.push_back(lease->task_id);
        q.ack(*lease);
    }
    return ids;
}

inline QueueInfo info_of(Queue& q, const std::string& name)
{
    for (const QueueInfo& info : q.list()) {
        if (info.name == name) {
            return info;
        }
    }
    FAIL("queue " << name << " missing from list()");
    return {};
}

} // namespace suite_detail

// Leases are 50–300 ms so that every case ends in well under a second; checks that depend
// on timing leave wide margins (a loaded CI machine stalls threads for tens of ms).
namespace queue_cases {

using namespace suite_detail;

constexpr std::int64_t k_long = 60'000; // a lease that never expires within a test

// First in, first out within one priority
inline void fifo(const QueueFactory& open)
{
    auto q = open(3, k_long);
    q->create("cpu");
    std::vector<std::string> pushed;
    for (int i = 0; i < 12; ++i) {
        pushed.push_back("t" + std::to_string((i * 7) % 12)); // not in name order
        q->push("cpu", pushed.back(), 0);
    }
    std::vector<std::string> got;
    while (auto lease = q->claim({"cpu"}, 0)) {
        CHECK(lease->queue == "cpu");
        CHECK(lease->attempt == 1);
        CHECK(lease->errors.empty());
        got.push_back(lease->task_id);
    }
    CHECK(got == pushed);
}

// A higher priority is claimed first, then first in first out
inline void priority(const QueueFactory& open)
{
    auto q = open(3, k_long);
    q->create("cpu");
    q->push("cpu", "low", 1);
    q->push("cpu", "high", 9);
    q->push("cpu", "mid_a", 5);
    q->push("cpu", "mid_b", 5);
    q->push("cpu", "zero", 0);
    auto first = q->claim({"cpu"}, 0);
    REQUIRE(first);
    CHECK(first->priority == 9);
    q->ack(*first);
    CHECK(drain(*q, {"cpu"}) == std::vector<std::string>{"mid_a", "mid_b", "low", "zero"});
}

// claim(queues) takes the queues in the order given, before message priority
inline void queue_order(const QueueFactory& open)
{
    auto q = open(3, k_long);
    q->create("cpu");
    q->create("gpu");
    q->push("cpu", "c1", 9);
    q->push("gpu", "g1", 0);
    q->push("cpu", "c2", 0);
    auto a = q->claim({"gpu", "cpu"}, 0);
    REQUIRE(a);
    CHECK(a->task_id == "g1");
    CHECK(a->queue == "gpu");
    auto b = q->claim({"gpu", "cpu"}, 0);
    REQUIRE(b);
    CHECK(b->task_id == "c1");
    CHECK(b->queue == "cpu");
    q->push("gpu", "g2", 0);
    auto c = q->claim({"cpu", "gpu"}, 0);
    REQUIRE(c);
    CHECK(c->task_id == "c2");
}

// A blocking claim waits its timeout when empty and wakes when work arrives
inline void blocking_claim(const QueueFactory& open)
{
    auto q = open(3, k_long);
    q->create("cpu");
    auto t0 = std::chrono::steady_clock::now();
    CHECK_FALSE(q->claim({"cpu"}, 150).has_value());
    std::int64_t waited = elapsed_ms(t0);
    CHECK(waited >= 140);
    CHECK(waited < 3'000);

    auto producer_handle = open(3, k_long);
    std::thread producer([&] {
        sleep_ms(100);
        producer_handle->push("cpu", "late", 0);
    });
    t0 = std::chrono::steady_clock::now();
    auto lease = q->claim({"cpu"}, 20'000);
    waited = elapsed_ms(t0);
    producer.join();
    REQUIRE(lease);
    CHECK(lease->task_id == "late");
    CHECK(waited < 10'000); // long before its 20 s timeout
}

// A heartbeat extends the lease past its first expiry
inline void heartbeat_extends(const QueueFactory& open)
{
    auto q = open(3, 200);
    q->create("cpu");
    q->push("cpu", "t", 0);
    auto lease = q->claim({"cpu"}, 0);
    REQUIRE(lease);
    const std::int64_t first_expiry = lease->expires_ms;
    CHECK(first_expiry > now_ms());
    while (now_ms() < first_expiry + 150) {
        sleep_ms(50);
        CHECK(q->heartbeat(*lease));
        CHECK(q->requeue_expired() == 0); // checked right after the renewal
    }
    CHECK(lease->expires_ms > first_expiry);
    CHECK_FALSE(q->claim({"cpu"}, 0).has_value());
    CHECK(info_of(*q, "cpu").claimed == 1);
}

// An expired lease goes back with its attempt counted and "lease expired" kept
inline void expired_lease(const QueueFactory& open)
{
    auto short_lease = open(3, 50);
    auto long_lease = open(3, k_long);
    short_lease->create("cpu");
    short_lease->push("cpu", "t1", 0);
    short_lease->push("cpu", "t2", 0);
    auto l1 = short_lease->claim({"cpu"}, 0);
    auto l2 = long_lease->claim({"cpu"}, 0);
    REQUIRE(l1);
    REQUIRE(l2);
    CHECK(l1->task_id == "t1");
    CHECK(l2->task_id == "t2");
    sleep_ms(150);
    CHECK(long_lease->requeue_expired() == 1); // only the short lease, whoever sweeps
    CHECK(long_lease->heartbeat(*l2));
    auto again = long_lease->claim({"cpu"}, 0);
    REQUIRE(again);
    CHECK(again->task_id == "t1");
    CHECK(again->attempt == 2);
    REQUIRE(again->errors.size() == 1);
    CHECK(again->errors[0].attempt == 1);
    CHECK(again->errors[0].error == "lease expired");
    CHECK(again->errors[0].at_ms > 0);
    CHECK(again->epoch > l1->epoch);
    CHECK_FALSE(long_lease->claim({"cpu"}, 0).has_value());
}

// Fail requeues at once with the error kept and the priority unchanged
inline void fail_requeues(const QueueFactory& open)
{
    auto q = open(3, k_long);
    q->create("cpu");
    q->push("cpu", "important", 5);
    q->push("cpu", "other", 1);
    auto l1 = q->claim({"cpu"}, 0);
    REQUIRE(l1);
    CHECK(l1->task_id == "important");
    CHECK(q->fail(*l1, "CUDA out of memory") == FailOutcome::requeued);
    CHECK(info_of(*q, "cpu").claimed == 0);
    auto l2 = q->claim({"cpu"}, 0);
    REQUIRE(l2);
    CHECK(l2->task_id == "important");
    CHECK(l2->priority == 5);
    CHECK(l2->attempt == 2);
    REQUIRE(l2->errors.size() == 1);
    CHECK(l2->errors[0].attempt == 1);
    CHECK(l2->errors[0].error == "CUDA out of memory");
    CHECK(l2->epoch > l1->epoch);
}

// max_attempts failures dead-letter a message with every attempt's error
inline void dead_letter(const QueueFactory& open)
{
    auto q = open(3, k_long);
    CHECK(q->max_attempts() == 3);
    q->create("cpu");
    q->push("cpu", "flaky", 4);
    for (int attempt = 1; attempt <= 3; ++attempt) {
        auto lease = q->claim({"cpu"}, 0);
        REQUIRE(lease);
        CHECK(lease->attempt == attempt);
        CHECK(lease->errors.size() == static_cast<std::size_t>(attempt - 1));
        CHECK(q->fail(*lease, "error " + std::to_string(attempt))
              == (attempt < 3 ? FailOutcome::requeued : FailOutcome::dead_lettered));
    }
    CHECK_FALSE(q->claim({"cpu"}, 0).has_value());
    auto dead = q->dead_letters("cpu");
    REQUIRE(dead.size() == 1);
    CHECK(dead[0].queue == "cpu");
    CHECK(dead[0].task_id == "flaky");
    CHECK(dead[0].priority == 4);
    CHECK(dead[0].dead_ms > 0);
    REQUIRE(dead[0].errors.size() == 3);
    for (int i = 0; i < 3; ++i) {
        CHECK(dead[0].errors[i].attempt == i + 1);
        CHECK(dead[0].errors[i].error == "error " + std::to_string(i + 1));
    }
    QueueInfo info = info_of(*q, "cpu");
    CHECK(info.pending == 0);
    CHECK(info.claimed == 0);
    CHECK(info.dead == 1);
}

// Expired leases count toward max_attempts
inline void expiry_counts(const QueueFactory& open)
{
    auto q = open(2, 50);
    q->create("cpu");
    q->push("cpu", "stuck", 0);
    for (int attempt = 1; attempt <= 2; ++attempt) {
        auto lease = q->claim({"cpu"}, 0);
        REQUIRE(lease);
        CHECK(lease->attempt == attempt);
        sleep_ms(120);
        CHECK(q->requeue_expired() == 1);
    }
    CHECK_FALSE(q->claim({"cpu"}, 0).has_value());
    auto dead = q->dead_letters("cpu");
    REQUIRE(dead.size() == 1);
    REQUIRE(dead[0].errors.size() == 2);
    CHECK(dead[0].errors[0].error == "lease expired");
    CHECK(dead[0].errors[1].error == "lease expired");
}

// requeue_dead brings a dead letter back with fresh attempts
inline void requeue_dead(const QueueFactory& open)
{
    auto q = open(1, k_long);
    q->create("cpu");
    q->push("cpu", "t", 3);
    auto lease = q->claim({"cpu"}, 0);
    REQUIRE(lease);
    CHECK(q->fail(*lease, "boom") == FailOutcome::dead_lettered);
    CHECK_FALSE(q->requeue_dead("cpu", "nobody"));
    CHECK(q->requeue_dead("cpu", "t"));
    CHECK(q->dead_letters("cpu").empty());
    CHECK_FALSE(q->requeue_dead("cpu", "t"));
    CHECK(info_of(*q, "cpu").pending == 1);
    auto back = q->claim({"cpu"}, 0);
    REQUIRE(back);
    CHECK(back->task_id == "t");
    CHECK(back->attempt == 1);
    CHECK(back->errors.empty());
    CHECK(back->priority == 3);
    CHECK(back->epoch > lease->epoch);
}

// Remove takes a pending task off its queue, never a claimed one
inline void remove(const QueueFactory& open)
{
    auto q = open(3, k_long);
    q->create("cpu");
    q->push("cpu", "a", 0);
    q->push("cpu", "b", 0);
    q->push("cpu", "c", 0);
    CHECK(q->remove("cpu", "a"));
    CHECK_FALSE(q->remove("cpu", "a"));
    CHECK_FALSE(q->remove("cpu", "nobody"));
    auto lease = q->claim({"cpu"}, 0);
    REQUIRE(lease);
    CHECK(lease->task_id == "b");
    CHECK_FALSE(q->remove("cpu", "b"));
    CHECK(q->heartbeat(*lease));
    // state(): where each message is (what a resumed controller looks at).
    CHECK(q->state("cpu", "a") == MessageState::absent);
    CHECK(q->state("cpu", "b") == MessageState::claimed);
    CHECK(q->state("cpu", "c") == MessageState::pending);
    CHECK(q->state("cpu", "nobody") == MessageState::absent);
    CHECK(q->state("nowhere", "c") == MessageState::absent);
    CHECK(drain(*q, {"cpu"}) == std::vector<std::string>{"c"});
    CHECK(q->state("cpu", "c") == MessageState::absent); // acked
    auto once = open(1, k_long);
    q->push("cpu", "d", 0);
    auto d = once->claim({"cpu"}, 0);
    REQUIRE(d);
    CHECK(once->fail(*d, "crashed") == FailOutcome::dead_lettered);
    CHECK(q->state("cpu", "d") == MessageState::dead);
}

// List counts pending, claimed and dead messages per queue, by name
inline void list_counts(const QueueFactory& open)
{
    auto q = open(1, k_long);
    q->create("gpu");
    q->create("cpu");
    for (const char* id : {"a", "b", "c"}) {
        q->push("cpu", id, 0);
    }
    auto dead = q->claim({"cpu"}, 0);
    REQUIRE(dead);
    CHECK(q->fail(*dead, "boom") == FailOutcome::dead_lettered);
    auto held = q->claim({"cpu"}, 0);
    REQUIRE(held);
    auto all = q->list();
    REQUIRE(all.size() == 2);
    CHECK(all[0].name == "cpu");
    CHECK(all[0].pending == 1);
    CHECK(all[0].claimed == 1);
    CHECK(all[0].dead == 1);
    CHECK(all[1].name == "gpu");
    CHECK(all[1].pending + all[1].claimed + all[1].dead == 0);
    CHECK(q->exists("cpu"));
    CHECK_FALSE(q->exists("tpu"));
}

// Epochs strictly increase across every delivery of a message, whoever claims
inline void epochs(const QueueFactory& open)
{
    // Failures, dead letters and requeue_dead in turn, on two handles: the epoch never
    // goes back, not even when the attempt count starts again.
    auto a = open(2, k_long);
    auto b = open(2, k_long);
    a->create("cpu");
    a->push("cpu", "t", 0);
    std::vector<std::int64_t> epochs;
    for (int round = 0; round < 3; ++round) {
        for (Queue* q : {a.get(), b.get()}) {
            auto lease = q->claim({"cpu"}, 0);
            REQUIRE(lease);
            epochs.push_back(lease->epoch);
            if (q->fail(*lease, "again") == FailOutcome::dead_lettered) {
                CHECK(q->requeue_dead("cpu", "t"));
            }
        }
    }
    REQUIRE(epochs.size() == 6);
    for (std::size_t i = 1; i < epochs.size(); ++i) {
        CHECK(epochs[i] > epochs[i - 1]);
    }
}

// A lease taken back by a sweep or finished by ack can no longer be renewed or failed
inline void lost_lease_refused(const QueueFactory& open)
{
    auto q = open(3, 50);
    q->create("cpu");
    q->push("cpu", "t", 0);
    auto lost = q->claim({"cpu"}, 0);
    REQUIRE(lost);
    sleep_ms(120);
    CHECK(q->requeue_expired() == 1);
    CHECK_FALSE(q->heartbeat(*lost));
    CHECK(q->fail(*lost, "late") == FailOutcome::lease_lost);

    auto done = q->claim({"cpu"}, 0);
    REQUIRE(done);
    q->ack(*done);
    CHECK_FALSE(q->heartbeat(*done));
    CHECK(q->fail(*done, "late") == FailOutcome::lease_lost);
    QueueInfo info = info_of(*q, "cpu");
    CHECK(info.pending + info.claimed + info.dead == 0);
}

// Ack and fail of a lost lease leave the new delivery alone
inline void lost_ack_harmless(const QueueFactory& open)
{
    auto q = open(3, 50);
    q->create("cpu");
    q->push("cpu", "t", 0);
    auto old = q->claim({"cpu"}, 0);
    REQUIRE(old);
    sleep_ms(120);
    CHECK(q->requeue_expired() == 1);
    auto other = open(3, k_long);
    auto fresh = other->claim({"cpu"}, 0);
    REQUIRE(fresh);
    CHECK(fresh->task_id == "t");
    q->ack(*old);
    CHECK(q->fail(*old, "zombie") == FailOutcome::lease_lost);
    CHECK(info_of(*q, "cpu").claimed == 1);
    CHECK(other->heartbeat(*fresh));
    other->ack(*fresh);
    CHECK(info_of(*q, "cpu").claimed == 0);
    CHECK(info_of(*q, "cpu").pending == 0);
}

// An unknown queue is a usage error
inline void unknown_queue(const QueueFactory& open)
{
    auto q = open(3, k_long);
    q->create("cpu");
    CHECK_THROWS_AS(q->push("nope", "t", 0), UsageError);
    CHECK_THROWS_AS(q->claim({"nope"}, 0), UsageError);
    CHECK_THROWS_AS(q->claim({"cpu", "nope"}, 0), UsageError);
    CHECK_FALSE(q->exists("nope"));
    CHECK(q->list().size() == 1);
}

// Handles claiming on many threads never share a delivery
inline void concurrent_claims(const QueueFactory& open)
{
    constexpr int k_tasks = 200;
    constexpr int k_threads = 8;
    auto producer = open(3, k_long);
    producer->create("cpu");
    for (int i = 0; i < k_tasks; ++i) {
        producer->push("cpu", "task" + std::to_string(i), i % 7);
    }
    std::mutex mutex;
    std::vector<std::string> ids;
    std::vector<std::int64_t> epochs;
    std::vector<std::unique_ptr<Queue>> handles;
    for (int t = 0; t < k_threads; ++t) {
        handles.push_back(open(3, k_long));
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
        threads.emplace_back([&, t] {
            while (auto lease = handles[t]->claim({"cpu"}, 0)) {
                std::lock_guard<std::mutex> lock(mutex);
                ids.push_back(lease->task_id);
                epochs.push_back(lease->epoch);
            }
        });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }
    CHECK(ids.size() == static_cast<std::size_t>(k_tasks));
    CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == static_cast<std::size_t>(k_tasks));
    CHECK(std::set<std::int64_t>(epochs.begin(), epochs.end()).size() == static_cast<std::size_t>(k_tasks));
    QueueInfo info = info_of(*producer, "cpu");
    CHECK(info.pending == 0);
    CHECK(info.claimed == static_cast<std::size_t>(k_tasks));
}

// Completion events: ack, dead letter (by fail and by a sweep) and remove publish one each,
// in order, seen once by a reader opened before them; requeues and lost acks publish none.
inline void done_events(const QueueFactory& open)
{
    auto q = open(1, 50);
    auto retry = open(3, k_long);
    q->create("cpu");
    q->push("cpu", "before", 0);
    auto early = q->claim({"cpu"}, 0);
    REQUIRE(early);
    q->ack(*early); // published before the reader opened: not seen
    std::unique_ptr<DoneEvents> events = q->events();
    for (const char* id : {"a", "b", "c", "d"}) {
        q->push("cpu", id, 0);
    }
    auto a = q->claim({"cpu"}, 0);
    REQUIRE(a);
    CHECK(a->task_id == "a");
    q->ack(*a);
    q->ack(*a); // a lost lease: nothing more
    auto b = q->claim({"cpu"}, 0);
    REQUIRE(b);
    CHECK(q->fail(*b, "boom") == FailOutcome::dead_lettered);
    CHECK(q->remove("cpu", "d"));
    CHECK_FALSE(q->remove("cpu", "d"));
    auto c = retry->claim({"cpu"}, 0);
    REQUIRE(c);
    CHECK(retry->fail(*c, "again") == FailOutcome::requeued); // back in the queue: no event
    auto c2 = q->claim({"cpu"}, 0);                           // lease 50 ms, max_attempts 1 for this handle
    REQUIRE(c2);
    sleep_ms(120);
    CHECK(q->requeue_expired() == 1); // dead-lettered by the sweep

    std::vector<std::string> got;
    const auto since = std::chrono::steady_clock::now();
    while (got.size() < 4 && elapsed_ms(since) < 3000) {
        for (const DoneEvent& e : events->wait(500)) {
            CHECK(e.queue == "cpu");
            CHECK(e.at_ms > 0);
            got.push_back(e.task_id + ":" + e.outcome);
        }
    }
    CHECK(got == std::vector<std::string>{"a:acked", "b:dead", "d:removed", "c:dead"});
    CHECK(events->wait(0).empty());
    CHECK(events->wait(100).empty()); // each event once
}

// wait() blocks its timeout when nothing happens and wakes at once on an ack by another
// handle on another thread.
inline void done_events_block(const QueueFactory& open)
{
    auto q = open(3, k_long);
    auto agent = open(3, k_long);
    q->create("gpu");
    std::unique_ptr<DoneEvents> events = q->events();
    auto since = std::chrono::steady_clock::now();
    CHECK(events->wait(150).empty());
    CHECK(elapsed_ms(since) >= 120);
    q->push("gpu", "t1", 0);
    std::int64_t acked_at = 0;
    std::thread worker([&] {
        auto lease = agent->claim({"gpu"}, 1000);
        REQUIRE(lease);
        sleep_ms(200);
        acked_at = now_ms();
        agent->ack(*lease);
    });
    since = std::chrono::steady_clock::now();
    std::vector<DoneEvent> got = events->wait(5000);
    const std::int64_t woke_at = now_ms();
    worker.join();
    REQUIRE(got.size() == 1);
    CHECK(got[0].task_id == "t1");
    CHECK(got[0].outcome == "acked");
    CHECK(elapsed_ms(since) < 2000);
    CHECK(woke_at - acked_at < 500);
}

} // namespace queue_cases

// An agent with every field set, started now.
inline AgentInfo sample_agent(const std::string& name, std::vector<std::string> queues, std::int64_t ttl_ms)
{
    AgentInfo a;
    a.name = name;
    a.host = "host-1";
    a.pid = 4242;
    a.queues = std::move(queues);
    a.started_ms = now_ms();
    a.ttl_ms = ttl_ms;
    return a;
}

namespace agent_cases {

using namespace suite_detail;

// A beat registers an agent with every field; live() is sorted by name
inline void beat_and_live(const AgentRegistryFactory& open)
{
    auto r = open();
    CHECK(r->live().empty());
    AgentInfo b = sample_agent("b-agent", {"gpu", "cpu"}, 10'000);
    b.current_task = "1abc";
    b.tasks_done = 7;
    const std::int64_t before = now_ms();
    r->beat(b);
    r->beat(sample_agent("a-agent", {"cpu"}, 10'000));
    auto live = r->live();
    REQUIRE(live.size() == 2);
    CHECK(live[0].name == "a-agent");
    CHECK(live[1].name == "b-agent");
    CHECK(live[1].host == "host-1");
    CHECK(live[1].pid == 4242);
    CHECK(live[1].queues == std::vector<std::string>{"gpu", "cpu"});
    CHECK(live[1].current_task == "1abc");
    CHECK(live[1].tasks_done == 7);
    CHECK(live[1].started_ms == b.started_ms);
    CHECK(live[1].ttl_ms == 10'000);
    CHECK(live[1].heartbeat_ms >= before);
    CHECK(live[1].heartbeat_ms <= now_ms());
    CHECK_FALSE(live[1].stopping);
}

// An agent whose TTL ran out is not live until it beats again
inline void ttl_expiry(const AgentRegistryFactory& open)
{
    auto r = open();
    AgentInfo a = sample_agent("a1", {"cpu"}, 80);
    r->beat(a);
    CHECK(r->live().size() == 1);
    sleep_ms(200);
    CHECK(r->live().empty());
    CHECK_FALSE(r->request_stop("a1"));
    r->beat(a);
    CHECK(r->live().size() == 1);
}

// request_stop marks a live agent stopping, and its next beats keep it
inline void request_stop(const AgentRegistryFactory& open)
{
    auto r = open();
    auto other = open();
    AgentInfo a = sample_agent("a1", {"cpu"}, 10'000);
    r->beat(a);
    CHECK_FALSE(other->request_stop("nobody"));
    CHECK(other->request_stop("a1"));
    r->beat(a); // the agent's own beat, written from its stale copy
    auto live = r->live();
    REQUIRE(live.size() == 1);
    CHECK(live[0].stopping);
    // A new run of the agent under the same name starts fresh.
    AgentInfo restarted = a;
    restarted.started_ms = a.started_ms + 1;
    r->beat(restarted);
    live = r->live();
    REQUIRE(live.size() == 1);
    CHECK_FALSE(live[0].stopping);
}

// Remove takes an agent out
inline void remove(const AgentRegistryFactory& open)
{
    auto r = open();
    r->beat(sample_agent("a1", {"cpu"}, 10'000));
    r->beat(sample_agent("a2", {"cpu"}, 10'000));
    r->remove("a1");
    r->remove("never-there");
    auto live = r->live();
    REQUIRE(live.size() == 1);
    CHECK(live[0].name == "a2");
}

// served(): some live agent lists the queue and is not stopping
inline void served_queues(const AgentRegistryFactory& open)
{
    auto r = open();
    r->beat(sample_agent("a1", {"cpu"}, 10'000));
    r->beat(sample_agent("a2", {"gpu", "cpu"}, 10'000));
    r->beat(sample_agent("gone", {"tpu"}, 50));
    sleep_ms(120);
    CHECK(served(r->live(), "cpu"));
    CHECK(served(r->live(), "gpu"));
    CHECK_FALSE(served(r->live(), "tpu")); // its only agent expired
    CHECK_FALSE(served(r->live(), "other"));
    CHECK(r->request_stop("a2"));
    CHECK_FALSE(served(r->live(), "gpu")); // draining agents claim nothing new
    CHECK(served(r->live(), "cpu"));
}

} // namespace agent_cases

} // namespace mlrun::test

// One behaviour of a suite as its own TEST_CASE, named "<adapter>: <behaviour>".
#define MLRUN_SUITE_CASE(adapter, make_factory, fn, title)                                                             \
    TEST_CASE(adapter ": " title)                                                                                      \
    {                                                                                                                  \
        mlrun::test::fn(make_factory());                                                                               \
    }

#define MLRUN_QUEUE_SUITE(adapter, make_factory)                                                                       \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::fifo, "first in, first out within one priority")              \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::priority,                                                     \
                     "a higher priority is claimed first, then first in first out")                                    \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::queue_order,                                                  \
                     "claim(queues) takes the queues in the order given, before message priority")                     \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::blocking_claim,                                               \
                     "a blocking claim waits its timeout when empty and wakes when work arrives")                      \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::heartbeat_extends,                                            \
                     "a heartbeat extends the lease past its first expiry")                                            \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::expired_lease,                                                \
                     "an expired lease goes back with its attempt counted and \"lease expired\" kept")                 \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::fail_requeues,                                                \
                     "fail requeues at once with the error kept and the priority unchanged")                           \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::dead_letter,                                                  \
                     "max_attempts failures dead-letter a message with every attempt's error")                         \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::expiry_counts, "expired leases count toward max_attempts")    \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::requeue_dead,                                                 \
                     "requeue_dead brings a dead letter back with fresh attempts")                                     \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::remove,                                                       \
                     "remove takes a pending task off its queue, never a claimed one; state says where each is")       \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::list_counts,                                                  \
                     "list counts pending, claimed and dead messages per queue, by name")                              \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::epochs,                                                       \
                     "epochs strictly increase across every delivery of a message, whoever claims")                    \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::lost_lease_refused,                                           \
                     "a lease taken back by a sweep or finished by ack can no longer be renewed or failed")            \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::lost_ack_harmless,                                            \
                     "ack and fail of a lost lease leave the new delivery alone")                                      \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::unknown_queue, "an unknown queue is a usage error")           \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::concurrent_claims,                                            \
                     "handles claiming on many threads never share a delivery")                                        \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::done_events,                                                  \
                     "ack, dead letters and remove publish one completion event each, in order, seen once")            \
    MLRUN_SUITE_CASE(adapter, make_factory, queue_cases::done_events_block,                                            \
                     "a completion-event wait blocks its timeout and wakes at once on an ack from another handle")

#define MLRUN_AGENT_REGISTRY_SUITE(adapter, make_factory)                                                              \
    MLRUN_SUITE_CASE(adapter, make_factory, agent_cases::beat_and_live,                                                \
                     "a beat registers an agent with every field; live() is sorted by name")                           \
    MLRUN_SUITE_CASE(adapter, make_factory, agent_cases::ttl_expiry,                                                   \
                     "an agent whose TTL ran out is not live until it beats again")                                    \
    MLRUN_SUITE_CASE(adapter, make_factory, agent_cases::request_stop,                                                 \
                     "request_stop marks a live agent stopping, and its next beats keep it")                           \
    MLRUN_SUITE_CASE(adapter, make_factory, agent_cases::remove, "remove takes an agent out")                          \
    MLRUN_SUITE_CASE(adapter, make_factory, agent_cases::served_queues,                                                \
                     "served: some live agent lists the queue and is not stopping")
