// MlflowSink, the MLflow mirror, against the strict fake server: the mapping, batching,
// faults, exactly-once re-sync and the sync cursor. Each test names the recorded exchanges
// of shared/mlflow-contract/ it follows.
#include "fake_mlflow.hpp"
#include "test_util.hpp"

#include "core/util.hpp"
#include "tracking/mlflow_client.hpp"
#include "tracking/mlflow_sink.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>

using namespace mlrun;
using namespace mlrun::mlflow;
using namespace mlrun::test;

namespace {

const std::int64_t k_t0 = 1795345450000;

MlflowSinkOptions options(const std::string& url)
{
    MlflowSinkOptions o;
    o.http.base_url = url;
    o.http.connect_timeout_ms = 1000;
    o.http.total_timeout_ms = 3000;
    o.http.max_attempts = 4;
    o.http.backoff_initial_ms = 5;
    o.http.backoff_max_ms = 50;
    o.linger_ms = 20;
    o.offline_ms = 3000;
    o.user = "tester";
    return o;
}

Json pipeline_run(const std::string& status)
{
    return Json{{"id", "R1"},
                {"pipeline", "titanic"},
                {"project", "titanic"},
                {"file", "/src/pipeline.yaml"},
                {"status", status},
                {"started_ms", k_t0},
                {"finished_ms", status == "running" ? Json(nullptr) : Json(k_t0 + 9000)}};
}

Task make_task(const std::string& id, Status status)
{
    Task t;
    t.id = id;
    t.name = "train::" + id;
    t.project = "titanic";
    t.kind = "train_model";
    t.template_name = "train_mlp";
    t.run_id = "R1";
    t.step = "train::mlp";
    t.params = Json{{"model", {{"lr", 0.01}, {"layers", {64, 32}}}}, {"env", {{"API_TOKEN", "s3cr3t"}}}, {"name", "x"}};
    t.status = status;
    t.created_ms = k_t0;
    t.started_ms = k_t0 + 100;
    if (is_final(status)) {
        t.finished_ms = k_t0 + 5000;
        t.values = Json{{"roc_auc", 0.91}, {"timing", {{"train_s", 1.5}}}, {"note", "text is not a metric"}};
    }
    return t;
}

// n scalars: loss/train and loss/valid alternating, step i/2, each with its own timestamp.
std::vector<Scalar> make_scalars(std::int64_t from, std::int64_t n)
{
    std::vector<Scalar> out;
    for (std::int64_t i = from; i < from + n; ++i) {
        out.push_back({"loss", i % 2 ? "valid" : "train", i / 2, 1.0 / static_cast<double>(i + 1), k_t0 + 200 + i});
    }
    return out;
}

void feed_scalars(MlflowSink& sink, const std::string& task, std::int64_t n, std::int64_t batch)
{
    for (std::int64_t i = 0; i < n; i += batch) {
        CHECK_FALSE(sink.scalars(task, make_scalars(i, std::min(batch, n - i))).has_value());
    }
}

// A whole task, as the engine feeds it: run, start, scalars, artifacts, end, model.
void feed_task(MlflowSink& sink, const fs::path& dir, std::int64_t scalars)
{
    CHECK_FALSE(sink.run_started(pipeline_run("running")).has_value());
    CHECK_FALSE(sink.task_started(make_task("t1", Status::in_progress)).has_value());
    feed_scalars(sink, "t1", scalars, 100);
    ArtifactRecord file{"leaderboard.json", "application/json", 0, sha256_file(dir / "leaderboard.json"), ""};
    CHECK_FALSE(sink.artifact("t1", file, dir / "leaderboard.json").has_value());
    ArtifactRecord folder{"model", "", 0, "", ""};
    CHECK_FALSE(sink.artifact("t1", folder, dir / "model").has_value());
    CHECK_FALSE(sink.task_ended(make_task("t1", Status::completed)).has_value());
    CHECK_FALSE(sink.run_ended(pipeline_run("completed")).has_value());
    ModelRecord m;
    m.name = "titanic";
    m.version = 1;
    m.task_id = "t1";
    m.run_id = "R1";
    m.artifact = "model";
    m.metrics = Json{{"roc_auc", 0.91}};
    CHECK_FALSE(sink.model_registered(m).has_value());
}

void write_outputs(const fs::path& dir)
{
    fs::create_directories(dir / "model" / "sub");
    std::ofstream(dir / "leaderboard.json") << R"({"best": "t1"})";
    std::ofstream(dir / "model" / "model.json") << R"({"kind": "mlp"})";
    std::ofstream(dir / "model" / "sub" / "weights.bin") << std::string(100000, 'w');
}

std::vector<FakePoint> history(const FakeMlflow& fake, const std::string& run_id, const std::string& key)
{
    auto r = fake.run(run_id);
    REQUIRE(r.has_value());
    auto it = r->metrics.find(key);
    return it == r->metrics.end() ? std::vector<FakePoint>() : it->second;
}

} // namespace

TEST_CASE("mlflow sink: a task's params, scalars, values, artifacts, status and model arrive as mapped")
{
    // transcript: experiments/create, runs/create with start_time and tags, runs/log-batch,
    // metrics/get-history, PUT mlflow-artifacts, runs/update FINISHED with end_time,
    // registered-models/create, model-versions/create (source mlflow-artifacts:/…), alias POST
    FakeMlflow fake;
    TempDir dir;
    write_outputs(dir.path());
    {
        MlflowSink sink(options(fake.url()));
        feed_task(sink, dir.path(), 6);
        const Outcome flushed = sink.flush();
        CHECK_FALSE(flushed.has_value());
        if (flushed) {
            MESSAGE(flushed->message);
        }
        const Json c = sink.task_cursor("t1");
        CHECK(c["scalars_sent"] == 6);
        CHECK(c["params_sent"] == true);
        CHECK(c["status_sent"] == "FINISHED");
        CHECK(c["needs_sync"] == false);
        CHECK(c["artifacts_sent"].size() == 2);
        CHECK(c["models_sent"]["titanic@1"] == "1");
        CHECK(sink.run_cursor("R1")["status_sent"] == "FINISHED");
    }
    CHECK(fake.experiment_names() == std::vector<std::string>{"Default", "titanic"});
    auto parents = fake.runs_tagged("mlrun.kind", "pipeline");
    REQUIRE(parents.size() == 1);
    const FakeRun parent = parents[0];
    CHECK(parent.tag("mlrun.pipeline_run") == "R1");
    CHECK(parent.status == "FINISHED");
    CHECK(parent.end_time == k_t0 + 9000);
    CHECK(parent.start_time == k_t0);

    auto children = fake.runs_tagged("mlrun.task_id", "t1");
    REQUIRE(children.size() == 1);
    const FakeRun run = children[0];
    CHECK(run.run_name == "train::t1");
    CHECK(run.tag("mlflow.parentRunId") == parent.run_id);
    CHECK(run.tag("mlflow.runName") == "train::t1");
    CHECK(run.tag("mlflow.user") == "tester");
    CHECK(run.tag("mlrun.run_id") == "R1");
    CHECK(run.tag("mlrun.step") == "train::mlp");
    CHECK(run.tag("mlrun.template") == "train_mlp");
    CHECK(run.tag("mlrun.kind") == "train_model");
    CHECK(run.tag("mlrun.status") == "completed");
    CHECK(run.start_time == k_t0 + 100);
    CHECK(run.status == "FINISHED");
    CHECK(run.end_time == k_t0 + 5000);
    CHECK(run.param("model.lr") == "0.01");
    CHECK(run.param("model.layers") == "[64,32]");
    CHECK(run.param("name") == "x");
    CHECK(run.param("env.API_TOKEN") == "***"); // secrets never leave the machine

    const auto train = history(fake, run.run_id, "loss/train");
    REQUIRE(train.size() == 3);
    for (int i = 0; i < 3; ++i) {
        CHECK(train[i].step == i);
        CHECK(train[i].timestamp == k_t0 + 200 + 2 * i); // the scalar's own time
    }
    CHECK(history(fake, run.run_id, "loss/valid").size() == 3);
    const auto auc = history(fake, run.run_id, "roc_auc");
    REQUIRE(auc.size() == 1);
    CHECK(auc[0].value == 0.91);
    CHECK(auc[0].step == 0);
    CHECK(auc[0].timestamp == k_t0 + 5000);
    CHECK(history(fake, run.run_id, "timing.train_s").size() == 1);
    CHECK(history(fake, run.run_id, "note").empty());

    auto art = fake.artifacts(run.run_id);
    CHECK(art["leaderboard.json"] == R"({"best": "t1"})");
    CHECK(art["model/model.json"] == R"({"kind": "mlp"})");
    CHECK(art["model/sub/weights.bin"].size() == 100000);

    auto versions = fake.versions("titanic");
    REQUIRE(versions.size() == 1);
    CHECK(versions[0].run_id == run.run_id);
    CHECK(versions[0].source == "mlflow-artifacts:/" + run.experiment_id + "/" + run.run_id + "/artifacts/model");
    CHECK(fake.alias("titanic", "recommended") == "1");
    CHECK(fake.violations().empty());
}

TEST_CASE("mlflow sink: search trials nest under their step's run")
{
    // transcript: runs/create with tags (mlflow.parentRunId is an ordinary tag on create)
    FakeMlflow fake;
    MlflowSink sink(options(fake.url()));
    sink.run_started(pipeline_run("running"));
    Task step = make_task("step", Status::in_progress);
    Task trial = make_task("trial1", Status::in_progress);
    trial.parent = "step";
    sink.task_started(step);
    sink.task_started(trial);
    CHECK_FALSE(sink.flush().has_value());
    auto steps = fake.runs_tagged("mlrun.task_id", "step");
    auto trials = fake.runs_tagged("mlrun.task_id", "trial1");
    REQUIRE(steps.size() == 1);
    REQUIRE(trials.size() == 1);
    CHECK(trials[0].tag("mlflow.parentRunId") == steps[0].run_id);
    CHECK(steps[0].tag("mlflow.parentRunId") == fake.runs_tagged("mlrun.kind", "pipeline").at(0).run_id);
}

TEST_CASE("mlflow sink: 100,000 scalars arrive complete and in order in at most 110 requests")
{
    // limits.txt: 1000 metrics per request is the most the server takes
    FakeMlflow fake;
    MlflowSinkOptions o = options(fake.url());
    o.linger_ms = 1000; // a loaded test machine may pause the feeding thread; flush() cuts the wait
    MlflowSink sink(o);
    sink.task_started(make_task("t1", Status::in_progress));
    feed_scalars(sink, "t1", 100000, 100);
    CHECK_FALSE(sink.flush().has_value());
    CHECK(fake.count() <= 110);
    CHECK(sink.task_cursor("t1")["scalars_sent"] == 100000);
    const std::string id = fake.runs_tagged("mlrun.task_id", "t1").at(0).run_id;
    for (const char* key : {"loss/train", "loss/valid"}) {
        const auto points = history(fake, id, key);
        REQUIRE(points.size() == 50000);
        bool ordered = true;
        for (std::size_t i = 0; i < points.size(); ++i) {
            ordered = ordered && points[i].step == static_cast<std::int64_t>(i);
        }
        CHECK(ordered);
    }
    MESSAGE("requests for 100,000 scalars: " << fake.count());
}

TEST_CASE("mlflow sink: 500s and 429s for a while are retried; nothing is lost or duplicated")
{
    // transcript: runs/log-batch 200 {} after the injected failures; README Idempotency (exact re-sends deduplicated)
    FakeMlflow fake;
    fake.set_retry_after(0);
    MlflowSink sink(options(fake.url()));
    sink.task_started(make_task("t1", Status::in_progress));
    fake.fail_next(3, 500, "log-batch");  // the params batch: three 500s, the 4th try passes
    fake.fail_next(3, 429, "loss/valid"); // then a scalar batch: three 429s
    fake.fail_next(2, 503, "runs/update");
    feed_scalars(sink, "t1", 5000, 250);
    sink.task_ended(make_task("t1", Status::failed));
    CHECK_FALSE(sink.flush().has_value());
    const FakeRun run = fake.runs_tagged("mlrun.task_id", "t1").at(0);
    CHECK(history(fake, run.run_id, "loss/train").size() == 2500);
    CHECK(history(fake, run.run_id, "loss/valid").size() == 2500);
    CHECK(run.status == "FAILED");
    CHECK(sink.task_cursor("t1")["scalars_sent"] == 5000);
    CHECK(sink.needs_sync().empty());
}

TEST_CASE("mlflow sink: answers lost after the server stored them leave no duplicate point, run or version")
{
    // README Idempotency: log-batch re-sent with the original timestamps is deduplicated;
    // runs/create and model-versions/create are not idempotent, so the sink looks them up again.
    FakeMlflow fake;
    TempDir dir;
    write_outputs(dir.path());
    fake.lose_answer_next(1, "runs/create");
    fake.lose_answer_next(2, "loss/train"); // the first scalar batch, and its first re-send
    fake.lose_answer_next(1, "model-versions/create");
    {
        MlflowSink sink(options(fake.url()));
        feed_task(sink, dir.path(), 3000);
        const Outcome flushed = sink.flush();
        CHECK_FALSE(flushed.has_value());
        if (flushed) {
            MESSAGE(flushed->message);
        }
    }
    CHECK(fake.runs_tagged("mlrun.kind", "pipeline").size() == 1);
    auto runs = fake.runs_tagged("mlrun.task_id", "t1");
    REQUIRE(runs.size() == 1);
    CHECK(history(fake, runs[0].run_id, "loss/train").size() == 1500);
    CHECK(history(fake, runs[0].run_id, "loss/valid").size() == 1500);
    CHECK(history(fake, runs[0].run_id, "roc_auc").size() == 1);
    CHECK(fake.versions("titanic").size() == 1);
    CHECK(fake.count("model-versions/create") == 1);
    CHECK(fake.violations().empty());
}

TEST_CASE("mlflow sink: the same task fed twice (a re-sync) makes no duplicate run, point or version")
{
    // README Idempotency: runs looked up by tags.mlrun.task_id, versions by run_id (GET model-versions/search)
    FakeMlflow fake;
    TempDir dir;
    write_outputs(dir.path());
    Json cursor;
    for (int round = 0; round < 2; ++round) {
        MlflowSink sink(options(fake.url()));
        feed_task(sink, dir.path(), 2000);
        CHECK_FALSE(sink.flush().has_value());
        cursor = sink.task_cursor("t1");
    }
    CHECK(fake.runs_tagged("mlrun.kind", "pipeline").size() == 1);
    auto runs = fake.runs_tagged("mlrun.task_id", "t1");
    REQUIRE(runs.size() == 1);
    CHECK(history(fake, runs[0].run_id, "loss/train").size() == 1000);
    CHECK(history(fake, runs[0].run_id, "roc_auc").size() == 1);
    CHECK(fake.versions("titanic").size() == 1);
    CHECK(fake.alias("titanic", "recommended") == "1");

    // With the stored cursor, a third pass sends no scalars again (they are skipped).
    const int batches = fake.count("log-batch");
    {
        MlflowSink sink(options(fake.url()));
        sink.restore_cursor("t1", cursor);
        feed_scalars(sink, "t1", 2000, 100);
        CHECK_FALSE(sink.flush().has_value());
        CHECK(sink.task_cursor("t1")["scalars_sent"] == 2000);
    }
    CHECK(fake.count("log-batch") == batches);
}

TEST_CASE("mlflow sink: server down never blocks; the cursor says what needs sync, and a later sync completes")
{
    // transcript: the HTTP 000 exchanges (server stopped), then the same requests answered
    TempDir dir;
    write_outputs(dir.path());
    Json cursor;
    std::vector<Json> cursors_seen;
    {
        MlflowSink sink(options("http://127.0.0.1:" + std::to_string(free_port())));
        sink.on_cursor([&](const std::string& id, const Json& c) {
            if (id == "t1") {
                cursors_seen.push_back(c);
            }
        });
        const auto t0 = std::chrono::steady_clock::now();
        feed_task(sink, dir.path(), 20000);
        const auto enqueue_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
        CHECK(enqueue_ms < 500); // the training side only enqueues
        const Outcome flushed = sink.flush();
        REQUIRE(flushed.has_value());
        CHECK(flushed->retryable);
        CHECK(flushed->message.find("mlrun sync") != std::string::npos);
        const auto total_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
        CHECK(total_ms < 3000); // one failed try, then offline: no per-event retries
        cursor = sink.task_cursor("t1");
        CHECK(cursor["needs_sync"] == true);
        CHECK(cursor["scalars_sent"] == 0);
        CHECK(cursor["run_id"] == "");
        CHECK_FALSE(sink.needs_sync().empty());
    }
    CHECK_FALSE(cursors_seen.empty());

    // `mlrun sync` later: the stored cursor and the same events, to a server that is up.
    FakeMlflow fake;
    {
        MlflowSink sink(options(fake.url()));
        sink.restore_cursor("t1", cursor);
        feed_task(sink, dir.path(), 20000);
        CHECK_FALSE(sink.flush().has_value());
        CHECK(sink.task_cursor("t1")["scalars_sent"] == 20000);
    }
    auto runs = fake.runs_tagged("mlrun.task_id", "t1");
    REQUIRE(runs.size() == 1);
    CHECK(history(fake, runs[0].run_id, "loss/train").size() == 10000);
    CHECK(runs[0].status == "FINISHED");
    CHECK(fake.versions("titanic").size() == 1);
}

TEST_CASE("mlflow sink: a full queue drops (and says so) instead of blocking; sent scalars stay a prefix")
{
    FakeMlflow fake;
    fake.set_delay_ms(50); // a slow server
    MlflowSinkOptions o = options(fake.url());
    o.queue_capacity = 10;
    MlflowSink sink(o);
    sink.task_started(make_task("t1", Status::in_progress));
    CHECK_FALSE(sink.scalars("t1", make_scalars(0, 5)).has_value());
    const Outcome dropped = sink.scalars("t1", make_scalars(5, 20));
    REQUIRE(dropped.has_value());
    CHECK(dropped->retryable);
    CHECK(dropped->message.find("queue full") != std::string::npos);
    (void)sink.scalars("t1", make_scalars(25, 2)); // after the gap: never sent out of order
    CHECK(sink.flush().has_value());
    const Json c = sink.task_cursor("t1");
    CHECK(c["needs_sync"] == true);
    CHECK(c["scalars_sent"] == 5);
    const std::string id = fake.runs_tagged("mlrun.task_id", "t1").at(0).run_id;
    CHECK(history(fake, id, "loss/train").size() + history(fake, id, "loss/valid").size() == 5);
}

TEST_CASE("mlflow sink: 401 and a non-MLflow server are configuration errors without secrets")
{
    FakeMlflow fake;
    fake.require_bearer("right");
    MlflowSinkOptions o = options(fake.url());
    o.http.token = "s3cr3t-token-value";
    {
        MlflowSink sink(o);
        sink.task_started(make_task("t1", Status::in_progress));
        feed_scalars(sink, "t1", 100, 100);
        const Outcome f = sink.flush();
        REQUIRE(f.has_value());
        CHECK_FALSE(f->retryable);
        CHECK(f->message.find("401") != std::string::npos);
        CHECK(f->message.find("s3cr3t") == std::string::npos);
        CHECK(sink.task_cursor("t1")["error"].get<std::string>().find("s3cr3t") == std::string::npos);
    }
    FakeMlflow html;
    html.set_html_mode(true);
    MlflowSink sink(options(html.url()));
    sink.task_started(make_task("t1", Status::in_progress));
    const Outcome f = sink.flush();
    REQUIRE(f.has_value());
    CHECK(f->message.find("not an MLflow tracking server") != std::string::npos);
}
