// The queue and agent registry suites against the local adapters and the fakes, and what
// only the local adapter has to show: crash leftovers, older files, other processes.
#include "fake_queue.hpp"
#include "queue_suite.hpp"
#include "test_util.hpp"

#include "core/util.hpp"
#include "queue/local_agents.hpp"
#include "queue/local_queue.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <map>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace mlrun;
using mlrun::test::TempDir;

namespace {

// Runs `fn` in a forked child that exits with 0 when fn returned, 1 when it threw.
template <class Fn>
pid_t fork_child(Fn fn)
{
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int code = 0;
        try {
            fn();
        } catch (...) {
            code = 1;
        }
        ::_exit(code);
    }
    return pid;
}

int wait_child(pid_t pid)
{
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Every file under `root`: whole JSON (no half-written message) and no temp file left.
void check_all_whole(const fs::path& root)
{
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(root)) {
        const std::string name = e.path().filename().string();
        if (!e.is_regular_file() || name == ".lock" || name == "counter") {
            continue;
        }
        CAPTURE(e.path().string());
        CHECK(name.find(".tmp.") == std::string::npos);
        CHECK(nlohmann::json::parse(mlrun::test::read_text(e.path()), nullptr, false).is_object());
    }
}

} // namespace

namespace {

// Each factory owns a fresh backing store; every handle it opens shares it.
mlrun::test::QueueFactory local_queues()
{
    auto dir = std::make_shared<TempDir>();
    return [dir](int max_attempts, std::int64_t lease_ms) {
        return std::make_unique<LocalQueue>(*dir / "queues", lease_ms, max_attempts);
    };
}

mlrun::test::QueueFactory fake_queues()
{
    auto state = std::make_shared<mlrun::test::FakeQueueState>();
    return [state](int max_attempts, std::int64_t lease_ms) {
        return std::make_unique<mlrun::test::FakeQueue>(state, max_attempts, lease_ms);
    };
}

mlrun::test::AgentRegistryFactory local_agents()
{
    auto dir = std::make_shared<TempDir>();
    return [dir] { return std::make_unique<LocalAgentRegistry>(*dir / "agents"); };
}

mlrun::test::AgentRegistryFactory fake_agents()
{
    auto state = std::make_shared<mlrun::test::FakeAgentState>();
    return [state] { return std::make_unique<mlrun::test::FakeAgentRegistry>(state); };
}

} // namespace

MLRUN_QUEUE_SUITE("queue suite: local", local_queues)
MLRUN_QUEUE_SUITE("queue suite: fake", fake_queues)
MLRUN_AGENT_REGISTRY_SUITE("agent registry suite: local", local_agents)
MLRUN_AGENT_REGISTRY_SUITE("agent registry suite: fake", fake_agents)

TEST_CASE("local queue: every file stays whole through fails, dead letters, sweeps and requeues")
{
    TempDir dir;
    LocalQueue q(dir / "queues", 60'000, 2);
    LocalQueue short_lease(dir / "queues", 1, 2);
    q.create("cpu");
    for (int i = 0; i < 20; ++i) {
        q.push("cpu", "t" + std::to_string(i), i % 3);
    }
    int dead = 0;
    for (int i = 0; i < 30; ++i) {
        auto lease = (i % 3 == 0 ? short_lease : q).claim({"cpu"}, 0);
        REQUIRE(lease);
        if (i % 3 == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            q.requeue_expired();
        } else if (i % 3 == 1) {
            dead += q.fail(*lease, "boom") == FailOutcome::dead_lettered ? 1 : 0;
        } else {
            q.ack(*lease);
        }
    }
    check_all_whole(dir / "queues");
    for (const DeadLetter& d : q.dead_letters("cpu")) {
        CHECK(q.requeue_dead("cpu", d.task_id));
    }
    check_all_whole(dir / "queues");
    auto info = q.list();
    REQUIRE(info.size() == 1);
    CHECK(info[0].dead == 0);
    CHECK(info[0].claimed == 0);
    CHECK(info[0].pending > 0);
}

TEST_CASE("local agent registry: bad names are usage errors, foreign files are skipped")
{
    TempDir dir;
    LocalAgentRegistry r(dir / "agents");
    CHECK_THROWS_AS(r.beat(mlrun::test::sample_agent("../evil", {"cpu"}, 1000)), UsageError);
    CHECK_THROWS_AS(r.request_stop(""), UsageError);
    r.beat(mlrun::test::sample_agent("a1", {"cpu"}, 10'000));
    mlrun::test::write_text(dir / "agents" / "junk.json", "{not json");
    mlrun::test::write_text(dir / "agents" / "notes.txt", "hello");
    auto live = r.live();
    REQUIRE(live.size() == 1);
    CHECK(live[0].name == "a1");
    CHECK(nlohmann::json::parse(mlrun::test::read_text(dir / "agents" / "a1.json"))["queues"][0] == "cpu");
}

TEST_CASE("local queue: a move cut off by a crash is finished by the next sweep")
{
    TempDir dir;
    LocalQueue q(dir / "queues", 60'000, 3);
    q.create("cpu");
    const fs::path claimed = dir / "queues" / "cpu" / "claimed";
    // Killed between rewriting the message without its lease and renaming it on: once
    // bound back for pending/, once for dead/. Neither is an expired lease.
    mlrun::test::write_text(claimed / "requeued", R"({"task_id":"requeued","priority":2,"attempts":1,"epoch":7,)"
                                                  R"("errors":[{"attempt":1,"error":"boom","at_ms":5}]})");
    mlrun::test::write_text(claimed / "dying", R"({"task_id":"dying","priority":0,"attempts":3,"epoch":9,"dead_ms":11,)"
                                               R"("errors":[{"attempt":3,"error":"last","at_ms":6}]})");
    // A claim of the earlier layout (content: the expiry), its claimer long gone.
    mlrun::test::write_text(claimed / "old", "1700000000000");
    CHECK(q.requeue_expired() == 0);
    CHECK(mlrun::test::read_text(dir / "queues" / "cpu" / "counter") != "");

    auto lease = q.claim({"cpu"}, 0);
    REQUIRE(lease);
    CHECK(lease->task_id == "requeued"); // priority 2 first
    CHECK(lease->attempt == 2);
    REQUIRE(lease->errors.size() == 1);
    CHECK(lease->errors[0].error == "boom");
    CHECK(lease->epoch > 7);
    auto old = q.claim({"cpu"}, 0);
    REQUIRE(old);
    CHECK(old->task_id == "old");
    CHECK(old->attempt == 1);
    auto dead = q.dead_letters("cpu");
    REQUIRE(dead.size() == 1);
    CHECK(dead[0].task_id == "dying");
    CHECK(dead[0].errors.size() == 1);
    check_all_whole(dir / "queues");
}

TEST_CASE("local queue: pending files of the earlier layout are still claimed")
{
    TempDir dir;
    LocalQueue q(dir / "queues");
    q.create("cpu");
    // Before attempts existed: <999-priority>-<time>-<id>, content the task id; ids may hold '-'.
    mlrun::test::write_text(dir / "queues" / "cpu" / "pending" / "990-1700000000000-my-task", "my-task");
    auto lease = q.claim({"cpu"}, 0);
    REQUIRE(lease);
    CHECK(lease->task_id == "my-task");
    CHECK(lease->attempt == 1);
    CHECK(q.fail(*lease, "x") == FailOutcome::requeued);
    CHECK(q.remove("cpu", "my-task"));
}

TEST_CASE("local queue: epochs grow across processes claiming one message in turn")
{
    TempDir dir;
    constexpr int k_rounds = 15;
    {
        LocalQueue q(dir / "queues", 60'000, 1000);
        q.create("cpu");
        q.push("cpu", "t", 0);
    }
    std::vector<pid_t> pids;
    for (int p = 0; p < 2; ++p) {
        pids.push_back(fork_child([&, p] {
            LocalQueue q(dir / "queues", 60'000, 1000);
            std::string got;
            for (int i = 0; i < k_rounds; ++i) {
                auto lease = q.claim({"cpu"}, 10'000);
                if (!lease) {
                    throw std::runtime_error("no delivery");
                }
                got += std::to_string(lease->attempt) + " " + std::to_string(lease->epoch) + "\n";
                if (q.fail(*lease, "again") != FailOutcome::requeued) {
                    throw std::runtime_error("not requeued");
                }
            }
            mlrun::write_file_atomic(dir / ("got" + std::to_string(p) + ".txt"), got);
        }));
    }
    for (pid_t pid : pids) {
        CHECK(wait_child(pid) == 0);
    }
    // attempt n is the n-th delivery whoever got it; its epoch must grow with n.
    std::map<int, std::int64_t> epoch_of_attempt;
    for (int p = 0; p < 2; ++p) {
        for (const std::string& line :
             mlrun::test::lines_of(mlrun::test::read_text(dir / ("got" + std::to_string(p) + ".txt")))) {
            int attempt = std::stoi(line.substr(0, line.find(' ')));
            CHECK(epoch_of_attempt.count(attempt) == 0); // one delivery per attempt number
            epoch_of_attempt[attempt] = std::stoll(line.substr(line.find(' ') + 1));
        }
    }
    REQUIRE(epoch_of_attempt.size() == 2 * k_rounds);
    CHECK(epoch_of_attempt.begin()->first == 1);
    CHECK(epoch_of_attempt.rbegin()->first == 2 * k_rounds);
    std::int64_t last = 0;
    for (const auto& [attempt, epoch] : epoch_of_attempt) {
        CAPTURE(attempt);
        CHECK(epoch > last);
        last = epoch;
    }
}
