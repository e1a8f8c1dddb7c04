// `mlrun server` end to end with real processes: the server on a free loopback port, agents
// as children, tokens from the CLI. Jobs here use the exec template (no ML build needed);
// server_titanic_test.cpp runs the Titanic pipeline through it.
#include "server_harness.hpp"

#include "core/util.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

using namespace mlrun::test;

namespace {

const char* k_csv = "a,b,survived\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n";

std::string post_job_body(const std::string& submission, const std::string& tmpl, const Json& params = Json::object())
{
    return Json{{"submission_id", submission}, {"template", tmpl}, {"params", params}}.dump();
}

// A raw TCP connection to the server, for byte-by-byte clients.
int connect_to(int port)
{
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
}

} // namespace

TEST_CASE("server: an exec job on an agent: idempotency key, queued -> running -> completed, logs, scoping")
{
    IgnoreSigpipe no_sigpipe;
    TempDir dir;
    const std::string alice = create_token(dir, {}, "alice");
    const std::string bob = create_token(dir, {}, "bob");
    const std::string admin = create_token(dir, {}, "root", {"--role", "admin"});
    CHECK(alice.rfind("mlr_", 0) == 0);
    // Only the hash is stored: the secret appears nowhere in the store.
    RunResult grep = run(dir, {"server", "token", "list", "--json"});
    CHECK(grep.code == 0);
    CHECK(grep.out.find(alice) == std::string::npos);

    // The command is the admin's (a template of the server's folder): a job cannot set it.
    write_text(dir / "tpl" / "steps.yaml", R"(name: steps
kind: exec
type: custom
params:
  command: "sleep 1; echo step-one $MLRUN_DATASET_FILE; echo step-two"
  timeout_s: 0
editable: [command, timeout_s, env, seed, inputs]
schema:
  command: {type: [string, list], items: string}
  timeout_s: {type: int, min: 0}
  env: {type: map}
  seed: {type: int, min: 0}
  inputs: {type: map}
)");
    ServerProcess server(dir, {"--templates", (dir / "tpl").string()}, {"--templates", "steps"});
    httplib::Client c = server.client();
    CHECK(json_of(c.Get("/health"))["status"] == "ok");
    const Json api = json_of(c.Get("/openapi.json"));
    CHECK(api["openapi"].get<std::string>().rfind("3.", 0) == 0);
    CHECK(api["paths"].contains("/jobs/{id}/results"));

    auto up = upload(c, alice, "table.csv", k_csv);
    REQUIRE(up);
    REQUIRE(up->status == 201);
    const Json sub = Json::parse(up->body);
    CHECK(sub["sha256"] == mlrun::sha256_hex(k_csv));

    httplib::Headers h = bearer(alice);
    h.emplace("Idempotency-Key", "first-try");
    const std::string body = post_job_body(sub["id"], "steps", {{"timeout_s", 60}});
    auto j1 = c.Post("/jobs", h, body, "application/json");
    auto j2 = c.Post("/jobs", h, body, "application/json");
    REQUIRE(j1);
    REQUIRE(j2);
    CAPTURE(j1->body);
    CAPTURE(server.child().output());
    CHECK(j1->status == 201);
    CHECK(j2->status == 200);
    const std::string id = Json::parse(j1->body)["id"];
    CHECK(Json::parse(j2->body)["id"] == id);
    CHECK(json_of(c.Get("/jobs", bearer(alice)))["jobs"].size() == 1);
    CHECK(json_of(c.Get("/jobs/" + id + "/status", bearer(alice)))["status"] == "queued");
    // The same key with another body is a conflict, not a second job.
    auto clash = c.Post("/jobs", h, post_job_body(sub["id"], "steps", {{"timeout_s", 30}}), "application/json");
    REQUIRE(clash);
    CHECK(clash->status == 409);

    // Another submitter cannot see it or its submission; an admin can.
    CHECK(c.Get("/jobs/" + id + "/status", bearer(bob))->status == 404);
    CHECK(c.Get("/jobs/" + id + "/logs", bearer(bob))->status == 404);
    CHECK(c.Delete("/jobs/" + id, bearer(bob))->status == 404);
    CHECK(c.Post("/jobs", bearer(bob), post_job_body(sub["id"], "steps"), "application/json")->status == 404);
    CHECK(c.Get("/jobs/" + id + "/status", bearer(admin))->status == 200);

    Child agent({"agent", "daemon", "--queue", "server", "--once", "-q"}, child_env(dir), dir.path());
    std::vector<std::string> seen;
    CHECK(eventually(
        [&] {
            const std::string s = json_of(c.Get("/jobs/" + id + "/status", bearer(alice)))["status"];
            if (seen.empty() || seen.back() != s) {
                seen.push_back(s);
            }
            return s == "completed" || s == "failed";
        },
        30'000));
    CHECK(seen == std::vector<std::string>{"queued", "running", "completed"});
    const std::string log = c.Get("/jobs/" + id + "/logs", bearer(alice))->body;
    CHECK(log.find("step-one table.csv") != std::string::npos);
    CHECK(log.find("step-two") != std::string::npos);
    const std::string tail = c.Get("/jobs/" + id + "/logs?tail=9", bearer(alice))->body;
    CHECK(tail.size() == 9);
    CHECK(log.substr(log.size() - 9) == tail);
    const std::string followed = c.Get("/jobs/" + id + "/logs?follow=1", bearer(alice))->body;
    CHECK(followed == log);
    CHECK(json_of(c.Get("/jobs/" + id + "/results", bearer(alice)))["status"] == "completed");
    CHECK(c.Delete("/jobs/" + id, bearer(alice))->status == 409);
    CHECK(agent.wait(20'000).has_value());

    // SIGTERM: exits 0; the access log names tokens, never their secrets.
    server.child().signal(SIGTERM);
    std::optional<mlrun::ExitStatus> st = server.child().wait(10'000);
    REQUIRE(st.has_value());
    CHECK(!st->signaled);
    CHECK(st->exit_code == 0);
    const std::string out = server.child().output();
    CHECK(out.find("\"token\":\"alice\"") != std::string::npos);
    CHECK(out.find(alice) == std::string::npos);
}

TEST_CASE("server: a queued job is aborted by DELETE; the concurrent-jobs quota answers 429")
{
    IgnoreSigpipe no_sigpipe;
    TempDir dir;
    const std::string alice = create_token(dir, {}, "alice", {"--concurrent-jobs", "1"});
    ServerProcess server(dir, {}, {"--templates", "exec"});
    httplib::Client c = server.client();
    const Json sub = json_of(upload(c, alice, "t.csv", k_csv));
    auto j = c.Post("/jobs", bearer(alice), post_job_body(sub["id"], "exec"), "application/json");
    REQUIRE(j->status == 201);
    const std::string id = Json::parse(j->body)["id"];
    auto second = c.Post("/jobs", bearer(alice), post_job_body(sub["id"], "exec"), "application/json");
    CHECK(second->status == 429);
    CHECK(second->has_header("Retry-After"));
    auto del = c.Delete("/jobs/" + id, bearer(alice));
    CHECK(del->status == 200);
    CHECK(Json::parse(del->body)["status"] == "aborted");
    CHECK(c.Post("/jobs", bearer(alice), post_job_body(sub["id"], "exec"), "application/json")->status == 201);
}

TEST_CASE("server: bad input gets the right 4xx, stores nothing and leaves the server up")
{
    IgnoreSigpipe no_sigpipe;
    TempDir dir;
    const std::string alice = create_token(dir, {}, "alice");
    const std::string bob = create_token(dir, {}, "bob");
    const std::string gone = create_token(dir, {}, "gone");
    const std::string root = create_token(dir, {}, "root", {"--role", "admin"});
    REQUIRE(run(dir, {"server", "token", "revoke", "gone"}).code == 0);
    ServerProcess server(dir, {}, {"--templates", "exec", "--max-upload-mb", "1"});
    httplib::Client c = server.client();
    // One good submission the job requests below can name.
    const Json sub = json_of(upload(c, alice, "t.csv", k_csv));
    const std::string sid = sub["id"];
    const std::string root_sid = json_of(upload(c, root, "t.csv", k_csv))["id"];
    const std::size_t before = stored_count(dir);

    struct Case {
        std::string what;
        std::function<httplib::Result()> send;
        int status;
    };
    const std::string big(2u << 20, 'x');
    std::vector<Case> cases{
        {"malformed JSON", [&] { return c.Post("/jobs", bearer(alice), "{\"submission_id\": ", "application/json"); },
         400},
        {"wrong type",
         [&] {
             return c.Post("/jobs", bearer(alice), R"({"submission_id": 5, "template": "exec"})", "application/json");
         },
         422},
        {"params not an object",
         [&] {
             return c.Post("/jobs", bearer(alice),
                           Json{{"submission_id", sid}, {"template", "exec"}, {"params", 3}}.dump(),
                           "application/json");
         },
         422},
        {"unknown field",
         [&] {
             return c.Post("/jobs", bearer(alice),
                           Json{{"submission_id", sid}, {"template", "exec"}, {"priority", 9}}.dump(),
                           "application/json");
         },
         422},
        {"invalid UTF-8",
         [&] {
             return c.Post("/jobs", bearer(alice), "{\"submission_id\": \"\xff\xfe\", \"template\": \"exec\"}",
                           "application/json");
         },
         400},
        {"JSON body over the limit", [&] { return c.Post("/jobs", bearer(alice), big, "application/json"); }, 413},
        {"upload over the limit", [&] { return upload(c, alice, "big.csv", big); }, 413},
        {"multipart without the file",
         [&] {
             httplib::MultipartFormDataItems items{{"name", "n", "", ""}, {"target", "survived", "", ""}};
             return c.Post("/submissions", bearer(alice), items);
         },
         422},
        {"not multipart", [&] { return c.Post("/submissions", bearer(alice), "a,b\n1,2\n", "text/csv"); }, 415},
        {"../ in the file name", [&] { return upload(c, alice, "../../etc/evil.csv", k_csv); }, 422},
        {"absolute file name", [&] { return upload(c, alice, "/tmp/evil.csv", k_csv); }, 422},
        {"dot file name", [&] { return upload(c, alice, "..csv", k_csv); }, 422},
        {"unknown extension", [&] { return upload(c, alice, "x.exe", k_csv); }, 422},
        {"bad submission name", [&] { return upload(c, alice, "t.csv", k_csv, "../up"); }, 422},
        {"template not allowed",
         [&] { return c.Post("/jobs", bearer(alice), post_job_body(sid, "train_model"), "application/json"); }, 422},
        {"non-editable param",
         [&] {
             return c.Post("/jobs", bearer(alice), post_job_body(sid, "exec", {{"kind", "noop"}}), "application/json");
         },
         422},
        {"server-set param",
         [&] {
             return c.Post("/jobs", bearer(alice), post_job_body(sid, "exec", {{"inputs", Json::object()}}),
                           "application/json");
         },
         422},
        {"an exec command set by a job",
         [&] {
             return c.Post("/jobs", bearer(alice), post_job_body(sid, "exec", {{"command", "touch /tmp/pwned"}}),
                           "application/json");
         },
         422},
        {"an exec command set by an admin's job",
         [&] {
             return c.Post("/jobs", bearer(root),
                           post_job_body(root_sid, "exec", {{"command", Json::array({"sh", "-c", "id"})}}),
                           "application/json");
         },
         422},
        {"an exec environment set by a job",
         [&] {
             return c.Post("/jobs", bearer(alice),
                           post_job_body(sid, "exec", {{"env", Json::object({{"LD_PRELOAD", "/tmp/x.so"}})}}),
                           "application/json");
         },
         422},
        {"an exec environment variable set by a job",
         [&] {
             return c.Post("/jobs", bearer(alice), post_job_body(sid, "exec", {{"env.PATH", "/tmp"}}),
                           "application/json");
         },
         422},
        {"param of the wrong type",
         [&] {
             return c.Post("/jobs", bearer(alice), post_job_body(sid, "exec", {{"timeout_s", -1}}), "application/json");
         },
         422},
        {"another token's submission",
         [&] { return c.Post("/jobs", bearer(bob), post_job_body(sid, "exec"), "application/json"); }, 404},
        {"unknown submission",
         [&] { return c.Post("/jobs", bearer(alice), post_job_body("nosuchid", "exec"), "application/json"); }, 404},
        {"unknown job id", [&] { return c.Get("/jobs/0abc/status", bearer(alice)); }, 404},
        {"job id with ..", [&] { return c.Get("/jobs/..%2f..%2fetc/status", bearer(alice)); }, 404},
        {"no token", [&] { return c.Get("/jobs"); }, 401},
        {"not a bearer token",
         [&] {
             return c.Get("/jobs", {{"Authorization", "Basic YTpi"}});
         },
         401},
        {"unknown token", [&] { return c.Get("/jobs", bearer("mlr_0000000000000000")); }, 401},
        {"revoked token", [&] { return c.Get("/jobs", bearer(gone)); }, 401},
        {"revoked token uploading", [&] { return upload(c, gone, "t.csv", k_csv); }, 401},
        {"unknown path", [&] { return c.Get("/nope", bearer(alice)); }, 404},
        {"unknown challenge", [&] { return c.Get("/leaderboard?challenge=nope", bearer(alice)); }, 404},
    };
    for (const Case& k : cases) {
        INFO(k.what);
        httplib::Result r = k.send();
        REQUIRE(r);
        CHECK(r->status == k.status);
        const Json e = Json::parse(r->body, nullptr, false);
        CHECK(e.is_object());
        if (e.is_object()) {
            CHECK(e["error"]["code"].is_string());
            CHECK(e["error"]["message"].is_string());
        }
        CHECK(stored_count(dir) == before);
        CHECK(server.client().Get("/health")->status == 200);
    }
    // The challenge list offers what a job may set: never the exec command or environment.
    const Json challenges = json_of(c.Get("/challenges", bearer(alice)))["challenges"];
    REQUIRE(challenges.size() == 1);
    CHECK(challenges[0]["editable"] == Json::array({"timeout_s", "seed"}));
    for (const Json& row : challenges[0]["schema"]) {
        CHECK(row["key"] != "command");
        CHECK(row["key"] != "env");
    }
    // A job of alice's: bob gets 404 for each of its endpoints.
    auto j = c.Post("/jobs", bearer(alice), post_job_body(sid, "exec"), "application/json");
    REQUIRE(j->status == 201);
    const std::string id = Json::parse(j->body)["id"];
    for (const char* p : {"/status", "/logs", "/results"}) {
        CHECK(c.Get("/jobs/" + id + std::string(p), bearer(bob))->status == 404);
    }
    CHECK(!server.child().exited());
}

TEST_CASE("server: a client sending its headers a byte at a time is cut off without blocking the pool")
{
    IgnoreSigpipe no_sigpipe;
    TempDir dir;
    const std::string alice = create_token(dir, {}, "alice");
    ServerProcess server(dir, {}, {"--templates", "exec", "--threads", "4", "--header-timeout", "2"});
    const std::string request =
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    std::vector<int> fds;
    std::vector<std::thread> slow;
    std::atomic<int> cut{0};
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) {
        fds.push_back(connect_to(server.port()));
        slow.emplace_back([&, fd = fds.back()] {
            for (char ch : request) {
                if (::send(fd, &ch, 1, MSG_NOSIGNAL) != 1) {
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(250));
                pollfd p{fd, POLLIN, 0};
                if (::poll(&p, 1, 0) > 0) {
                    char buf[512];
                    if (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0
                        || std::string(buf, 12).find("200") == std::string::npos) {
                        ++cut;
                        break;
                    }
                }
            }
        });
    }
    // While they trickle, other requests are answered at once by the free worker.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    for (int i = 0; i < 5; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = server.client().Get("/health");
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1000));
    }
    for (std::thread& t : slow) {
        t.join();
    }
    for (int fd : fds) {
        ::close(fd);
    }
    // Each slow client was cut off after the 2 s header timeout, well before it finished
    // its ~75 bytes at 4 a second (~19 s).
    CHECK(cut.load() == 3);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(8));
    CHECK(server.client().Get("/health")->status == 200);
}

TEST_CASE("server: the 61st request in a minute of a 60/min token gets 429 with Retry-After")
{
    IgnoreSigpipe no_sigpipe;
    TempDir dir;
    const std::string alice = create_token(dir, {}, "alice", {"--rate", "60"});
    const std::string bob = create_token(dir, {}, "bob", {"--rate", "60"});
    ServerProcess server(dir, {}, {"--templates", "exec"});
    httplib::Client c = server.client();
    for (int i = 0; i < 60; ++i) {
        auto r = c.Get("/whoami", bearer(alice));
        REQUIRE(r);
        REQUIRE(r->status == 200);
    }
    auto r = c.Get("/whoami", bearer(alice));
    REQUIRE(r);
    CHECK(r->status == 429);
    REQUIRE(r->has_header("Retry-After"));
    const int retry = std::stoi(r->get_header_value("Retry-After"));
    CHECK(retry >= 1);
    CHECK(retry <= 60);
    CHECK(Json::parse(r->body)["error"]["code"] == "quota");
    // Another token has its own budget.
    CHECK(c.Get("/whoami", bearer(bob))->status == 200);
}

TEST_CASE("server: a pipeline job runs on an agent from the pipeline's text and the dataset version in the store")
{
    IgnoreSigpipe no_sigpipe;
    TempDir dir;
    const std::string alice = create_token(dir, {}, "alice");
    // A one-step pipeline whose data step is an exec-kind "preprocess" of the server's
    // folder: it prints the params the agent ran it with.
    write_text(dir / "tpl" / "preprocess.yaml", R"(name: preprocess
kind: exec
type: custom
params:
  command: "grep -o 'dataset_id[^,]*' \"$MLRUN_PARAMS\"; echo prep-done"
  data: {dataset_id: "", path: "", target: ""}
  seed: 0
  base_dir: ""
editable: [command, data, seed, inputs, base_dir]
schema:
  command: {type: [string, list], items: string}
  data.dataset_id: {type: string}
  data.path: {type: string}
  data.target: {type: string}
  seed: {type: int, min: 0}
  inputs: {type: map}
  base_dir: {type: string}
)");
    const fs::path pipeline = dir / "challenge" / "tiny.yaml";
    write_text(pipeline, R"(name: tiny
project: server/tiny
primary_metric: roc_auc
steps:
  - name: prep
    template: preprocess
    params: {data.path: not-here.csv, seed: 1}
)");
    ServerProcess server(dir, {"--templates", (dir / "tpl").string()}, {"--templates", pipeline.string()});
    httplib::Client c = server.client();
    const Json sub = json_of(upload(c, alice, "t.csv", k_csv));
    // The exec step's command is not the job's to set, in a pipeline either.
    auto refused = c.Post("/jobs", bearer(alice), post_job_body(sub["id"], "tiny", {{"prep.command", "id"}}),
                          "application/json");
    REQUIRE(refused);
    CHECK(refused->status == 422);
    auto j = c.Post("/jobs", bearer(alice), post_job_body(sub["id"], "tiny", {{"prep.seed", 7}}), "application/json");
    REQUIRE(j);
    REQUIRE(j->status == 201);
    const std::string id = Json::parse(j->body)["id"];

    // The task carries the pipeline's text, not the server's path of it: the file may go.
    const RunResult shown = run(dir, {"task", "show", id, "--json"});
    REQUIRE(shown.code == 0);
    const Json task = Json::parse(shown.out);
    CHECK(task["params"]["command"].dump().find(pipeline.string()) == std::string::npos);
    CHECK(task["params"]["env"]["MLRUN_JOB_PIPELINE"].get<std::string>().find("name: tiny") != std::string::npos);
    fs::remove(pipeline);

    Child agent({"--templates", (dir / "tpl").string(), "agent", "daemon", "--queue", "server", "--once", "-q"},
                child_env(dir), dir.path());
    std::string status;
    CHECK(eventually(
        [&] {
            status = json_of(c.Get("/jobs/" + id + "/status", bearer(alice)))["status"];
            return status == "completed" || status == "failed";
        },
        60'000));
    const std::string log = c.Get("/jobs/" + id + "/logs", bearer(alice))->body;
    INFO("log: " << log);
    INFO("agent: " << agent.output());
    CHECK(status == "completed");
    // The step ran on the submission's dataset version (from the store), with the job's param.
    const std::string marker = "\"step_started\"";
    REQUIRE(log.find(marker) != std::string::npos);
    const Json started = Json::parse(
        log.substr(log.rfind('\n', log.find(marker)) + 1,
                   log.find('\n', log.find(marker)) - log.rfind('\n', log.find(marker)) - 1));
    const std::string step_id = started["task_id"];
    const Json step = Json::parse(run(dir, {"task", "show", step_id, "--json"}).out);
    CHECK(step["params"]["data"]["dataset_id"] == sub["dataset_id"]);
    CHECK(step["params"]["data"]["path"] == "t.csv");
    CHECK(step["params"]["seed"] == 7);
    const std::string step_log = run(dir, {"task", "logs", step_id}).out;
    CHECK(step_log.find(sub["dataset_id"].get<std::string>()) != std::string::npos);
    CHECK(step_log.find("prep-done") != std::string::npos);
    const Json st = json_of(c.Get("/jobs/" + id + "/status", bearer(alice)));
    CHECK(!st["run_id"].get<std::string>().empty());
    CHECK(agent.wait(20'000).has_value());
}
