// Agents beyond one task at a time, end to end with real processes (agents and their
// `mlrun task run` children, on the local queue and on a real redis-server): --workers
// overlap, --gpus assignment, abort reaching the running child, a task delivered twice
// running once, fencing of every output write of a stale attempt (scalars, artifacts, log),
// an exec command never orphaned by a SIGKILLed `mlrun task run`, and queue show|purge|list.
// Every wait is bounded.
#include "redis_server.hpp"
#include "test_util.hpp"

#include "agent/agent.hpp"
#include "app/wiring.hpp"
#include "core/error.hpp"
#include "platform/subprocess.hpp"
#include "ports/queue.hpp"
#include "ports/task_store.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

using namespace mlrun;
using mlrun::test::create_task_cli;
using mlrun::test::read_text;
using mlrun::test::RedisServer;
using mlrun::test::RunResult;
using mlrun::test::show_json;
using mlrun::test::TempDir;
using mlrun::test::trim;

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// The broker flags of a test: none for the local queue, --broker URI for Redis.
struct Broker {
    std::vector<std::string> flags;
};

RunResult cli(const TempDir& dir, const Broker& broker, std::vector<std::string> args)
{
    std::vector<std::string> full = broker.flags;
    full.insert(full.end(), args.begin(), args.end());
    return mlrun::test::run(dir, full);
}

// A child of the test running `mlrun [broker] ARGS...` in its own process group.
class Process {
public:
    Process(const TempDir& dir, const Broker& broker, const std::vector<std::string>& args)
    {
        SubprocessOptions options;
        options.argv = {MLRUN_BIN};
        options.argv.insert(options.argv.end(), broker.flags.begin(), broker.flags.end());
        options.argv.insert(options.argv.end(), args.begin(), args.end());
        options.env = {{"MLRUN_HOME", dir.home().string()}, {"MLRUN_BROKER", ""}, {"MLRUN_QUEUE_URI", ""}};
        options.cwd = dir.path();
        m_child.emplace(Subprocess::spawn(options));
    }

    int pid() const { return m_child->pid(); }
    void signal(int sig) const { ::kill(m_child->pid(), sig); }
    ExitStatus wait(int timeout_ms)
    {
        return m_child->wait([this](std::string_view line) { m_output += std::string(line) + "\n"; }, timeout_ms);
    }
    const std::string& output() const { return m_output; }

private:
    std::optional<Subprocess> m_child;
    std::string m_output;
};

Process agent(const TempDir& dir, const Broker& broker, std::vector<std::string> args)
{
    args.insert(args.begin(), {"agent", "daemon"});
    return Process(dir, broker, args);
}

bool eventually(const std::function<bool()>& done, int timeout_ms)
{
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
        if (done()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
}

// Gone, or a zombie: it runs no more.
bool process_gone(int pid)
{
    if (::kill(pid, 0) != 0) {
        return true;
    }
    std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    std::size_t close = stat.rfind(')');
    return close == std::string::npos || (close + 2 < stat.size() && stat[close + 2] == 'Z');
}

std::string status_of(const TempDir& dir, const std::string& id)
{
    return show_json(dir, id)["status"].get<std::string>();
}

bool has_text(const std::string& path)
{
    return !trim(read_text(path)).empty();
}

std::int64_t number_in(const std::string& path)
{
    return std::stoll(trim(read_text(path)));
}

std::set<std::string> artifact_names(const Json& task)
{
    std::set<std::string> names;
    for (const Json& a : task.value("artifacts", Json::array())) {
        names.insert(a["name"].get<std::string>());
    }
    return names;
}

// Two tasks on one agent with --workers 2 (and --gpus 0,1) run at the same time: each
// writes its start and end (ns) and its CUDA_VISIBLE_DEVICES; the intervals overlap, the
// devices differ, and `agent list` shows both tasks while they run.
void two_workers_overlap(const Broker& broker)
{
    TempDir dir;
    REQUIRE(cli(dir, broker, {"queue", "create", "cpu"}).code == 0);
    std::vector<std::string> ids;
    for (int i = 0; i < 2; ++i) {
        const std::string f = (dir / ("t" + std::to_string(i))).string();
        ids.push_back(create_task_cli(dir, {"exec", "--set",
                                            "command=date +%s%N > " + f + ".start; echo $CUDA_VISIBLE_DEVICES > " + f
                                                + ".gpu; sleep 1.2; date +%s%N > " + f + ".end"}));
        REQUIRE(cli(dir, broker, {"task", "enqueue", ids.back(), "--queue", "cpu"}).code == 0);
    }
    Process a = agent(dir, broker, {"--queue", "cpu", "--workers", "2", "--gpus", "0,1", "--name", "w2"});
    REQUIRE(eventually([&] { return has_text((dir / "t0.start").string()) && has_text((dir / "t1.start").string()); },
                       20'000));
    RunResult listed = cli(dir, broker, {"agent", "list"});
    CHECK(listed.out.find(ids[0]) != std::string::npos);
    CHECK(listed.out.find(ids[1]) != std::string::npos);
    REQUIRE(eventually([&] { return status_of(dir, ids[0]) == "completed" && status_of(dir, ids[1]) == "completed"; },
                       20'000));
    a.signal(SIGTERM);
    ExitStatus st = a.wait(10'000);
    CAPTURE(a.output());
    CHECK(st.exit_code == 0);
    const std::int64_t s0 = number_in((dir / "t0.start").string()), e0 = number_in((dir / "t0.end").string());
    const std::int64_t s1 = number_in((dir / "t1.start").string()), e1 = number_in((dir / "t1.end").string());
    CHECK(s0 < e1); // each started before the other ended: they overlapped
    CHECK(s1 < e0);
    std::set<std::string> gpus = {trim(read_text(dir / "t0.gpu")), trim(read_text(dir / "t1.gpu"))};
    CHECK(gpus == std::set<std::string>{"0", "1"});
}

// One task pushed to two queues that one agent (two workers) serves: both deliveries are
// claimed at about the same time, the body runs once, the other delivery is acked.
void delivered_twice_runs_once(const Broker& broker)
{
    TempDir dir;
    REQUIRE(cli(dir, broker, {"queue", "create", "cpu"}).code == 0);
    REQUIRE(cli(dir, broker, {"queue", "create", "gpu"}).code == 0);
    const std::string runs = (dir / "runs").string();
    std::string id = create_task_cli(dir, {"exec", "--set", "command=echo run >> " + runs + "; sleep 1"});
    REQUIRE(cli(dir, broker, {"task", "enqueue", id, "--queue", "cpu"}).code == 0);
    {
        BackendOptions options;
        options.home = dir.home().string();
        if (!broker.flags.empty()) {
            options.queue = broker.flags[1];
        }
        Backends b = open_backends(options);
        b.queue->push("gpu", id); // the duplicate, as at-least-once delivery allows
    }
    Process a = agent(dir, broker, {"--queue", "cpu", "--queue", "gpu", "--workers", "2", "--max-idle", "2"});
    ExitStatus st = a.wait(30'000);
    CAPTURE(a.output());
    CHECK_FALSE(st.timed_out);
    CHECK(st.exit_code == 0);
    CHECK(mlrun::test::lines_of(read_text(runs)).size() == 1);
    Json t = show_json(dir, id);
    CHECK(t["status"] == "completed");
    CHECK(t["attempts"] == 1);
    CHECK(a.output().find("acked, not run again") != std::string::npos);
    RunResult list = cli(dir, broker, {"queue", "list"});
    CAPTURE(list.out);
    int rows = 0;
    for (const std::string& line : mlrun::test::lines_of(list.out)) {
        std::istringstream in(line);
        std::string name, pending, running;
        in >> name >> pending >> running;
        if (name == "cpu" || name == "gpu") {
            ++rows;
            CHECK(pending == "0"); // both deliveries consumed
            CHECK(running == "0");
        }
    }
    CHECK(rows == 2);
}

// `mlrun task abort` of a task an agent runs: the command (exec'd as the group leader) is
// gone within a second, the task stays aborted, the agent acks it.
void abort_reaches_child(const Broker& broker)
{
    TempDir dir;
    REQUIRE(cli(dir, broker, {"queue", "create", "cpu"}).code == 0);
    const std::string pid_file = (dir / "pid").string();
    std::string id = create_task_cli(dir, {"exec", "--set", "command=echo $$ > " + pid_file + "; exec sleep 60"});
    REQUIRE(cli(dir, broker, {"task", "enqueue", id, "--queue", "cpu"}).code == 0);
    Process a = agent(dir, broker, {"--queue", "cpu", "--once"});
    REQUIRE(eventually([&] { return has_text(pid_file); }, 20'000));
    const int sleeper = static_cast<int>(number_in(pid_file));
    REQUIRE_FALSE(process_gone(sleeper));
    RunResult aborted = cli(dir, broker, {"task", "abort", id});
    REQUIRE(aborted.code == 0);
    const auto t0 = Clock::now();
    CHECK(eventually([&] { return process_gone(sleeper); }, 3'000));
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    CAPTURE(took);
    CHECK(took <= 1000);
    ExitStatus st = a.wait(10'000);
    CAPTURE(a.output());
    CHECK(st.exit_code == 0);
    CHECK(status_of(dir, id) == "aborted");
}

Broker redis_broker(const RedisServer& server)
{
    return Broker{{"--broker", server.uri()}};
}

} // namespace

TEST_CASE("agent gpus: --gpus spread over --workers, documented assignment; bad lists are UsageError")
{
    CHECK(assign_gpus("", 3).empty());
    CHECK(assign_gpus("0,1", 1) == std::vector<std::string>{"0,1"});
    CHECK(assign_gpus("0,1,2,3", 2) == std::vector<std::string>{"0,1", "2,3"});
    CHECK(assign_gpus("0,1,3", 2) == std::vector<std::string>{"0,1", "3"});
    CHECK(assign_gpus("4,5", 3) == std::vector<std::string>{"4", "5", "4"});
    CHECK(assign_gpus("07", 1) == std::vector<std::string>{"7"});
    for (const char* bad : {"a", "0,", ",1", "0,,1", "-1", "0,0", "1.5", "0 1"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(assign_gpus(bad, 2), UsageError);
    }
    CHECK_THROWS_AS(assign_gpus("0", 0), UsageError);

    TempDir dir;
    REQUIRE(mlrun::test::run(dir, {"queue", "create", "cpu"}).code == 0);
    RunResult r = mlrun::test::run(dir, {"agent", "daemon", "--queue", "cpu", "--gpus", "0,x", "--once"});
    CHECK(r.code == 2);
    CHECK(mlrun::test::lines_of(r.err).size() == 1);
    CHECK(r.err.find("--gpus") != std::string::npos);
}

TEST_CASE("agent local: --workers 2 runs two tasks at once, each with its own GPU")
{
    two_workers_overlap(Broker{});
}

TEST_CASE("agent local: a task delivered twice (two queues) runs once")
{
    delivered_twice_runs_once(Broker{});
}

TEST_CASE("agent local: task abort reaches the running child within 1 s")
{
    abort_reaches_child(Broker{});
}

TEST_CASE("agent redis: --workers overlap, a duplicate delivery runs once, abort within 1 s")
{
    RedisServer server;
    Broker broker = redis_broker(server);
    SUBCASE("workers")
    {
        two_workers_overlap(broker);
    }
    SUBCASE("duplicate")
    {
        delivered_twice_runs_once(broker);
    }
    SUBCASE("abort")
    {
        abort_reaches_child(broker);
    }
}

TEST_CASE("agent local: fencing of every write - a stale attempt's scalars, artifacts and log never reach the task")
{
    TempDir dir;
    REQUIRE(mlrun::test::run(dir, {"queue", "create", "cpu"}).code == 0);
    const std::string first = (dir / "first").string();
    const std::string stale_pid = (dir / "stale-pid").string();
    const std::string stale_done = (dir / "stale-done").string();
    // Attempt 1 writes a file at once, sleeps past its lease (its agent is stopped), then
    // writes scalars (metrics.jsonl and `mlrun log scalar`), an artifact and a log line.
    // Attempt 2 writes its own scalar and artifact and is done in a moment.
    const std::string command =
        "if [ -e " + first
        + " ]; then "
          "echo fresh-line; echo fresh > $MLRUN_OUTPUT_DIR/fresh.txt; "
          "echo '{\"title\":\"fresh\",\"series\":\"s\",\"iteration\":1,\"value\":2}' > "
          "$MLRUN_OUTPUT_DIR/metrics.jsonl; "
          "else touch "
        + first + "; echo $PPID > " + stale_pid
        + "; echo early > $MLRUN_OUTPUT_DIR/early.txt; sleep 5; "
          "$MLRUN_BIN log scalar stale_cli s 1 1 >/dev/null 2>&1; " // its refusal printed would end the run early
          "echo stale > $MLRUN_OUTPUT_DIR/stale.txt; "
          "echo '{\"title\":\"stale\",\"series\":\"s\",\"iteration\":1,\"value\":1}' > "
          "$MLRUN_OUTPUT_DIR/metrics.jsonl; "
          "touch "
        + stale_done + "; echo stale-line; fi";
    std::string id = create_task_cli(dir, {"exec", "--set", "command=" + command});
    REQUIRE(mlrun::test::run(dir, {"task", "enqueue", id, "--queue", "cpu"}).code == 0);
    Process paused = agent(dir, Broker{}, {"--queue", "cpu", "--lease", "1", "--name", "paused"});
    REQUIRE(eventually([&] { return has_text(stale_pid); }, 20'000));
    paused.signal(SIGSTOP);
    const int stale_child = static_cast<int>(number_in(stale_pid));

    Process second = agent(dir, Broker{}, {"--queue", "cpu", "--lease", "1", "--once", "--name", "second"});
    ExitStatus st = second.wait(30'000);
    CAPTURE(second.output());
    CHECK(st.exit_code == 0);
    Json done = show_json(dir, id);
    REQUIRE(done["status"] == "completed");
    CHECK(done["attempts"] == 2);
    // No file of attempt 1 among attempt 2's outputs: each attempt has its own work folder.
    CHECK(artifact_names(done) == std::set<std::string>{"fresh.txt"});

    // The stale attempt goes on (its agent is stopped, its child is not) and ends.
    REQUIRE(eventually([&] { return std::filesystem::exists(stale_done); }, 20'000));
    CHECK(eventually([&] { return process_gone(stale_child); }, 10'000));
    paused.signal(SIGCONT);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    paused.signal(SIGTERM);
    ExitStatus stopped = paused.wait(10'000);
    CAPTURE(paused.output());
    CHECK(stopped.exit_code == 0);

    Json t = show_json(dir, id);
    CAPTURE(t.dump());
    CHECK(t["status"] == "completed");
    CHECK(t["lease_epoch"] == done["lease_epoch"]);
    CHECK(t["finished_ms"] == done["finished_ms"]);
    CHECK(artifact_names(t) == std::set<std::string>{"fresh.txt"});
    const std::filesystem::path task_dir = dir.home() / "tasks" / id;
    CHECK_FALSE(std::filesystem::exists(task_dir / "artifacts" / "stale.txt"));
    CHECK_FALSE(std::filesystem::exists(task_dir / "artifacts" / "early.txt"));
    std::string scalars; // through the port: the store keeps them in its database
    {
        BackendOptions options;
        options.home = dir.home().string();
        Backends b = open_backends(options);
        for (const mlrun::Scalar& s : b.store->read_scalars(id)) {
            scalars += s.title + "\n";
        }
    }
    CAPTURE(scalars);
    CHECK(scalars.find("fresh") != std::string::npos);
    CHECK(scalars.find("stale") == std::string::npos);
    const std::string log = read_text(task_dir / "log.txt");
    CHECK(log.find("fresh-line") != std::string::npos);
    CHECK(log.find("stale-line") == std::string::npos);
}

TEST_CASE("exec: SIGKILL of `mlrun task run` takes the command's whole group with it")
{
    TempDir dir;
    for (bool background : {false, true}) {
        CAPTURE(background);
        const std::string pid_file = (dir / (background ? "bg-pid" : "fg-pid")).string();
        // In the foreground the shell execs sleep; in the background sleep is the shell's child.
        const std::string command = background ? "sleep 100 & echo $! > " + pid_file + "; wait"
                                               : "echo $$ > " + pid_file + "; exec sleep 100";
        std::string id = create_task_cli(dir, {"exec", "--set", "command=" + command});
        Process run(dir, Broker{}, {"task", "run", "-q", id});
        REQUIRE(eventually([&] { return has_text(pid_file); }, 20'000));
        const int sleeper = static_cast<int>(number_in(pid_file));
        REQUIRE_FALSE(process_gone(sleeper));
        run.signal(SIGKILL); // the process only, not its group
        CHECK(run.wait(5'000).signaled);
        CHECK(eventually([&] { return process_gone(sleeper); }, 1'000));
        if (!process_gone(sleeper)) {
            ::kill(sleeper, SIGKILL);
        }
    }
}

TEST_CASE("queue show|purge|list: pending, running, dead letters and the agents serving")
{
    TempDir dir;
    REQUIRE(mlrun::test::run(dir, {"queue", "create", "cpu"}).code == 0);
    std::vector<std::string> ids;
    for (int i = 0; i < 2; ++i) {
        ids.push_back(create_task_cli(dir, {"exec", "--set", "command=echo " + std::to_string(i)}));
        REQUIRE(mlrun::test::run(dir, {"task", "enqueue", ids.back(), "--queue", "cpu"}).code == 0);
    }
    RunResult shown = mlrun::test::run(dir, {"queue", "show", "cpu"});
    REQUIRE(shown.code == 0);
    CAPTURE(shown.out);
    CHECK(shown.out.find("pending:  2") != std::string::npos);
    CHECK(shown.out.find(ids[0]) != std::string::npos);
    CHECK(shown.out.find(ids[1]) != std::string::npos);
    CHECK(shown.out.find("agents:   0") != std::string::npos);
    RunResult unknown = mlrun::test::run(dir, {"queue", "show", "cpx"});
    CHECK(unknown.code == 2);
    CHECK(unknown.err.find("did you mean cpu") != std::string::npos);

    RunResult list = mlrun::test::run(dir, {"queue", "list"});
    CAPTURE(list.out);
    CHECK(list.out.find("RUNNING") != std::string::npos);
    CHECK(list.out.find("AGENTS") != std::string::npos);

    RunResult purged = mlrun::test::run(dir, {"queue", "purge", "cpu"});
    CHECK(purged.code == 0);
    CHECK(mlrun::test::lines_of(purged.out).size() == 2);
    CHECK(status_of(dir, ids[0]) == "draft");
    CHECK(status_of(dir, ids[1]) == "draft");
    CHECK(mlrun::test::run(dir, {"queue", "show", "cpu"}).out.find("pending:  0") != std::string::npos);
    CHECK(mlrun::test::run(dir, {"queue", "purge", "nope"}).code == 2);

    // A live agent is listed as serving; the task it runs shows as running.
    const std::string started = (dir / "started").string();
    std::string id = create_task_cli(dir, {"exec", "--set", "command=touch " + started + "; sleep 2"});
    REQUIRE(mlrun::test::run(dir, {"task", "enqueue", id, "--queue", "cpu"}).code == 0);
    Process a = agent(dir, Broker{}, {"--queue", "cpu", "--name", "server1", "--once"});
    REQUIRE(eventually([&] { return std::filesystem::exists(started); }, 20'000));
    RunResult busy = mlrun::test::run(dir, {"queue", "show", "cpu"});
    CAPTURE(busy.out);
    CHECK(busy.out.find("running:  1  " + id) != std::string::npos);
    CHECK(busy.out.find("server1") != std::string::npos);
    CHECK(mlrun::test::run(dir, {"queue", "list"}).out.find("server1") != std::string::npos);
    CHECK(a.wait(20'000).exit_code == 0);
}
