// The PostgreSQL store end to end with real processes (DESIGN §6): `--home postgresql://...`
// (or MLRUN_HOME) plus an artifact root folder. A local pipeline run of exec steps completes
// and `task list` / `pipeline show` read it back; two `mlrun agent daemon` processes sharing
// the store, with a real Redis broker, complete the clones queued for them between them; bad
// store URIs are one line, exit 2, password masked. Every wait is bounded.
#include "pg_server.hpp"
#include "redis_server.hpp"
#include "test_util.hpp"

#include "platform/subprocess.hpp"
#include "store/postgres_store.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <functional>
#include <optional>
#include <set>
#include <thread>

using namespace mlrun;
using mlrun::test::PgDatabase;
using mlrun::test::PgServer;
using mlrun::test::RedisServer;
using mlrun::test::RunResult;
using mlrun::test::TempDir;

namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

const std::string k_templates = std::string(MLRUN_SOURCE_DIR) + "/templates";

// `mlrun --templates <source>/templates [broker flags] ARGS` in `dir` on the store `home`.
RunResult mlrun_on(const TempDir& dir, const std::string& home, std::vector<std::string> args,
                   const std::vector<std::string>& flags = {})
{
    args.insert(args.begin(), flags.begin(), flags.end());
    args.insert(args.begin(), {"--templates", k_templates});
    return mlrun::test::run(dir, args, {{"MLRUN_HOME", home}, {"MLRUN_BROKER", ""}, {"MLRUN_ARTIFACT_ROOT", ""}});
}

// An agent daemon on the store `home`, a child of the test (its own process group).
class AgentProcess {
public:
    AgentProcess(const TempDir& dir, const std::string& home, const std::vector<std::string>& args)
    {
        SubprocessOptions options;
        options.argv = {MLRUN_BIN, "agent", "daemon"};
        options.argv.insert(options.argv.end(), args.begin(), args.end());
        options.env = {{"MLRUN_HOME", home}, {"MLRUN_BROKER", ""}, {"MLRUN_QUEUE_URI", ""}};
        options.cwd = dir.path();
        m_child.emplace(Subprocess::spawn(options));
    }

    void signal(int sig) const { ::kill(m_child->pid(), sig); }
    // Waits for the exit (at most timeout_ms, then the group is killed); output in output().
    ExitStatus wait(int timeout_ms)
    {
        return m_child->wait([this](std::string_view line) { m_output += std::string(line) + "\n"; }, timeout_ms);
    }
    const std::string& output() const { return m_output; }

private:
    std::optional<Subprocess> m_child;
    std::string m_output;
};

// Polls `done` every 50 ms for at most timeout_ms.
bool eventually(const std::function<bool()>& done, int timeout_ms)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
}

// The run id printed by `pipeline run` ("run <id> <status>...").
std::string run_id_of(const std::string& out)
{
    for (const std::string& line : mlrun::test::lines_of(out)) {
        if (line.rfind("run ", 0) == 0) {
            std::string rest = line.substr(4);
            return rest.substr(0, rest.find(' '));
        }
    }
    return "";
}

} // namespace

TEST_CASE("postgres cli: a local pipeline run of exec steps on a PostgreSQL store; task list and pipeline show read it")
{
    PgDatabase db;
    TempDir dir;
    mlrun::test::write_text(dir / "p.yaml", R"(name: pgpipe
project: pgproj
steps:
  - {name: prep, template: exec, params: {command: "echo preparing"}}
  - name: train
    template: exec
    parents: [prep]
    foreach: {seed: [1, 2]}
    params: {command: "mlrun log scalar loss train 1 0.5 && echo trained"}
  - {name: report, template: exec, parents: [train], params: {command: "echo reported"}}
)");
    RunResult r = mlrun_on(dir, db.uri(), {"pipeline", "run", "-q", (dir / "p.yaml").string()});
    CAPTURE(r.out);
    CAPTURE(r.err);
    REQUIRE(r.code == 0);
    const std::string run_id = run_id_of(r.out);
    REQUIRE_FALSE(run_id.empty());

    RunResult list = mlrun_on(dir, db.uri(), {"task", "list", "--run", run_id, "--json"});
    REQUIRE(list.code == 0);
    Json tasks = Json::parse(list.out);
    REQUIRE(tasks.size() == 4);
    std::set<std::string> steps;
    for (const Json& t : tasks) {
        steps.insert(t["step"].get<std::string>());
        CHECK(t["status"] == "completed");
        CHECK(t["project"] == "pgproj");
        // Logs live under the artifact root, never in the working folder's default store.
        const std::string id = t["id"].get<std::string>();
        CHECK(mlrun::test::read_text(db.artifacts() / "tasks" / id / "log.txt").find("ed") != std::string::npos);
    }
    CHECK(steps == std::set<std::string>{"prep", "train::1", "train::2", "report"});
    CHECK_FALSE(fs::exists(dir.home()));

    RunResult show = mlrun_on(dir, db.uri(), {"pipeline", "show", run_id});
    CAPTURE(show.err);
    REQUIRE(show.code == 0);
    CHECK(show.out.find("train::2") != std::string::npos);
    CHECK(show.out.find("completed") != std::string::npos);
    // A scalar an exec step logged through `mlrun log` (its MLRUN_HOME is the store's URI).
    std::string train_id;
    for (const Json& t : tasks) {
        if (t["step"] == "train::1") {
            train_id = t["id"].get<std::string>();
        }
    }
    std::vector<Scalar> scalars = PostgresStore(db.uri()).read_scalars(train_id);
    REQUIRE(scalars.size() == 1);
    CHECK(scalars[0].title == "loss");
    CHECK(scalars[0].value == doctest::Approx(0.5));
    CHECK(mlrun::test::read_text(db.artifacts() / "tasks" / train_id / "log.txt").find("trained") != std::string::npos);
}

TEST_CASE("postgres cli: two agent daemons sharing a PostgreSQL store and a Redis broker complete the queued clones")
{
    constexpr int k_tasks = 6;
    PgDatabase db;
    RedisServer redis;
    TempDir dir;
    const std::vector<std::string> broker{"--broker", redis.uri()};
    REQUIRE(mlrun_on(dir, db.uri(), {"queue", "create", "q"}, broker).code == 0);
    RunResult source = mlrun_on(dir, db.uri(),
                                {"task", "create", "exec", "--set", "command=echo on-an-agent; sleep 0.5"});
    REQUIRE(source.code == 0);
    const std::string source_id = mlrun::test::trim(source.out);
    std::vector<std::string> ids;
    for (int i = 0; i < k_tasks; ++i) {
        RunResult clone = mlrun_on(dir, db.uri(), {"task", "clone", source_id, "--queue", "q"}, broker);
        CAPTURE(clone.err);
        REQUIRE(clone.code == 0);
        ids.push_back(mlrun::test::trim(clone.out));
    }

    AgentProcess a1(dir, db.uri(), {"--broker", redis.uri(), "--queue", "q", "--name", "pg-a1"});
    AgentProcess a2(dir, db.uri(), {"--broker", redis.uri(), "--queue", "q", "--name", "pg-a2"});
    auto completed = [&] {
        RunResult list = mlrun_on(dir, db.uri(), {"task", "list", "--status", "completed", "--json"});
        return list.code == 0 ? Json::parse(list.out).size() : 0;
    };
    CHECK(eventually([&] { return completed() == static_cast<std::size_t>(k_tasks); }, 60'000));
    a1.signal(SIGTERM);
    a2.signal(SIGTERM);
    ExitStatus s1 = a1.wait(20'000);
    ExitStatus s2 = a2.wait(20'000);
    CAPTURE(a1.output());
    CAPTURE(a2.output());
    CHECK(s1.exit_code == 0);
    CHECK(s2.exit_code == 0);
    int claimed_1 = 0;
    int claimed_2 = 0;
    for (const std::string& id : ids) {
        Json t = Json::parse(mlrun_on(dir, db.uri(), {"task", "show", id, "--json"}).out);
        CHECK(t["status"] == "completed");
        CHECK(t["attempts"] == 1);
        CHECK(mlrun::test::read_text(db.artifacts() / "tasks" / id / "log.txt").find("on-an-agent")
              != std::string::npos);
        const bool by_1 = a1.output().find("task " + id + " claimed") != std::string::npos;
        const bool by_2 = a2.output().find("task " + id + " claimed") != std::string::npos;
        CHECK(by_1 != by_2); // exactly one agent ran it
        claimed_1 += by_1;
        claimed_2 += by_2;
    }
    // Both took part: each task sleeps, so the idle agent claims the next one.
    CHECK(claimed_1 > 0);
    CHECK(claimed_2 > 0);
    CHECK(claimed_1 + claimed_2 == k_tasks);
}

TEST_CASE("postgres cli: bad store URIs are one line, exit 2, password masked")
{
    PgDatabase db;
    TempDir dir;
    auto check = [&](const std::string& home, const std::string& must_contain) {
        RunResult r = mlrun_on(dir, home, {"task", "list"});
        CAPTURE(home);
        CAPTURE(r.err);
        CHECK(r.code == 2);
        CHECK(mlrun::test::lines_of(r.err).size() == 1);
        CHECK(r.err.find("wrongpw") == std::string::npos);
        CHECK(r.err.find(PgServer::k_password) == std::string::npos);
        CHECK(r.err.find(must_contain) != std::string::npos);
    };
    const std::string artifacts = "?artifacts=" + db.artifacts().string();
    check(db.plain_uri("wrongpw") + artifacts, "postgres:***@");
    check("postgresql://postgres:wrongpw@127.0.0.1:1/x" + artifacts, "cannot connect");
    check("postgresql://postgres:wrongpw@127.0.0.1:5432/x?bogus=1", "bogus");
    check(db.plain_uri(), "artifact root");
    // The right one works, through --home too.
    RunResult ok = mlrun::test::run(dir, {"--home", db.uri(), "task", "list"});
    CAPTURE(ok.err);
    CHECK(ok.code == 0);
}
