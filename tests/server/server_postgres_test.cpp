// The submission server on the PostgreSQL store (DESIGN §6, §10): the server and an agent
// share only the store and its artifact root, each in its own folder (another machine as far
// as files go): an upload is staged under the artifact root and stored as a dataset version,
// and a pipeline job runs on the agent from the pipeline's text carried in the task, on that
// dataset version, after the server's copy of the pipeline file is gone.
#include "../core/pg_server.hpp"
#include "server_harness.hpp"

#include <doctest/doctest.h>

using namespace mlrun::test;

TEST_CASE("server on PostgreSQL: an upload and a pipeline job run by an agent sharing only the store")
{
    IgnoreSigpipe no_sigpipe;
    PgDatabase db;
    TempDir server_dir;
    TempDir agent_dir;
    write_text(server_dir / "tpl" / "preprocess.yaml", R"(name: preprocess
kind: exec
type: custom
params:
  command: "echo prep-done"
  data: {dataset_id: "", path: "", target: ""}
  base_dir: ""
editable: [data, inputs, base_dir]
schema:
  command: {type: [string, list], items: string}
  data.dataset_id: {type: string}
  data.path: {type: string}
  data.target: {type: string}
  inputs: {type: map}
  base_dir: {type: string}
)");
    const fs::path pipeline = server_dir / "challenge" / "pg.yaml";
    write_text(pipeline, R"(name: pgchallenge
project: server/pg
steps:
  - {name: prep, template: preprocess}
)");
    const std::vector<std::string> home{"--home", db.uri()};
    const std::string alice = create_token(server_dir, home, "alice");
    std::vector<std::string> global = home;
    global.insert(global.end(), {"--templates", (server_dir / "tpl").string()});
    ServerProcess server(server_dir, global, {"--templates", pipeline.string()});
    httplib::Client c = server.client();
    const std::string csv = "a,b,y\n1,2,0\n3,4,1\n";
    auto up = upload(c, alice, "t.csv", csv, "pg-sub", "y");
    REQUIRE(up);
    CAPTURE(up->body);
    REQUIRE(up->status == 201);
    const Json sub = Json::parse(up->body);
    CHECK(!fs::exists(server_dir.home())); // nothing of the store in the server's own folder
    auto j = c.Post("/jobs", bearer(alice), Json{{"submission_id", sub["id"]}, {"template", "pgchallenge"}}.dump(),
                    "application/json");
    REQUIRE(j);
    REQUIRE(j->status == 201);
    const std::string id = Json::parse(j->body)["id"];
    fs::remove(pipeline);

    std::vector<std::string> agent_args = home;
    agent_args.insert(agent_args.end(), {"agent", "daemon", "--queue", "server", "--once", "-q"});
    Child agent(agent_args, child_env(agent_dir), agent_dir.path());
    std::string status;
    CHECK(eventually(
        [&] {
            status = json_of(c.Get("/jobs/" + id + "/status", bearer(alice)))["status"];
            return status == "completed" || status == "failed";
        },
        60'000));
    INFO("log: " << c.Get("/jobs/" + id + "/logs", bearer(alice))->body);
    INFO("agent: " << agent.output());
    CHECK(status == "completed");
    const Json run = json_of(c.Get("/jobs/" + id + "/status", bearer(alice)));
    CHECK(!run["run_id"].get<std::string>().empty());
    // The step ran on the submission's dataset version, whose file is under the artifact root.
    RunResult tasks = mlrun::test::run(
        agent_dir, {"--home", db.uri(), "task", "list", "--run", run["run_id"].get<std::string>(), "--json"});
    REQUIRE(tasks.code == 0);
    const Json list = Json::parse(tasks.out);
    REQUIRE(list.size() == 1);
    const Json step = Json::parse(
        mlrun::test::run(agent_dir, {"--home", db.uri(), "task", "show", list[0]["id"].get<std::string>(), "--json"})
            .out);
    CHECK(step["params"]["data"]["dataset_id"] == sub["dataset_id"]);
    CHECK(step["status"] == "completed");
    CHECK(fs::exists(db.artifacts() / "datasets" / sub["dataset_id"].get<std::string>() / "t.csv"));
    CHECK(agent.wait(20'000).has_value());
}
