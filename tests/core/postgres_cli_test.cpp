// The PostgreSQL store end to end with real processes (DESIGN §6): `--home postgresql://...`
// (or MLRUN_HOME) plus an artifact root folder. A local pipeline run of exec steps completes
// and `task list` / `pipeline show` read it back; two `mlrun agent daemon` processes sharing
// the store, with a real Redis broker, complete the clones queued for them between them; bad
// store URIs are one line, exit 2, password masked; a corrupt row is listed as corrupt, a
// cache miss, and quarantined by `store check --repair`; two agents on the store run a
// pipeline (Redis broker, and the local queue under the artifact root) that ends as the
// same pipeline run locally. Every wait is bounded.
#include "pg_server.hpp"
#include "redis_server.hpp"
#include "test_util.hpp"

#include "platform/subprocess.hpp"
#include "store/postgres_db.hpp"
#include "store/postgres_store.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <functional>
#include <map>
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

namespace {

// Runs one statement on the store's database behind mlrun's back (as a disk fault would).
void sql_on(const PgDatabase& db, const std::string& sql, const PostgresParams& params = {})
{
    PostgresDb conn(parse_postgres_uri(db.plain_uri()));
    conn.exec(sql, params);
}

} // namespace

TEST_CASE("postgres cli: a corrupt task row is listed as corrupt and a cache miss; store check --repair "
          "quarantines it and a corrupt record under the artifact root")
{
    PgDatabase db;
    TempDir dir;
    mlrun::test::write_text(dir / "p.yaml", R"(name: corrupt
steps:
  - {name: a, template: noop, params: {value: 1}}
  - {name: b, template: noop, parents: [a], params: {value: 2}}
)");
    RunResult first = mlrun_on(dir, db.uri(), {"pipeline", "run", "-q", (dir / "p.yaml").string()});
    REQUIRE_MESSAGE(first.code == 0, first.err);
    const std::string run_id = run_id_of(first.out);
    Json tasks = Json::parse(mlrun_on(dir, db.uri(), {"task", "list", "--json"}).out);
    REQUIRE(tasks.size() == 2);
    std::string a_id, b_id;
    for (const Json& t : tasks) {
        (t["step"] == "a" ? a_id : b_id) = t["id"].get<std::string>();
    }
    // a's row cut in the middle, as a torn write would leave it.
    sql_on(db, "UPDATE tasks SET record = '{\"id\": \"trunc', summary = '{\"id' WHERE id = $1",
           PostgresParams().text(a_id));

    RunResult list = mlrun_on(dir, db.uri(), {"task", "list"});
    CHECK(list.code == 0);
    CHECK(list.out.find(a_id) != std::string::npos);
    CHECK(list.out.find("corrupt") != std::string::npos);
    Json listed = Json::parse(mlrun_on(dir, db.uri(), {"task", "list", "--json"}).out);
    REQUIRE(listed.size() == 2);
    CHECK(listed[1]["id"] == a_id);
    CHECK(listed[1]["status"] == "corrupt");
    RunResult shown = mlrun_on(dir, db.uri(), {"task", "show", a_id});
    CHECK(shown.code != 0);
    CHECK(shown.err.find("not valid JSON") != std::string::npos);

    // --resume reruns a only (its record is a cache miss, not a crash); b is reused.
    RunResult resumed = mlrun_on(dir, db.uri(), {"pipeline", "run", "--resume", run_id, "-q"});
    CAPTURE(resumed.out);
    CAPTURE(resumed.err);
    CHECK(resumed.code == 0);
    Json run = Json::parse(mlrun_on(dir, db.uri(), {"pipeline", "show", "--json", run_id}).out);
    CHECK(run["status"] == "completed");
    std::map<std::string, std::string> ids;
    for (const Json& n : run["nodes"]) {
        ids[n["name"].get<std::string>()] = n.value("task_id", "");
    }
    CHECK(ids["a"] != a_id);
    CHECK(ids["b"] == b_id);

    // A run record that does not decode, too.
    sql_on(db, "UPDATE records SET json = '{\"id\": ' WHERE kind = 'runs' AND id = $1", PostgresParams().text(run_id));
    RunResult check = mlrun_on(dir, db.uri(), {"store", "check", "--json"});
    CAPTURE(check.out);
    CAPTURE(check.err);
    CHECK(check.code == 1);
    std::set<std::string> found;
    for (const Json& f : Json::parse(check.out)) {
        found.insert(f["kind"].get<std::string>() + " " + f["where"].get<std::string>());
    }
    CHECK(found.count("corrupt_task " + a_id) == 1);
    CHECK(found.count("corrupt_record runs/" + run_id) == 1);
    RunResult repair = mlrun_on(dir, db.uri(), {"store", "check", "--repair"});
    CAPTURE(repair.out);
    CHECK(repair.code == 1);
    CHECK(repair.out.find("quarantined") != std::string::npos);
    CHECK(mlrun::test::count_entries(db.artifacts() / "quarantine" / "tasks") == 1);
    CHECK(mlrun::test::count_entries(db.artifacts() / "quarantine" / "records" / "runs") == 1);
    CHECK_FALSE(fs::exists(db.artifacts() / "tasks" / a_id)); // its folder went with it
    RunResult clean = mlrun_on(dir, db.uri(), {"store", "check"});
    CAPTURE(clean.out);
    CHECK(clean.code == 0);
    CHECK(clean.out.find("store is clean") != std::string::npos);
    CHECK(Json::parse(mlrun_on(dir, db.uri(), {"task", "list", "--json"}).out).size() == 2); // the rerun a and b
}

namespace {

// prep -> work (foreach of 4, on queue cpu) -> report (all three exec): each writes value v
// (the foreach item's seed, read from its params file) and sleeps, so two agents share it.
fs::path write_shared_pipeline(const TempDir& dir)
{
    auto step = [&](const std::string& name, const std::string& extra, const std::string& sleep_s) {
        return "  - name: " + name + "\n    template: exec\n" + extra + "    params:\n      command: |\n        "
               + R"(s=$(grep -o '"seed": *[0-9]*' "$MLRUN_PARAMS" | tr -dc 0-9); echo "{\"name\":\"v\",\"value\":\")"
               + name + R"(-$s\"}" > "$MLRUN_OUTPUT_DIR/metrics.jsonl"; sleep )" + sleep_s + "\n";
    };
    std::string yaml = "name: shared\nproject: pgshared\nparallelism: 4\nsteps:\n";
    yaml += step("prep", "", "0.1");
    yaml += step("work", "    parents: [prep]\n    foreach: {seed: [1, 2, 3, 4]}\n", "0.6");
    yaml += step("report", "    parents: [work]\n", "0.1");
    fs::path file = dir / "shared.yaml";
    mlrun::test::write_text(file, yaml);
    return file;
}

// node name -> "state values" of a run, read back from the store.
std::map<std::string, std::string> outcome_on(const TempDir& dir, const std::string& home, const std::string& run)
{
    RunResult show = mlrun_on(dir, home, {"pipeline", "show", run, "--json"});
    REQUIRE_MESSAGE(show.code == 0, show.err);
    std::map<std::string, std::string> out;
    const Json record = Json::parse(show.out); // kept: a loop over a temporary's member dangles
    for (const Json& n : record["nodes"]) {
        std::string values;
        if (!n.value("task_id", "").empty()) {
            Json t = Json::parse(mlrun_on(dir, home, {"task", "show", n["task_id"], "--json"}).out);
            values = t["values"].dump();
        }
        out[n["name"].get<std::string>()] = n["state"].get<std::string>() + " " + values;
    }
    return out;
}

// Two agent daemons on one PostgreSQL store (and `broker`: Redis, or none for the local
// queue under the artifact root) run a pipeline driven by `pipeline run --queue cpu`; it ends
// as the same pipeline run locally on that store.
void two_agents_run_a_pipeline(const std::vector<std::string>& broker)
{
    PgDatabase db;
    TempDir dir;
    const fs::path file = write_shared_pipeline(dir);
    RunResult local = mlrun_on(dir, db.uri(), {"pipeline", "run", file.string(), "-q"});
    CAPTURE(local.err);
    REQUIRE(local.code == 0);
    const std::string local_run = run_id_of(local.out);
    const std::map<std::string, std::string> expected = outcome_on(dir, db.uri(), local_run);
    REQUIRE(expected.size() == 6);
    CHECK(expected.at("work::3") == "completed {\"v\":\"work-3\"}");
    CHECK(expected.at("report") == "completed {\"v\":\"report-\"}");

    REQUIRE(mlrun_on(dir, db.uri(), {"queue", "create", "cpu"}, broker).code == 0);
    std::vector<std::string> agent_args = broker;
    agent_args.insert(agent_args.end(), {"--queue", "cpu", "--name"});
    std::vector<std::string> a1_args = agent_args;
    a1_args.push_back("pg-a1");
    std::vector<std::string> a2_args = agent_args;
    a2_args.push_back("pg-a2");
    AgentProcess a1(dir, db.uri(), a1_args);
    AgentProcess a2(dir, db.uri(), a2_args);
    RunResult remote = mlrun_on(dir, db.uri(), {"pipeline", "run", file.string(), "--queue", "cpu", "--no-cache", "-q"},
                                broker);
    a1.signal(SIGTERM);
    a2.signal(SIGTERM);
    CHECK(a1.wait(20'000).exit_code == 0);
    CHECK(a2.wait(20'000).exit_code == 0);
    CAPTURE(remote.out);
    CAPTURE(remote.err);
    CAPTURE(a1.output());
    CAPTURE(a2.output());
    REQUIRE(remote.code == 0);
    const std::string remote_run = run_id_of(remote.out);
    REQUIRE(!remote_run.empty());
    CHECK(remote_run != local_run);
    CHECK(outcome_on(dir, db.uri(), remote_run) == expected);

    // Every step ran on an agent, each on exactly one, and both agents took part; their
    // records, logs and values are in the shared store.
    int by_1 = 0;
    int by_2 = 0;
    Json tasks = Json::parse(mlrun_on(dir, db.uri(), {"task", "list", "--run", remote_run, "--json"}).out);
    CHECK(tasks.size() == 6);
    for (const Json& t : tasks) {
        const std::string id = t["id"].get<std::string>();
        CHECK(t["status"] == "completed");
        CHECK(t["lease_epoch"].get<std::int64_t>() > 0);
        CHECK(t["queue"] == "cpu");
        const bool on_1 = a1.output().find("task " + id + " claimed") != std::string::npos;
        const bool on_2 = a2.output().find("task " + id + " claimed") != std::string::npos;
        CHECK(on_1 != on_2);
        by_1 += on_1;
        by_2 += on_2;
        CHECK(fs::exists(db.artifacts() / "tasks" / id / "log.txt"));
    }
    CHECK(by_1 > 0);
    CHECK(by_2 > 0);
    CHECK(by_1 + by_2 == 6);
    // A reader on the store sees the remote run as the local one: same states, completed.
    Json record = Json::parse(mlrun_on(dir, db.uri(), {"pipeline", "show", remote_run, "--json"}).out);
    CHECK(record["status"] == "completed");
}

} // namespace

TEST_CASE("postgres cli: two agent daemons on one PostgreSQL store run a pipeline (Redis broker) as a local run ends")
{
    RedisServer redis;
    two_agents_run_a_pipeline({"--broker", redis.uri()});
}

TEST_CASE(
    "postgres cli: two agent daemons on one PostgreSQL store run a pipeline (local queue under the artifact root)")
{
    two_agents_run_a_pipeline({});
}
