// The agent daemon end to end with real processes: `mlrun agent daemon` children of the
// test, each running its tasks as `mlrun task run` children, on the local queue and on a
// real redis-server. Faults: an agent SIGKILLed mid-task (its child dies too, the task is
// requeued on lease expiry and finished by another agent), SIGTERM drains, a repeated
// delivery of a completed task is not run again. Every wait is bounded.
#include "redis_server.hpp"
#include "test_util.hpp"

#include "app/wiring.hpp"
#include "platform/subprocess.hpp"
#include "ports/queue.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <functional>
#include <optional>
#include <thread>

using namespace mlrun;
using mlrun::test::create_task_cli;
using mlrun::test::RedisServer;
using mlrun::test::RunResult;
using mlrun::test::show_json;
using mlrun::test::TempDir;

namespace {

using Json = nlohmann::json;

// The broker flags of a test: none for the local queue, --broker URI for Redis.
struct Broker {
    std::vector<std::string> flags;
};

RunResult mlrun_cli(const TempDir& dir, const Broker& broker, std::vector<std::string> args)
{
    std::vector<std::string> full = broker.flags;
    full.insert(full.end(), args.begin(), args.end());
    return mlrun::test::run(dir, full);
}

// An agent daemon running as a child of the test (its own process group).
class AgentProcess {
public:
    AgentProcess(const TempDir& dir, const Broker& broker, const std::vector<std::string>& args)
    {
        SubprocessOptions options;
        options.argv = {MLRUN_BIN};
        options.argv.insert(options.argv.end(), broker.flags.begin(), broker.flags.end());
        options.argv.insert(options.argv.end(), {"agent", "daemon"});
        options.argv.insert(options.argv.end(), args.begin(), args.end());
        options.env = {{"MLRUN_HOME", dir.home().string()}, {"MLRUN_BROKER", ""}, {"MLRUN_QUEUE_URI", ""}};
        options.cwd = dir.path();
        m_child.emplace(Subprocess::spawn(options));
    }

    int pid() const { return m_child->pid(); }
    void signal(int sig) const { ::kill(m_child->pid(), sig); }

    // Waits for the exit (at most timeout_ms, then the group is killed and the status says
    // timed_out); the agent's output is kept in output().
    ExitStatus wait(int timeout_ms)
    {
        return m_child->wait([this](std::string_view line) { m_output += std::string(line) + "\n"; }, timeout_ms);
    }
    const std::string& output() const { return m_output; }

private:
    std::optional<Subprocess> m_child;
    std::string m_output;
};

// Polls `done` every 20 ms for at most timeout_ms.
bool eventually(const std::function<bool()>& done, int timeout_ms)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return done();
}

// The process is gone (or a zombie nobody reaped yet: it runs no more).
bool process_gone(int pid)
{
    if (::kill(pid, 0) != 0) {
        return true;
    }
    std::string stat = mlrun::test::read_text("/proc/" + std::to_string(pid) + "/stat");
    std::size_t close = stat.rfind(')');
    return close == std::string::npos || (close + 2 < stat.size() && stat[close + 2] == 'Z');
}

std::string status_of(const TempDir& dir, const std::string& id)
{
    return show_json(dir, id)["status"].get<std::string>();
}

// A clone on queue cpu, completed by an agent started with --once.
void once_completes(const Broker& broker)
{
    TempDir dir;
    REQUIRE(mlrun_cli(dir, broker, {"queue", "create", "cpu"}).code == 0);
    std::string source = create_task_cli(dir, {"exec", "--set", "command=echo from-the-agent"});
    RunResult clone = mlrun_cli(dir, broker, {"task", "clone", source, "--queue", "cpu"});
    REQUIRE(clone.code == 0);
    CHECK(clone.err.find("no live agent serves queue") != std::string::npos); // a warning, not an error
    std::string id = mlrun::test::trim(clone.out);
    CHECK(status_of(dir, id) == "queued");

    AgentProcess agent(dir, broker, {"--queue", "cpu", "--once", "--name", "a1"});
    ExitStatus st = agent.wait(30'000);
    CAPTURE(agent.output());
    CHECK_FALSE(st.timed_out);
    CHECK(st.exit_code == 0);
    Json t = show_json(dir, id);
    CHECK(t["status"] == "completed");
    CHECK(t["attempts"] == 1);
    CHECK(t["lease_epoch"].get<std::int64_t>() > 0);
    CHECK(mlrun::test::read_text(dir.home() / "tasks" / id / "log.txt").find("from-the-agent") != std::string::npos);
    // It deregistered; the queue is empty.
    RunResult list = mlrun_cli(dir, broker, {"agent", "list"});
    CHECK(list.out.find("a1") == std::string::npos);
    RunResult queues = mlrun_cli(dir, broker, {"queue", "list"});
    CHECK(queues.out.find("cpu") != std::string::npos);
}

// SIGKILL of an agent mid-task: its child dies with it; the task is requeued once the lease
// expires and completed by a second agent, with attempts = 2 and the first attempt's error kept.
void killed_agent_is_replaced(const Broker& broker)
{
    TempDir dir;
    REQUIRE(mlrun_cli(dir, broker, {"queue", "create", "cpu"}).code == 0);
    const std::string ppid_file = (dir / "ppid").string();
    std::string id = create_task_cli(
        dir, {"exec", "--set", "command=echo $PPID > " + ppid_file + "; sleep 1.5; echo finished"});
    REQUIRE(mlrun_cli(dir, broker, {"task", "enqueue", id, "--queue", "cpu"}).code == 0);

    AgentProcess first(dir, broker, {"--queue", "cpu", "--lease", "1", "--name", "first"});
    REQUIRE(eventually([&] { return !mlrun::test::trim(mlrun::test::read_text(ppid_file)).empty(); }, 20'000));
    int child_pid = std::stoi(mlrun::test::read_text(ppid_file));
    CHECK(status_of(dir, id) == "in_progress");
    RunResult listed = mlrun_cli(dir, broker, {"agent", "list"});
    CHECK(listed.out.find("first") != std::string::npos);
    CHECK(listed.out.find(id) != std::string::npos);

    first.signal(SIGKILL);
    ExitStatus killed = first.wait(5'000);
    CHECK(killed.signaled);
    CHECK(eventually([&] { return process_gone(child_pid); }, 3'000)); // PR_SET_PDEATHSIG
    CHECK(status_of(dir, id) == "in_progress");                        // nobody ended it

    std::filesystem::remove(ppid_file);
    AgentProcess second(dir, broker, {"--queue", "cpu", "--lease", "1", "--once", "--name", "second"});
    ExitStatus st = second.wait(30'000);
    CAPTURE(second.output());
    CHECK_FALSE(st.timed_out);
    CHECK(st.exit_code == 0);
    Json t = show_json(dir, id);
    CHECK(t["status"] == "completed");
    CHECK(t["attempts"] == 2);
    REQUIRE(t["attempt_errors"].size() == 1);
    CHECK(t["attempt_errors"][0].get<std::string>().find("attempt 1: agent_lost") != std::string::npos);
    CHECK(t["attempt_errors"][0].get<std::string>().find("lease expired") != std::string::npos);
}

// SIGTERM while a task runs: with a long enough grace it finishes (completed, exit 0); with
// a short one it is killed and requeued (queued, never completed nor left in_progress).
void sigterm_drains(const Broker& broker)
{
    TempDir dir;
    REQUIRE(mlrun_cli(dir, broker, {"queue", "create", "cpu"}).code == 0);
    for (bool finishes : {true, false}) {
        CAPTURE(finishes);
        const std::string started = (dir / (finishes ? "started-1" : "started-2")).string();
        std::string id = create_task_cli(
            dir, {"exec", "--set", "command=touch " + started + "; sleep " + (finishes ? "1" : "8") + "; echo ok"});
        REQUIRE(mlrun_cli(dir, broker, {"task", "enqueue", id, "--queue", "cpu"}).code == 0);
        AgentProcess agent(dir, broker, {"--queue", "cpu", "--grace", finishes ? "20" : "0.3"});
        REQUIRE(eventually([&] { return std::filesystem::exists(started); }, 20'000));
        agent.signal(SIGTERM);
        ExitStatus st = agent.wait(finishes ? 25'000 : 10'000);
        CAPTURE(agent.output());
        CHECK_FALSE(st.timed_out);
        CHECK_FALSE(st.signaled);
        CHECK(st.exit_code == 0);
        Json t = show_json(dir, id);
        if (finishes) {
            CHECK(t["status"] == "completed");
        } else {
            CHECK(t["status"] == "queued");
            CHECK(t["error_class"] == "agent_lost");
            CHECK(mlrun_cli(dir, broker, {"agent", "list"}).out.find(id) == std::string::npos);
            // Back on the queue, not claimed.
            CHECK(mlrun_cli(dir, broker, {"task", "dequeue", id}).code == 0);
            CHECK(status_of(dir, id) == "draft");
        }
    }
}

Broker redis_broker(const RedisServer& server)
{
    return Broker{{"--broker", server.uri()}};
}

} // namespace

TEST_CASE("agent local: task clone --queue, then an agent with --once completes it")
{
    once_completes(Broker{});
}

TEST_CASE("agent local: SIGKILL mid-task -> child dies, lease expiry requeues, a second agent completes, attempts 2")
{
    killed_agent_is_replaced(Broker{});
}

TEST_CASE("agent local: SIGTERM drains (finish within --grace, else requeue), exit 0")
{
    sigterm_drains(Broker{});
}

TEST_CASE("agent local: a delivery of a task that already completed is acked, not run again")
{
    TempDir dir;
    REQUIRE(mlrun::test::run(dir, {"queue", "create", "cpu"}).code == 0);
    std::string id = create_task_cli(dir, {"exec", "--set", "command=echo once"});
    REQUIRE(mlrun::test::run(dir, {"task", "run", "-q", id}).code == 0);
    {
        BackendOptions options;
        options.home = dir.home().string();
        Backends b = open_backends(options);
        b.queue->push("cpu", id); // a repeated delivery, as at-least-once allows
    }
    AgentProcess agent(dir, Broker{}, {"--queue", "cpu", "--max-idle", "1"});
    ExitStatus st = agent.wait(20'000);
    CAPTURE(agent.output());
    CHECK(st.exit_code == 0);
    Json t = show_json(dir, id);
    CHECK(t["status"] == "completed");
    CHECK(t["attempts"] == 1);
    CHECK(agent.output().find("already completed") != std::string::npos);
    CHECK(mlrun::test::count_entries(dir.home() / "queues" / "cpu" / "pending") == 0);
    CHECK(mlrun::test::count_entries(dir.home() / "queues" / "cpu" / "claimed") == 0);
}

TEST_CASE("agent local: --require-agent refuses a queue no live agent serves; agent stop asks a live one to stop")
{
    TempDir dir;
    REQUIRE(mlrun::test::run(dir, {"queue", "create", "cpu"}).code == 0);
    std::string id = create_task_cli(dir, {"exec", "--set", "command=echo hi"});
    RunResult refused = mlrun::test::run(dir, {"task", "enqueue", id, "--queue", "cpu", "--require-agent"});
    CHECK(refused.code == 2);
    CHECK(refused.err.find("no live agent serves queue \"cpu\"") != std::string::npos);
    CHECK(status_of(dir, id) == "draft");
    CHECK(mlrun::test::run(dir, {"agent", "stop", "nobody"}).code == 2);

    AgentProcess agent(dir, Broker{}, {"--queue", "cpu", "--name", "idle"});
    REQUIRE(eventually(
        [&] {
            return mlrun::test::run(dir, {"agent", "list"}).out.find("idle") != std::string::npos;
        },
        10'000));
    RunResult stop = mlrun::test::run(dir, {"agent", "stop", "idle", "--drain", "--timeout", "10"});
    CHECK(stop.code == 0);
    ExitStatus st = agent.wait(10'000);
    CHECK_FALSE(st.timed_out);
    CHECK(st.exit_code == 0);
    CHECK(mlrun::test::run(dir, {"agent", "list"}).out.find("idle") == std::string::npos);
}

TEST_CASE("agent local: a child that always crashes is requeued as agent_lost, then dead-lettered; dlq --requeue")
{
    TempDir dir;
    REQUIRE(mlrun::test::run(dir, {"queue", "create", "cpu"}).code == 0);
    const std::string ppid_file = (dir / "ppid").string();
    std::string id = create_task_cli(dir, {"exec", "--set", "command=echo $PPID > " + ppid_file + "; sleep 20"});
    REQUIRE(mlrun::test::run(dir, {"task", "enqueue", id, "--queue", "cpu"}).code == 0);
    AgentProcess agent(dir, Broker{}, {"--queue", "cpu", "--lease", "5"});
    for (int attempt = 1; attempt <= 3; ++attempt) {
        CAPTURE(attempt);
        REQUIRE(eventually([&] { return !mlrun::test::trim(mlrun::test::read_text(ppid_file)).empty(); }, 20'000));
        int child = std::stoi(mlrun::test::read_text(ppid_file));
        std::filesystem::remove(ppid_file);
        ::kill(child, SIGKILL); // `mlrun task run` dies without ending its record
        if (attempt < 3) {
            REQUIRE(eventually([&] { return status_of(dir, id) == "queued" || status_of(dir, id) == "in_progress"; },
                               5'000));
        }
    }
    REQUIRE(eventually([&] { return status_of(dir, id) == "failed"; }, 10'000));
    agent.signal(SIGTERM);
    CHECK(agent.wait(10'000).exit_code == 0);
    Json t = show_json(dir, id);
    CHECK(t["attempts"] == 3);
    CHECK(t["error_class"] == "agent_lost");
    CHECK(t["attempt_errors"].size() == 3);
    RunResult dlq = mlrun::test::run(dir, {"queue", "dlq", "cpu"});
    CHECK(dlq.out.find(id) != std::string::npos);
    CHECK(dlq.out.find("3: agent_lost") != std::string::npos);
    CHECK(mlrun::test::run(dir, {"queue", "dlq", "cpu", "--requeue", id}).code == 0);
    CHECK(status_of(dir, id) == "queued");
    CHECK(mlrun::test::run(dir, {"queue", "dlq", "cpu"}).out.find(id) == std::string::npos);
    CHECK(mlrun::test::run(dir, {"queue", "dlq", "cpu", "--requeue", id}).code == 2);
}

TEST_CASE("agent local: fencing - a SIGSTOPped agent's child cannot overwrite the task another agent ran")
{
    TempDir dir;
    REQUIRE(mlrun::test::run(dir, {"queue", "create", "cpu"}).code == 0);
    const std::string first = (dir / "first").string();
    const std::string first_done = (dir / "first-done").string();
    // The first attempt sleeps 6 s, the second 1 s: the stale child ends after the new one.
    std::string id = create_task_cli(dir, {"exec", "--set",
                                           "command=if [ -e " + first + " ]; then sleep 1; else touch " + first
                                               + "; sleep 6; touch " + first_done + "; fi"});
    REQUIRE(mlrun::test::run(dir, {"task", "enqueue", id, "--queue", "cpu"}).code == 0);
    AgentProcess paused(dir, Broker{}, {"--queue", "cpu", "--lease", "1", "--name", "paused"});
    REQUIRE(eventually([&] { return std::filesystem::exists(first); }, 20'000));
    paused.signal(SIGSTOP);
    const std::int64_t first_epoch = show_json(dir, id)["lease_epoch"].get<std::int64_t>();

    AgentProcess second(dir, Broker{}, {"--queue", "cpu", "--lease", "1", "--once", "--name", "second"});
    ExitStatus st = second.wait(30'000);
    CAPTURE(second.output());
    CHECK(st.exit_code == 0);
    Json done = show_json(dir, id);
    CHECK(done["status"] == "completed");
    CHECK(done["attempts"] == 2);
    CHECK(done["lease_epoch"].get<std::int64_t>() > first_epoch);

    // The stale child (its agent still stopped) ends now: its end write is refused.
    REQUIRE(eventually([&] { return std::filesystem::exists(first_done); }, 20'000));
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    paused.signal(SIGCONT);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    paused.signal(SIGTERM);
    ExitStatus stopped = paused.wait(10'000);
    CAPTURE(paused.output());
    CHECK(stopped.exit_code == 0);
    Json t = show_json(dir, id);
    CAPTURE(t.dump());
    CHECK(t["status"] == "completed");
    CHECK(t["attempts"] == 2);
    CHECK(t["started_ms"] == done["started_ms"]);
    CHECK(t["finished_ms"] == done["finished_ms"]);
    CHECK(t["lease_epoch"] == done["lease_epoch"]);
}

TEST_CASE("agent redis: clone --queue completed by an agent; SIGKILL replaced; SIGTERM drains")
{
    RedisServer server;
    Broker broker = redis_broker(server);
    SUBCASE("once")
    {
        once_completes(broker);
    }
    SUBCASE("killed")
    {
        killed_agent_is_replaced(broker);
    }
    SUBCASE("drain")
    {
        sigterm_drains(broker);
    }
}

TEST_CASE("agent redis: bad broker URIs are one line, exit 2, password masked")
{
    RedisServer server("s3cret");
    TempDir dir;
    auto check = [&](const std::string& uri, const std::string& must_contain) {
        RunResult r = mlrun::test::run(dir, {"--broker", uri, "queue", "list"});
        CAPTURE(uri);
        CAPTURE(r.err);
        CHECK(r.code == 2);
        CHECK(mlrun::test::lines_of(r.err).size() == 1);
        CHECK(r.err.find("s3cret") == std::string::npos);
        CHECK(r.err.find("wrongpw") == std::string::npos);
        CHECK(r.err.find(must_contain) != std::string::npos);
    };
    const std::string port = std::to_string(server.port());
    check("redis://:wrongpw@127.0.0.1:" + port + "/0", "***");
    check("rediss://:s3cret@127.0.0.1:" + port + "/0", "TLS");
    check("redis://:wrongpw@127.0.0.1:1/0", "***"); // nothing listens on port 1
    check("redis://127.0.0.1:" + port + "/notadb", "redis://");
    // The right password works, through --broker and through MLRUN_BROKER.
    CHECK(mlrun::test::run(dir, {"--broker", server.uri(), "queue", "create", "cpu"}).code == 0);
    RunResult env = mlrun::test::run(dir, {"queue", "list"}, {{"MLRUN_BROKER", server.uri()}});
    CHECK(env.code == 0);
    CHECK(env.out.find("cpu") != std::string::npos);
    CHECK(mlrun::test::run(dir, {"queue", "list"}).out.find("cpu") == std::string::npos); // local: none
}
