// `mlrun pipeline run FILE --queue Q` end to end with real processes: the controller (the
// mlrun CLI, or a child of the test when it is to be killed), `mlrun agent daemon` children
// running each step as `mlrun task run`, on the local queue and on a real redis-server.
// Every exec step appends its name to a count file, so "ran once" is checked, not assumed.
// Faults: the controller SIGKILLed mid-run (--resume adopts the steps in flight), and
// redis-server killed and restarted mid-run. Every wait is bounded.
#include "redis_server.hpp"
#include "test_util.hpp"

#include "platform/subprocess.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <functional>
#include <map>
#include <optional>
#include <thread>

using namespace mlrun;
using mlrun::test::RedisServer;
using mlrun::test::RunResult;
using mlrun::test::TempDir;

namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

struct Broker {
    std::vector<std::string> flags; // none: the local queue
};

RunResult cli(const TempDir& dir, const Broker& broker, std::vector<std::string> args)
{
    std::vector<std::string> full = broker.flags;
    full.insert(full.end(), args.begin(), args.end());
    return mlrun::test::run(dir, full, {{"MLRUN_BROKER", ""}, {"MLRUN_QUEUE_URI", ""}});
}

// A child mlrun process of the test (an agent daemon, or a controller to kill).
class MlrunProcess {
public:
    MlrunProcess(const TempDir& dir, const Broker& broker, const std::vector<std::string>& args,
                 std::vector<std::string> prefix = {})
    {
        SubprocessOptions options;
        options.argv = std::move(prefix);
        options.argv.push_back(MLRUN_BIN);
        options.argv.insert(options.argv.end(), broker.flags.begin(), broker.flags.end());
        options.argv.insert(options.argv.end(), args.begin(), args.end());
        options.env = {{"MLRUN_HOME", dir.home().string()}, {"MLRUN_BROKER", ""}, {"MLRUN_QUEUE_URI", ""}};
        options.cwd = dir.path();
        m_child.emplace(Subprocess::spawn(options));
    }
    ~MlrunProcess()
    {
        if (m_child && !m_waited) {
            signal(SIGTERM);
            wait(15'000);
        }
    }
    MlrunProcess(const MlrunProcess&) = delete;
    MlrunProcess& operator=(const MlrunProcess&) = delete;

    void signal(int sig) const { ::kill(m_child->pid(), sig); }
    ExitStatus wait(int timeout_ms)
    {
        m_waited = true;
        return m_child->wait([this](std::string_view line) { m_output += std::string(line) + "\n"; }, timeout_ms);
    }
    const std::string& output() const { return m_output; }

private:
    std::optional<Subprocess> m_child;
    std::string m_output;
    bool m_waited = false;
};

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

// The lines of the count file (one per execution of a step).
std::map<std::string, int> executions(const TempDir& dir)
{
    std::map<std::string, int> n;
    std::error_code ec;
    if (!fs::exists(dir / "count", ec)) {
        return n;
    }
    for (const std::string& line : mlrun::test::lines_of(mlrun::test::read_text(dir / "count"))) {
        if (!line.empty()) {
            ++n[line];
        }
    }
    return n;
}

// An exec step that appends its name to the count file, sleeps, and logs value v.
std::string exec_step(const TempDir& dir, const std::string& name, const std::string& extra, double sleep_s,
                      const std::string& value, int exit_code = 0)
{
    std::string command = "echo " + name + " >> " + (dir / "count").string() + "; sleep " + std::to_string(sleep_s)
                          + "; echo '{\\\"name\\\":\\\"v\\\",\\\"value\\\":\\\"" + value
                          + "\\\"}' > $MLRUN_OUTPUT_DIR/metrics.jsonl; exit " + std::to_string(exit_code);
    return "  - name: " + name + "\n    template: exec\n" + extra + "    params:\n      command: \"" + command + "\"\n";
}

// prep -> b1, b2 (queue gpu), broken (optional, fails) -> join (all_done).
fs::path write_pipeline(const TempDir& dir, double sleep_s = 0.1)
{
    std::string yaml = "name: remote-test\nproject: tests\nparallelism: 3\npolicy: partial\nsteps:\n";
    yaml += exec_step(dir, "prep", "", sleep_s, "p");
    yaml += exec_step(dir, "b1", "    parents: [prep]\n", sleep_s, "one");
    yaml += exec_step(dir, "b2", "    parents: [prep]\n    queue: gpu\n", sleep_s, "two");
    yaml += exec_step(dir, "broken", "    parents: [prep]\n    optional: true\n", 0, "x", 3);
    yaml += exec_step(dir, "join", "    parents: [b1, b2, broken]\n    trigger: all_done\n", 0, "j");
    fs::path file = dir / "remote.yaml";
    mlrun::test::write_text(file, yaml);
    return file;
}

// "run <id> <status>..." of a pipeline run's output.
std::string run_id_of(const std::string& out)
{
    for (const std::string& line : mlrun::test::lines_of(out)) {
        if (line.rfind("run ", 0) == 0) {
            return line.substr(4, line.find(' ', 4) - 4);
        }
    }
    return "";
}

// node name -> "state value" of a run, from the store.
std::map<std::string, std::string> outcome_of(const TempDir& dir, const Broker& broker, const std::string& run)
{
    RunResult show = cli(dir, broker, {"pipeline", "show", run, "--json"});
    REQUIRE(show.code == 0);
    std::map<std::string, std::string> out;
    const Json record = Json::parse(show.out);
    for (const Json& n : record["nodes"]) {
        std::string value;
        if (!n.value("task_id", "").empty()) {
            Json t = mlrun::test::show_json(dir, n["task_id"]);
            value = t["values"].is_object() ? t["values"].dump() : "";
        }
        out[n["name"].get<std::string>()] = n["state"].get<std::string>() + " " + value;
    }
    return out;
}

// An exec pipeline on --queue with two agents ends like the same pipeline run here: same
// node states and values, each step run once, every step through an agent (lease epoch),
// b2 on its own queue.
void same_as_local(const Broker& broker)
{
    TempDir dir;
    fs::path file = write_pipeline(dir);
    RunResult local = cli(dir, broker, {"pipeline", "run", file.string(), "-q"});
    CAPTURE(local.err);
    const std::string local_run = run_id_of(local.out);
    REQUIRE(!local_run.empty());
    const std::map<std::string, std::string> expected = outcome_of(dir, broker, local_run);
    CHECK(expected.at("broken").rfind("failed", 0) == 0);
    CHECK(expected.at("join").rfind("completed", 0) == 0);
    fs::remove(dir / "count");

    REQUIRE(cli(dir, broker, {"queue", "create", "cpu"}).code == 0);
    REQUIRE(cli(dir, broker, {"queue", "create", "gpu"}).code == 0);
    MlrunProcess a1(dir, broker, {"agent", "daemon", "--queue", "cpu", "--name", "a1"});
    MlrunProcess a2(dir, broker, {"agent", "daemon", "--queue", "gpu", "--queue", "cpu", "--name", "a2"});
    RunResult remote = cli(dir, broker, {"pipeline", "run", file.string(), "--queue", "cpu", "--no-cache", "-q"});
    CAPTURE(remote.out);
    CAPTURE(remote.err);
    CHECK(remote.code == local.code);
    const std::string remote_run = run_id_of(remote.out);
    REQUIRE(!remote_run.empty());
    CHECK(outcome_of(dir, broker, remote_run) == expected);
    CHECK(executions(dir) == std::map<std::string, int>{{"b1", 1}, {"b2", 1}, {"broken", 1}, {"join", 1}, {"prep", 1}});
    RunResult show = cli(dir, broker, {"pipeline", "show", remote_run, "--json"});
    const Json record = Json::parse(show.out);
    for (const Json& n : record["nodes"]) {
        Json t = mlrun::test::show_json(dir, n["task_id"]);
        CHECK(t["lease_epoch"].get<std::int64_t>() > 0); // claimed by an agent
        CHECK(t["queue"] == (n["name"] == "b2" ? "gpu" : "cpu"));
    }
    a1.signal(SIGTERM);
    a2.signal(SIGTERM);
    CHECK(a1.wait(15'000).exit_code == 0);
    CHECK(a2.wait(15'000).exit_code == 0);
}

// Preflight: an unknown queue (the step's own, or --queue) and --require-agent without a live
// agent are one line and exit 2, and nothing was created or enqueued.
void preflight_refuses(const Broker& broker)
{
    TempDir dir;
    fs::path file = write_pipeline(dir);
    REQUIRE(cli(dir, broker, {"queue", "create", "cpu"}).code == 0);
    RunResult missing = cli(dir, broker, {"pipeline", "run", file.string(), "--queue", "cpu", "-q"});
    CHECK(missing.code == 2);
    CHECK(missing.err.find("unknown queue \"gpu\" (known: cpu)") != std::string::npos);
    CHECK(mlrun::test::lines_of(missing.err).size() == 1);
    RunResult typo = cli(dir, broker, {"pipeline", "run", file.string(), "--queue", "cpuu", "-q"});
    CHECK(typo.code == 2);
    CHECK(typo.err.find("unknown queue") != std::string::npos);
    REQUIRE(cli(dir, broker, {"queue", "create", "gpu"}).code == 0);
    RunResult unserved = cli(dir, broker,
                             {"pipeline", "run", file.string(), "--queue", "cpu", "--require-agent", "-q"});
    CHECK(unserved.code == 2);
    CHECK(unserved.err.find("no live agent serves queue") != std::string::npos);
    RunResult tasks = cli(dir, broker, {"task", "list", "--json"});
    REQUIRE(tasks.code == 0);
    CHECK(Json::parse(tasks.out).empty()); // no step task was created, so none was enqueued
    CHECK(executions(dir).empty());
}

// The controller SIGKILLed while b1/b2 run on agents: `--resume RUN --queue cpu` adopts them
// (no step runs twice) and the run completes.
void resume_adopts(const Broker& broker)
{
    TempDir dir;
    fs::path file = write_pipeline(dir, 3.0);
    REQUIRE(cli(dir, broker, {"queue", "create", "cpu"}).code == 0);
    REQUIRE(cli(dir, broker, {"queue", "create", "gpu"}).code == 0);
    MlrunProcess a1(dir, broker, {"agent", "daemon", "--queue", "cpu", "--name", "a1"});
    MlrunProcess a2(dir, broker, {"agent", "daemon", "--queue", "gpu", "--queue", "cpu", "--name", "a2"});
    std::optional<MlrunProcess> controller;
    controller.emplace(dir, broker,
                       std::vector<std::string>{"pipeline", "run", file.string(), "--queue", "cpu", "--json"});
    REQUIRE(eventually([&] { return executions(dir).count("b1") && executions(dir).count("b2"); }, 30'000));
    controller->signal(SIGKILL);
    controller->wait(10'000);
    std::string run;
    for (const std::string& line : mlrun::test::lines_of(controller->output())) {
        Json e = Json::parse(line, nullptr, false);
        if (e.is_object() && e.contains("run_id")) {
            run = e["run_id"].get<std::string>();
            break;
        }
    }
    CAPTURE(controller->output());
    REQUIRE(!run.empty());
    // Resumed here instead, the steps on agents would run twice: refused, naming the queue.
    RunResult local = cli(dir, broker, {"pipeline", "run", "--resume", run, "-q"});
    CHECK(local.code == 2);
    CHECK(local.err.find("--queue") != std::string::npos);
    RunResult resumed = cli(dir, broker, {"pipeline", "run", "--resume", run, "--queue", "cpu", "-q"});
    CAPTURE(resumed.err);
    CHECK(run_id_of(resumed.out) == run);
    std::map<std::string, std::string> outcome = outcome_of(dir, broker, run);
    CHECK(outcome.at("b1") == "completed {\"v\":\"one\"}");
    CHECK(outcome.at("b2") == "completed {\"v\":\"two\"}");
    CHECK(outcome.at("join").rfind("completed", 0) == 0);
    // The failed optional step may be rerun by the resume (what did not complete is); the
    // steps in flight when the controller died are not.
    std::map<std::string, int> ran = executions(dir);
    CHECK(ran["prep"] == 1);
    CHECK(ran["b1"] == 1);
    CHECK(ran["b2"] == 1);
    CHECK(ran["join"] == 1);
}

} // namespace

TEST_CASE("pipeline remote local: --queue with two agents ends like a local run, each step once")
{
    same_as_local(Broker{});
}

TEST_CASE("pipeline remote local: preflight refuses unknown queues and unserved ones, nothing enqueued")
{
    preflight_refuses(Broker{});
}

TEST_CASE("pipeline remote local: controller SIGKILLed mid-run -> --resume adopts the steps in flight")
{
    resume_adopts(Broker{});
}

TEST_CASE("pipeline remote redis: same as local, preflight, resume adopts")
{
    RedisServer server;
    Broker broker{{"--broker", server.uri()}};
    SUBCASE("same as local")
    {
        same_as_local(broker);
    }
    SUBCASE("preflight")
    {
        preflight_refuses(broker);
    }
    SUBCASE("resume")
    {
        resume_adopts(broker);
    }
}

TEST_CASE("pipeline remote redis: redis-server killed and restarted mid-run -> completes, no step lost or run twice")
{
    RedisServer server;
    Broker broker{{"--broker", server.uri()}};
    TempDir dir;
    fs::path file = write_pipeline(dir, 1.0);
    REQUIRE(cli(dir, broker, {"queue", "create", "cpu"}).code == 0);
    REQUIRE(cli(dir, broker, {"queue", "create", "gpu"}).code == 0);
    MlrunProcess a1(dir, broker, {"agent", "daemon", "--queue", "cpu", "--name", "a1"});
    MlrunProcess a2(dir, broker, {"agent", "daemon", "--queue", "gpu", "--queue", "cpu", "--name", "a2"});
    MlrunProcess controller(dir, broker, {"pipeline", "run", file.string(), "--queue", "cpu", "-q"});
    REQUIRE(eventually([&] { return executions(dir).count("b1") != 0; }, 30'000));
    server.kill(); // from this thread: the server is tied to the thread that started it
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    server.start();
    ExitStatus st = controller.wait(60'000);
    CAPTURE(controller.output());
    CHECK_FALSE(st.timed_out);
    const std::string run = run_id_of(controller.output());
    REQUIRE(!run.empty());
    std::map<std::string, std::string> outcome = outcome_of(dir, broker, run);
    CHECK(outcome.at("b1") == "completed {\"v\":\"one\"}");
    CHECK(outcome.at("b2") == "completed {\"v\":\"two\"}");
    CHECK(outcome.at("join").rfind("completed", 0) == 0);
    CHECK(executions(dir) == std::map<std::string, int>{{"b1", 1}, {"b2", 1}, {"broken", 1}, {"join", 1}, {"prep", 1}});
}
