// The Redis queue and agent registry against a real redis-server started by the test: the
// port's behaviours (priorities, blocking claims, leases, attempts, dead letters, fencing
// epochs, concurrent claimers) and what only Redis has to show: a server killed and
// restarted, wrong passwords, bad URIs.
#include "queue_suite.hpp"
#include "redis_server.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "queue/redis_agents.hpp"
#include "queue/redis_connection.hpp"
#include "queue/redis_queue.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

using namespace mlrun;
using mlrun::test::RedisServer;

namespace {

// One server for the whole file (starting one takes ~50 ms); each test gets its own key prefix.
RedisServer& shared_server()
{
    static RedisServer server;
    return server;
}

std::string fresh_prefix()
{
    static std::atomic<int> n{0};
    return "t" + std::to_string(++n) + ":";
}

// A handle on `prefix` of the shared server.
std::unique_ptr<RedisQueue> open_queue(const std::string& prefix, int max_attempts = 3, std::int64_t lease_ms = 60'000)
{
    RedisQueueOptions o;
    o.prefix = prefix;
    o.max_attempts = max_attempts;
    o.lease_ms = lease_ms;
    return std::make_unique<RedisQueue>(parse_redis_uri(shared_server().uri()), o);
}

void sleep_ms(int ms)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::string usage_error_of(const std::function<void()>& fn)
{
    try {
        fn();
    } catch (const UsageError& e) {
        return e.what();
    }
    return "(no UsageError)";
}

QueueInfo info_of(Queue& q, const std::string& name)
{
    for (const QueueInfo& i : q.list()) {
        if (i.name == name) {
            return i;
        }
    }
    FAIL("no queue " << name);
    return {};
}

} // namespace

TEST_CASE("redis uri: parsed, masked, and refused in one line")
{
    RedisUri u = parse_redis_uri("redis://alice:s%40cret@db.example:6380/3");
    CHECK(u.host == "db.example");
    CHECK(u.port == 6380);
    CHECK(u.db == 3);
    CHECK(u.user == "alice");
    CHECK(u.password == "s@cret");
    CHECK(u.masked() == "redis://alice:***@db.example:6380/3");
    RedisUri plain = parse_redis_uri("redis://localhost");
    CHECK(plain.port == 6379);
    CHECK(plain.db == 0);
    CHECK(plain.password.empty());
    RedisUri v6 = parse_redis_uri("redis://:pw@[::1]:7000/1");
    CHECK(v6.host == "::1");
    CHECK(v6.port == 7000);
    CHECK(v6.user.empty());
    CHECK(v6.password == "pw");

    for (const char* bad : {"http://host:6379", "redis://", "redis://host:0/0", "redis://host:99999",
                            "redis://host:6379/db", "redis://host:6379/0?timeout=1", "redis://:topsecret@host:x/0",
                            "redis://topsecret@host:6379/0", "redis://u:top%zzsecret@host/0"}) {
        CAPTURE(bad);
        std::string msg = usage_error_of([&] { parse_redis_uri(bad); });
        CHECK(msg.find("invalid broker URI") == 0);
        CHECK(msg.find("topsecret") == std::string::npos);
        CHECK(msg.find("top%zzsecret") == std::string::npos);
        CHECK(msg.find('\n') == std::string::npos);
    }
    std::string tls = usage_error_of([] { parse_redis_uri("rediss://:pw@host:6380/0"); });
    CHECK(tls.find("TLS") != std::string::npos);
    CHECK(tls.find("tunnel") != std::string::npos);
    CHECK(tls.find("pw@") == std::string::npos);
}

TEST_CASE("redis connection: unreachable server, wrong password and bad database are one line, password masked")
{
    RedisServer locked("right-horse-battery");
    const std::string port = std::to_string(locked.port());
    const RedisUri wrong = parse_redis_uri("redis://:wrong-staple@127.0.0.1:" + port + "/0");
    std::string msg = usage_error_of([&] { RedisConnection c(wrong); });
    CHECK(msg.find("authentication failed") != std::string::npos);
    CHECK(msg.find("wrong-staple") == std::string::npos);
    CHECK(msg.find("redis://:***@127.0.0.1:" + port + "/0") != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);

    msg = usage_error_of([&] { RedisConnection c(parse_redis_uri("redis://127.0.0.1:" + port + "/0")); });
    CHECK(msg.find("NOAUTH") != std::string::npos);

    RedisUri bad_db = parse_redis_uri(locked.uri());
    bad_db.db = 99;
    msg = usage_error_of([&] { RedisConnection c(bad_db); });
    CHECK(msg.find("cannot select database 99") != std::string::npos);
    CHECK(msg.find("right-horse-battery") == std::string::npos);

    RedisConnection ok(parse_redis_uri(locked.uri()));
    CHECK(ok.command({"PING"}).as_string() == "PONG");
    CHECK_THROWS_AS(ok.command({"INCR", "k", "extra"}), RedisError); // an error reply; still usable after
    CHECK(ok.command({"SET", "k", "v"}).as_string() == "OK");

    // A port where nothing listens: the server we started, gone.
    std::string gone_uri;
    {
        RedisServer gone;
        gone_uri = gone.uri();
    }
    msg = usage_error_of([&] { RedisConnection c(parse_redis_uri(gone_uri)); });
    CHECK(msg.find("cannot use the broker " + gone_uri) == 0);
    CHECK(msg.find("cannot connect") != std::string::npos);
}

TEST_CASE("redis queue: first in first out, higher priority first, queues in the order given")
{
    const std::string prefix = fresh_prefix();
    auto q = open_queue(prefix);
    q->create("cpu");
    q->create("gpu");
    for (const char* id : {"c", "a", "b"}) {
        q->push("cpu", id, 0);
    }
    q->push("cpu", "urgent", 9);
    q->push("cpu", "mid", 5);
    q->push("cpu", "below", -2);
    q->push("gpu", "g", 0);
    std::vector<std::string> got;
    std::vector<int> prios;
    while (auto lease = q->claim({"gpu", "cpu"}, 0)) {
        got.push_back(lease->task_id);
        prios.push_back(lease->priority);
        CHECK(lease->attempt == 1);
        CHECK(lease->errors.empty());
        CHECK(lease->expires_ms > now_ms());
        q->ack(*lease);
    }
    CHECK(got == std::vector<std::string>{"g", "urgent", "mid", "c", "a", "b", "below"});
    CHECK(prios == std::vector<int>{0, 9, 5, 0, 0, 0, -2});
    QueueInfo info = info_of(*q, "cpu");
    CHECK(info.pending + info.claimed + info.dead == 0);
}

TEST_CASE("redis queue: a blocked claim waits its timeout and wakes at once on a push from another handle")
{
    const std::string prefix = fresh_prefix();
    auto q = open_queue(prefix);
    q->create("cpu");
    q->create("gpu");
    auto t0 = std::chrono::steady_clock::now();
    CHECK_FALSE(q->claim({"cpu"}, 150).has_value());
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    CHECK(waited >= 140);
    CHECK(waited < 3'000);

    auto producer = open_queue(prefix);
    std::thread push([&] {
        sleep_ms(100);
        producer->push("gpu", "late", 0);
    });
    t0 = std::chrono::steady_clock::now();
    auto lease = q->claim({"cpu", "gpu"}, 20'000);
    waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    push.join();
    REQUIRE(lease);
    CHECK(lease->task_id == "late");
    CHECK(lease->queue == "gpu");
    CHECK(waited >= 90);
    CHECK(waited < 5'000);

    // While a claim blocks, the same handle still answers heartbeats at once.
    std::thread blocked([&] { CHECK_FALSE(q->claim({"cpu"}, 600).has_value()); });
    sleep_ms(50);
    t0 = std::chrono::steady_clock::now();
    CHECK(q->heartbeat(*lease));
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(300));
    blocked.join();
}

TEST_CASE("redis queue: an expired lease is reclaimed with attempt + 1, \"lease expired\" kept and a newer epoch")
{
    const std::string prefix = fresh_prefix();
    auto short_lease = open_queue(prefix, 3, 80);
    auto long_lease = open_queue(prefix, 3, 60'000);
    short_lease->create("cpu");
    short_lease->push("cpu", "t1", 0);
    short_lease->push("cpu", "t2", 0);
    auto l1 = short_lease->claim({"cpu"}, 0);
    auto l2 = long_lease->claim({"cpu"}, 0);
    REQUIRE(l1);
    REQUIRE(l2);
    CHECK(long_lease->requeue_expired() == 0);
    sleep_ms(200);
    CHECK(long_lease->requeue_expired() == 1); // each delivery expires by its own lease length
    CHECK_FALSE(short_lease->heartbeat(*l1));
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
    // The lost holder can neither fail nor ack the new delivery away.
    CHECK(short_lease->fail(*l1, "zombie") == FailOutcome::lease_lost);
    short_lease->ack(*l1);
    CHECK(info_of(*long_lease, "cpu").claimed == 2);
    CHECK(long_lease->heartbeat(*again));
}

TEST_CASE("redis queue: heartbeats keep a short lease alive past its first expiry")
{
    const std::string prefix = fresh_prefix();
    auto q = open_queue(prefix, 3, 200);
    q->create("cpu");
    q->push("cpu", "t", 0);
    auto lease = q->claim({"cpu"}, 0);
    REQUIRE(lease);
    const std::int64_t first = lease->expires_ms;
    while (now_ms() < first + 200) {
        sleep_ms(50);
        CHECK(q->heartbeat(*lease));
        CHECK(q->requeue_expired() == 0);
    }
    CHECK(lease->expires_ms > first);
    CHECK(info_of(*q, "cpu").claimed == 1);
}

TEST_CASE("redis queue: fail requeues with the error; max_attempts dead-letters with every error; requeue_dead")
{
    const std::string prefix = fresh_prefix();
    auto q = open_queue(prefix, 3);
    q->create("cpu");
    q->push("cpu", "flaky", 4);
    q->push("cpu", "other", 1);
    std::vector<std::int64_t> epochs;
    for (int attempt = 1; attempt <= 3; ++attempt) {
        auto lease = q->claim({"cpu"}, 0);
        REQUIRE(lease);
        CHECK(lease->task_id == "flaky"); // requeued with its priority, still ahead of "other"
        CHECK(lease->priority == 4);
        CHECK(lease->attempt == attempt);
        REQUIRE(lease->errors.size() == static_cast<std::size_t>(attempt - 1));
        for (int i = 0; i < attempt - 1; ++i) {
            CHECK(lease->errors[i].error == "error \"" + std::to_string(i + 1) + "\" ü");
        }
        epochs.push_back(lease->epoch);
        CHECK(q->fail(*lease, "error \"" + std::to_string(attempt) + "\" ü")
              == (attempt < 3 ? FailOutcome::requeued : FailOutcome::dead_lettered));
    }
    auto dead = q->dead_letters("cpu");
    REQUIRE(dead.size() == 1);
    CHECK(dead[0].task_id == "flaky");
    CHECK(dead[0].queue == "cpu");
    CHECK(dead[0].priority == 4);
    CHECK(dead[0].dead_ms > 0);
    REQUIRE(dead[0].errors.size() == 3);
    for (int i = 0; i < 3; ++i) {
        CHECK(dead[0].errors[i].attempt == i + 1);
        CHECK(dead[0].errors[i].error == "error \"" + std::to_string(i + 1) + "\" ü");
    }
    QueueInfo info = info_of(*q, "cpu");
    CHECK(info.pending == 1);
    CHECK(info.claimed == 0);
    CHECK(info.dead == 1);

    CHECK_FALSE(q->requeue_dead("cpu", "other"));
    CHECK(q->requeue_dead("cpu", "flaky"));
    CHECK_FALSE(q->requeue_dead("cpu", "flaky"));
    CHECK(q->dead_letters("cpu").empty());
    auto back = q->claim({"cpu"}, 0);
    REQUIRE(back);
    CHECK(back->task_id == "flaky");
    CHECK(back->attempt == 1);
    CHECK(back->errors.empty());
    epochs.push_back(back->epoch);
    for (std::size_t i = 1; i < epochs.size(); ++i) {
        CHECK(epochs[i] > epochs[i - 1]);
    }
}

TEST_CASE("redis queue: expired leases count toward max_attempts")
{
    const std::string prefix = fresh_prefix();
    auto q = open_queue(prefix, 2, 50);
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
    CHECK(dead[0].errors[1].error == "lease expired");
}

TEST_CASE("redis queue: remove, duplicate pushes, unknown queues, list")
{
    const std::string prefix = fresh_prefix();
    auto q = open_queue(prefix);
    CHECK_FALSE(q->exists("cpu"));
    q->create("cpu");
    q->create("gpu");
    CHECK(q->exists("cpu"));
    q->push("cpu", "a", 0);
    q->push("cpu", "a", 3); // already pending: not queued twice
    q->push("cpu", "b", 0);
    CHECK(info_of(*q, "cpu").pending == 2);
    CHECK(q->remove("cpu", "a"));
    CHECK_FALSE(q->remove("cpu", "a"));
    auto b = q->claim({"cpu"}, 0);
    REQUIRE(b);
    CHECK_FALSE(q->remove("cpu", "b")); // claimed, not pending
    q->push("cpu", "b", 0);             // claimed: not queued twice either
    CHECK_FALSE(q->claim({"cpu"}, 0).has_value());

    std::string msg = usage_error_of([&] { q->push("tpu", "x", 0); });
    CHECK(msg.find("unknown queue \"tpu\"") == 0);
    CHECK(msg.find("cpu, gpu") != std::string::npos);
    CHECK_THROWS_AS(q->claim({"cpu", "tpu"}, 0), UsageError);
    CHECK_THROWS_AS(q->dead_letters("tpu"), UsageError);
    CHECK_THROWS_AS(q->push("cpu", "../x", 0), UsageError);

    auto all = q->list();
    REQUIRE(all.size() == 2);
    CHECK(all[0].name == "cpu");
    CHECK(all[0].pending == 0);
    CHECK(all[0].claimed == 1);
    CHECK(all[1].name == "gpu");
    q->ack(*b);
    CHECK_FALSE(q->heartbeat(*b));
    CHECK(info_of(*q, "cpu").claimed == 0);
}

TEST_CASE("redis queue: claimers on many threads and handles never share a delivery")
{
    const std::string prefix = fresh_prefix();
    constexpr int k_tasks = 300;
    constexpr int k_threads = 8;
    auto producer = open_queue(prefix);
    producer->create("cpu");
    std::vector<std::unique_ptr<RedisQueue>> handles;
    for (int t = 0; t < k_threads; ++t) {
        handles.push_back(open_queue(prefix));
    }
    std::mutex mutex;
    std::vector<std::string> ids;
    std::set<std::int64_t> epochs;
    std::atomic<bool> done{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
        threads.emplace_back([&, t] {
            // Blocking claims racing the producer; two threads per handle.
            Queue& q = *handles[t / 2 * 2];
            while (true) {
                auto lease = q.claim({"cpu"}, 100);
                if (!lease) {
                    if (done) {
                        return;
                    }
                    continue;
                }
                std::lock_guard<std::mutex> lock(mutex);
                ids.push_back(lease->task_id);
                epochs.insert(lease->epoch);
            }
        });
    }
    for (int i = 0; i < k_tasks; ++i) {
        producer->push("cpu", "task" + std::to_string(i), i % 5);
    }
    sleep_ms(300);
    done = true;
    for (std::thread& t : threads) {
        t.join();
    }
    CHECK(ids.size() == static_cast<std::size_t>(k_tasks));
    CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == static_cast<std::size_t>(k_tasks));
    CHECK(epochs.size() == static_cast<std::size_t>(k_tasks));
    CHECK(info_of(*producer, "cpu").claimed == static_cast<std::size_t>(k_tasks));
}

TEST_CASE("redis queue: redis-server killed and restarted → the handle reconnects and nothing pushed is lost")
{
    RedisServer server;
    RedisQueueOptions o;
    o.connection.reconnect_ms = 10'000;
    RedisUri uri = parse_redis_uri(server.uri());
    RedisQueue q(uri, o);
    q.create("cpu");
    q.push("cpu", "before", 0);
    q.push("cpu", "claimed-before", 5);
    auto held = q.claim({"cpu"}, 0);
    REQUIRE(held);
    CHECK(held->task_id == "claimed-before");

    // The server is killed and restarted from this thread (the child is tied to the thread
    // that started it); the handle works on another.
    server.kill();
    std::optional<Lease> lease;
    std::string error;
    std::thread worker([&] {
        try {
            lease = q.claim({"cpu"}, 0); // sent while the server is down: retried until it is back
        } catch (const std::exception& e) {
            error = e.what();
        }
    });
    sleep_ms(300);
    server.start();
    worker.join();
    CHECK(error == "");
    REQUIRE(lease);
    CHECK(lease->task_id == "before");
    CHECK(lease->epoch > held->epoch);
    CHECK(q.heartbeat(*held)); // the claim made before the crash survived it (appendonly)
    q.ack(*held);
    q.ack(*lease);
    QueueInfo info = info_of(q, "cpu");
    CHECK(info.pending + info.claimed == 0);

    // A claim blocked on the server when it dies resumes on the restarted one and gets the push.
    RedisQueue producer(uri, o);
    std::optional<Lease> woke;
    std::thread blocked([&] {
        try {
            woke = q.claim({"cpu"}, 8'000);
        } catch (const std::exception& e) {
            error = e.what();
        }
    });
    sleep_ms(100);
    server.kill();
    sleep_ms(200);
    server.start();
    sleep_ms(100);
    producer.push("cpu", "after", 0);
    blocked.join();
    CHECK(error == "");
    REQUIRE(woke);
    CHECK(woke->task_id == "after");
    CHECK(q.heartbeat(*woke));

    // Down for longer than reconnect_ms: a clear error, not a hang.
    RedisQueueOptions impatient;
    impatient.connection.reconnect_ms = 300;
    RedisQueue quick(uri, impatient);
    server.kill();
    auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH_AS(quick.push("cpu", "x", 0), doctest::Contains("could not reconnect"), std::runtime_error);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
}

TEST_CASE("redis connection: a hung server times out into an error, and the connection recovers after it")
{
    RedisServer server;
    RedisOptions o;
    o.command_timeout_ms = 200;
    o.connect_timeout_ms = 200;
    o.reconnect_ms = 500;
    RedisConnection c(parse_redis_uri(server.uri()), o);
    CHECK(c.command({"SET", "k", "1"}).as_string() == "OK");
    server.pause();
    auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH_AS(c.command({"GET", "k"}), doctest::Contains("could not reconnect"), std::runtime_error);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
    server.resume();
    CHECK(c.command({"GET", "k"}).as_string() == "1");
    CHECK(c.reconnects() >= 1);
}

TEST_CASE("redis agent registry: TTL keys, sorted live agents, stop requests that outlive the agent's own beats")
{
    const std::string prefix = fresh_prefix();
    RedisUri uri = parse_redis_uri(shared_server().uri());
    RedisAgentRegistry r(uri, prefix);
    RedisAgentRegistry other(uri, prefix);
    CHECK(r.live().empty());
    AgentInfo b;
    b.name = "b-agent";
    b.host = "host-1";
    b.pid = 4242;
    b.queues = {"gpu", "cpu"};
    b.current_task = "1abc";
    b.started_ms = now_ms();
    b.ttl_ms = 10'000;
    b.tasks_done = 7;
    AgentInfo a = b;
    a.name = "a-agent";
    a.ttl_ms = 80;
    const std::int64_t before = now_ms();
    r.beat(b);
    r.beat(a);
    auto live = other.live();
    REQUIRE(live.size() == 2);
    CHECK(live[0].name == "a-agent");
    CHECK(live[1].name == "b-agent");
    CHECK(live[1].queues == std::vector<std::string>{"gpu", "cpu"});
    CHECK(live[1].current_task == "1abc");
    CHECK(live[1].pid == 4242);
    CHECK(live[1].tasks_done == 7);
    CHECK(live[1].ttl_ms == 10'000);
    CHECK(live[1].started_ms == b.started_ms);
    CHECK(live[1].heartbeat_ms >= before);
    CHECK_FALSE(live[1].stopping);

    sleep_ms(200);
    live = other.live();
    REQUIRE(live.size() == 1); // a-agent's key expired
    CHECK(live[0].name == "b-agent");
    CHECK_FALSE(other.request_stop("a-agent"));

    CHECK(other.request_stop("b-agent"));
    r.beat(b); // from its own copy, which says nothing about stopping
    live = r.live();
    REQUIRE(live.size() == 1);
    CHECK(live[0].stopping);
    AgentInfo restarted = b;
    restarted.started_ms = b.started_ms + 1;
    r.beat(restarted);
    live = r.live();
    REQUIRE(live.size() == 1);
    CHECK_FALSE(live[0].stopping);

    r.remove("b-agent");
    r.remove("never-there");
    CHECK(r.live().empty());
    CHECK_THROWS_AS(r.beat([] {
        AgentInfo bad;
        bad.name = "../x";
        bad.ttl_ms = 100;
        return bad;
    }()),
                    UsageError);
}

namespace {

// A fresh prefix on the shared server per call: an empty store for each suite case.
mlrun::test::QueueFactory redis_queues()
{
    const std::string prefix = fresh_prefix();
    return [prefix](int max_attempts, std::int64_t lease_ms) { return open_queue(prefix, max_attempts, lease_ms); };
}

mlrun::test::AgentRegistryFactory redis_agents()
{
    const std::string prefix = fresh_prefix();
    return [prefix] { return std::make_unique<RedisAgentRegistry>(parse_redis_uri(shared_server().uri()), prefix); };
}

} // namespace

MLRUN_QUEUE_SUITE("queue suite: redis", redis_queues)
MLRUN_AGENT_REGISTRY_SUITE("agent registry suite: redis", redis_agents)
