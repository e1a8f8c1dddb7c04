// The MLflow mirror wired in: `--tracking http://…` on a pipeline run, the server down for
// the whole run then `mlrun sync`, and tracking URIs refused before any task exists. Each
// test names the recorded exchanges of shared/mlflow-contract/transcript.md it follows;
// every server is the strict fake (tests/core/fake_mlflow.hpp) started by the test.
#include "engine_test_util.hpp"
#include "fake_mlflow.hpp"

#include "app/pipeline_job.hpp"
#include "app/sync.hpp"
#include "engine/run_record.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <set>

using namespace mlrun;
using namespace mlrun::test;

namespace {

// noop steps with values and an exec step that reports scalars and an artifact through
// MLRUN_OUTPUT_DIR (the recorder feeds both to every sink while the task runs).
const char* k_pipeline = R"(name: tracked
project: trk
steps:
  - name: prep
    template: noop
    params: {value: 1}
  - name: train
    template: exec
    parents: [prep]
    params:
      command: >-
        printf '%s\n' '{"title":"loss","series":"train","iteration":0,"value":0.9}'
        '{"title":"loss","series":"train","iteration":1,"value":0.5}'
        '{"title":"loss","series":"train","iteration":2,"value":0.25}' > "$MLRUN_OUTPUT_DIR/metrics.jsonl" &&
        printf 'a,b\n1,2\n' > "$MLRUN_OUTPUT_DIR/table.csv"
  - name: summary
    template: noop
    parents: [train]
    params: {value: 3}
)";

// `mlrun --templates <source>/templates ARGS` with extra environment variables.
RunResult run_cli_env(const TempDir& dir, std::vector<std::string> args, const std::map<std::string, std::string>& env)
{
    args.insert(args.begin(), {"--templates", k_templates});
    return run(dir, args, env);
}

std::vector<FakePoint> history(const FakeMlflow& fake, const std::string& run_id, const std::string& key)
{
    auto r = fake.run(run_id);
    REQUIRE(r.has_value());
    auto it = r->metrics.find(key);
    return it == r->metrics.end() ? std::vector<FakePoint>() : it->second;
}

// The task runs (those with mlrun.task_id) of one pipeline run, by task name.
std::map<std::string, FakeRun> child_runs(const FakeMlflow& fake, const std::string& run_id)
{
    std::map<std::string, FakeRun> out;
    for (const FakeRun& r : fake.runs_tagged("mlrun.run_id", run_id)) {
        if (!r.tag("mlrun.task_id").empty()) {
            out[r.run_name] = r;
        }
    }
    return out;
}

// Everything the fake holds for one pipeline run: one parent, prep/train/summary under it,
// finished, with their params, values and the exec step's scalar history and artifact.
void check_mirrored(const FakeMlflow& fake, const std::string& run_id)
{
    CHECK(fake.violations().empty());
    const std::vector<std::string> experiments = fake.experiment_names();
    CHECK(std::count(experiments.begin(), experiments.end(), "trk") == 1);
    auto parents = fake.runs_tagged("mlrun.pipeline_run", run_id);
    REQUIRE(parents.size() == 1);
    CHECK(parents[0].status == "FINISHED");
    CHECK(parents[0].tag("mlrun.kind") == "pipeline");
    auto children = child_runs(fake, run_id);
    REQUIRE(children.size() == 3);
    for (const auto& [name, run] : children) {
        CAPTURE(name);
        CHECK(run.tag("mlflow.parentRunId") == parents[0].run_id);
        CHECK(run.experiment_id == parents[0].experiment_id);
        CHECK(run.status == "FINISHED");
        CHECK(run.tag("mlrun.status") == "completed");
        CHECK(fake.runs_tagged("mlrun.task_id", run.tag("mlrun.task_id")).size() == 1); // no duplicate run
    }
    CHECK(children.at("prep").param("value") == "1");
    CHECK(history(fake, children.at("prep").run_id, "value").size() == 1);
    CHECK(history(fake, children.at("summary").run_id, "value").at(0).value == 3);
    const std::vector<FakePoint> loss = history(fake, children.at("train").run_id, "loss/train");
    REQUIRE(loss.size() == 3);
    CHECK(loss[0].step == 0);
    CHECK(loss[2].step == 2);
    CHECK(loss[2].value == 0.25);
    CHECK(fake.artifacts(children.at("train").run_id).count("table.csv") == 1);
}

} // namespace

TEST_CASE("tracking: pipeline run --tracking mirrors one experiment, a parent run and a child run per task")
{
    // transcript: experiments/get-by-name (404 JSON) then experiments/create; runs/create with
    // start_time and tags (mlflow.parentRunId); runs/log-batch; PUT mlflow-artifacts;
    // runs/update FINISHED with end_time; runs/search by tags.mlrun.task_id
    FakeMlflow fake;
    TempDir dir;
    const std::string file = write_pipeline(dir, k_pipeline);
    RunResult r = run_cli(dir, {"--tracking", fake.url(), "pipeline", "run", "-q", file});
    CAPTURE(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.find("warning") == std::string::npos);
    const std::string run_id = run_id_of(r.out);
    REQUIRE_FALSE(run_id.empty());
    check_mirrored(fake, run_id);

    // The sync state as the store keeps it, shown by task show and pipeline show.
    Backends b = engine_backends(dir);
    const std::string train_id = node_tasks(load_run(b.ports(), run_id)).at("train");
    const std::string mlflow_run = child_runs(fake, run_id).at("train").run_id;
    RunResult show = run_cli(dir, {"task", "show", train_id});
    CHECK(show.out.find("synced to " + fake.url() + ", run " + mlflow_run) != std::string::npos);
    RunResult pshow = run_cli(dir, {"pipeline", "show", run_id});
    CHECK(pshow.out.find("mlflow: synced to " + fake.url()) != std::string::npos);

    // Everything is synced: `mlrun sync` sends nothing at all.
    const int requests = fake.count();
    RunResult sync = run_cli(dir, {"--tracking", fake.url(), "sync"});
    CAPTURE(sync.out);
    CHECK(sync.code == 0);
    CHECK(sync.out.find("0 sent") != std::string::npos);
    CHECK(fake.count() == requests);
}

TEST_CASE("tracking: server down for the whole run: the run completes locally, then sync uploads it once")
{
    // transcript: the HTTP 000 exchanges (server stopped) during the run; later the same
    // requests answered: runs/search by tags.mlrun.task_id, runs/create, runs/log-batch
    // (an exact re-send is deduplicated, README Idempotency), PUT mlflow-artifacts, runs/update
    TempDir dir;
    const std::string file = write_pipeline(dir, k_pipeline);
    PipelineJobResult job;
    {
        auto down = std::make_unique<FakeMlflow>();
        BackendOptions options;
        options.home = dir.home().string();
        options.tracking = down->url();
        options.mirror = true;
        Backends b = open_backends(options); // the check passes: the server is up here
        REQUIRE(b.sinks.size() == 2);
        down.reset(); // ... and down before the first step
        PipelineJobRequest request;
        request.file = file;
        request.options = quiet_options();
        job = run_pipeline_job(b, request);
    }
    REQUIRE(job.exit_status == 0);
    const std::string run_id = job.run.run_id;
    REQUIRE_FALSE(run_id.empty());

    Backends b = engine_backends(dir);
    const Json record = load_run(b.ports(), run_id);
    CHECK(record["status"] == "completed");
    for (const auto& [node, id] : node_tasks(record)) {
        CAPTURE(node);
        const MirrorState s = task_mirror_state(*b.store, b.store->get(id));
        CHECK(s.tracked);
        CHECK_FALSE(s.synced);
        CHECK(mirror_line(s).rfind("not synced to MLflow: ", 0) == 0);
    }
    RunResult show = run_cli(dir, {"task", "show", node_tasks(record).at("train")});
    CHECK(show.out.find("not synced to MLflow: ") != std::string::npos);

    FakeMlflow fake;
    RunResult sync = run_cli(dir, {"--tracking", fake.url(), "sync", "--run", run_id.substr(0, 8)});
    CAPTURE(sync.out);
    CAPTURE(sync.err);
    REQUIRE(sync.code == 0);
    CHECK(sync.out.find("4 sent") != std::string::npos); // the run and its three tasks
    check_mirrored(fake, run_id);
    for (const auto& [node, id] : node_tasks(record)) {
        CHECK(task_mirror_state(*b.store, b.store->get(id)).synced);
    }
    RunResult show_after = run_cli(dir, {"task", "show", node_tasks(record).at("train")});
    CHECK(show_after.out.find("synced to " + fake.url()) != std::string::npos);

    // A second sync sends nothing new: no request, no run, no point.
    const int requests = fake.count();
    const std::size_t runs = fake.runs().size();
    RunResult again = run_cli(dir, {"--tracking", fake.url(), "sync"});
    CHECK(again.code == 0);
    CHECK(fake.count() == requests);
    CHECK(fake.runs().size() == runs);
    check_mirrored(fake, run_id);

    // A sync forced through the cursors (one stored cursor made stale) re-sends without
    // duplicating: the run is reused and the exact points are deduplicated by the server.
    const std::string train_id = node_tasks(record).at("train");
    Json cursor = *b.store->get_record("mlflow", train_id);
    cursor["scalars_sent"] = 0;
    cursor["artifacts_sent"] = Json::array();
    b.store->put_record("mlflow", train_id, cursor);
    RunResult forced = run_cli(dir, {"--tracking", fake.url(), "sync", "--task", train_id});
    CHECK(forced.code == 0);
    CHECK(fake.runs().size() == runs);
    check_mirrored(fake, run_id);
}

TEST_CASE("tracking: an unreachable, non-MLflow or unauthorised server exits 2 before any task exists")
{
    // transcript: HTTP 000 (nothing listens); "Unknown routes (404) answer with HTML"
    // (README); a 401 from an authenticating proxy in front of experiments/get-by-name
    TempDir dir;
    const std::string file = write_pipeline(dir, k_pipeline);
    FakeMlflow html;
    html.set_html_mode(true);
    FakeMlflow auth;
    auth.require_bearer("right-token");
    struct Case {
        std::string name;
        std::string uri;
        std::string expect;
    };
    const std::vector<Case> cases{
        {"unreachable", "http://127.0.0.1:" + std::to_string(free_port()), "tracking server"},
        {"html", html.url(), "not an MLflow tracking server"},
        {"401", "http://user:pa55word@127.0.0.1:" + std::to_string(auth.port()), "401"},
        {"wrong scheme", "ftp://127.0.0.1/x", "unsupported tracking URI"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        RunResult r = run_cli_env(dir, {"--tracking", c.uri, "pipeline", "run", "-q", file},
                                  {{"MLFLOW_TRACKING_TOKEN", "s3cr3t-token-value"}});
        CAPTURE(r.err);
        CHECK(r.code == 2);
        CHECK(r.err.find(c.expect) != std::string::npos);
        CHECK(lines_of(r.err).size() == 1);
        CHECK(r.err.find("s3cr3t") == std::string::npos);
        CHECK(r.err.find("pa55word") == std::string::npos);
    }
    // The same through the environment variables, MLRUN_TRACKING_URI before MLFLOW_TRACKING_URI.
    RunResult env = run_cli_env(dir, {"pipeline", "run", "-q", file},
                                {{"MLRUN_TRACKING_URI", html.url()}, {"MLFLOW_TRACKING_URI", "http://127.0.0.1:1"}});
    CHECK(env.code == 2);
    CHECK(env.err.find("not an MLflow tracking server") != std::string::npos);
    RunResult mlflow_env = run_cli_env(dir, {"pipeline", "run", "-q", file}, {{"MLFLOW_TRACKING_URI", html.url()}});
    CHECK(mlflow_env.code == 2);

    Backends b = engine_backends(dir);
    CHECK(b.store->list(TaskFilter{}).empty());
    CHECK(b.store->list_records("runs").empty());
    // Commands that run no task never connect: a listing works with the server down.
    RunResult list = run_cli(dir, {"--tracking", "http://127.0.0.1:" + std::to_string(free_port()), "task", "list"});
    CHECK(list.code == 0);
}
