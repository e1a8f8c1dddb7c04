// The MLflow mirror's last pieces against the strict fake: the registry alias that moves only
// to a better model, `--baseline-model NAME@ALIAS`, the environment record as tags, what
// exec children log with `mlrun log`, a SIGKILL in the middle of a large upload, and the
// configuration errors that remained (403, TLS). Each test names the recorded exchanges of
// shared/mlflow-contract/ it follows; every server is the fake (fake_mlflow.hpp) it starts.
#include "engine_test_util.hpp"
#include "fake_mlflow.hpp"

#include "app/pipeline_job.hpp"
#include "app/sync.hpp"
#include "core/error.hpp"
#include "core/util.hpp"
#include "engine/run_record.hpp"
#include "tracking/mlflow_sink.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>

using namespace mlrun;
using namespace mlrun::test;

namespace {

const std::int64_t k_t0 = 1795345450000;

mlflow::MlflowSinkOptions sink_options(const std::string& url)
{
    mlflow::MlflowSinkOptions o;
    o.http.base_url = url;
    o.http.connect_timeout_ms = 1000;
    o.http.total_timeout_ms = 3000;
    o.http.max_attempts = 3;
    o.http.backoff_initial_ms = 5;
    o.http.backoff_max_ms = 50;
    o.linger_ms = 10;
    o.user = "tester";
    return o;
}

// One pipeline run R<n> whose summary recommended the model of training task t<n>: the
// run, the task (start, end) and the registered model, as the engine feeds a mirror.
void feed_recommended(mlflow::MlflowSink& sink, int n, double roc_auc, const std::string& reason_word = "highest")
{
    const std::string run = "R" + std::to_string(n);
    const std::string id = "t" + std::to_string(n);
    Json record{
        {"id", run}, {"pipeline", "titanic"}, {"project", "titanic"}, {"status", "running"}, {"started_ms", k_t0}};
    CHECK_FALSE(sink.run_started(record).has_value());
    Task t;
    t.id = id;
    t.name = "train::mlp";
    t.project = "titanic";
    t.kind = "train_model";
    t.run_id = run;
    t.step = "train::mlp";
    t.status = Status::in_progress;
    t.started_ms = k_t0 + n;
    CHECK_FALSE(sink.task_started(t).has_value());
    t.status = Status::completed;
    t.finished_ms = k_t0 + 1000 + n;
    t.values = Json{{"test", {{"roc_auc", roc_auc}}}};
    CHECK_FALSE(sink.task_ended(t).has_value());
    ModelRecord m;
    m.name = "titanic";
    m.version = n;
    m.task_id = id;
    m.run_id = run;
    m.artifact = "model";
    m.metrics = Json{{"roc_auc", roc_auc}, {"log_loss", 1 - roc_auc}};
    m.reason = reason_word + " roc_auc " + std::to_string(roc_auc) + " of 6 models; ties broken by log_loss";
    CHECK_FALSE(sink.model_registered(m).has_value());
    CHECK_FALSE(sink.flush().has_value());
}

std::string tag_of(const FakeVersion& v, const std::string& key)
{
    for (const auto& [k, value] : v.tags) {
        if (k == key) {
            return value;
        }
    }
    return "";
}

RunResult run_env(const TempDir& dir, std::vector<std::string> args, const std::map<std::string, std::string>& env)
{
    args.insert(args.begin(), {"--templates", k_templates});
    return run(dir, args, env);
}

// The task runs of one pipeline run on the fake, by task name.
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

std::size_t points(const FakeMlflow& fake, const std::string& run_id, const std::string& key)
{
    auto r = fake.run(run_id);
    REQUIRE(r.has_value());
    auto it = r->metrics.find(key);
    return it == r->metrics.end() ? 0 : it->second.size();
}

} // namespace

TEST_CASE("mlflow sink: the alias moves to a new version only when it beats the holder on the primary metric")
{
    // transcript: registered-models/create (then RESOURCE_ALREADY_EXISTS), model-versions/create
    // with source mlflow-artifacts:/… and run_id, GET registered-models/alias (unknown -> 400),
    // POST registered-models/alias with the version as a string
    FakeMlflow fake;
    {
        mlflow::MlflowSink sink(sink_options(fake.url()));
        feed_recommended(sink, 1, 0.80);
        CHECK(fake.alias("titanic", "recommended") == "1"); // nothing held it
        feed_recommended(sink, 2, 0.85);
        CHECK(fake.alias("titanic", "recommended") == "2"); // better
        feed_recommended(sink, 3, 0.82);
        CHECK(fake.alias("titanic", "recommended") == "2"); // worse: the alias stays
        feed_recommended(sink, 4, 0.85);
        CHECK(fake.alias("titanic", "recommended") == "2"); // a tie does not win
    }
    CHECK(fake.violations().empty());
    const std::vector<FakeVersion> versions = fake.versions("titanic");
    REQUIRE(versions.size() == 4); // every recommended model is registered
    const FakeVersion& v3 = versions[2];
    CHECK(v3.run_id == fake.runs_tagged("mlrun.task_id", "t3").at(0).run_id);
    CHECK(v3.source
          == "mlflow-artifacts:/" + fake.runs_tagged("mlrun.task_id", "t3").at(0).experiment_id + "/" + v3.run_id
                 + "/artifacts/model");
    CHECK(tag_of(v3, "mlrun.primary_metric") == "roc_auc");
    CHECK(tag_of(v3, "mlrun.pipeline_run") == "R3");
    CHECK(std::stod(tag_of(v3, "mlrun.metric.roc_auc")) == doctest::Approx(0.82));

    // Lower is better for log_loss-like metrics; no number on either side replaces the holder.
    const std::vector<mlflow::KeyValue> holder{{"mlrun.metric.log_loss", "0.30"}};
    CHECK(mlflow::model_wins(Json{{"log_loss", 0.25}}, "log_loss", true, holder));
    CHECK_FALSE(mlflow::model_wins(Json{{"log_loss", 0.35}}, "log_loss", true, holder));
    CHECK(mlflow::model_wins(Json{{"log_loss", 0.35}}, "log_loss", true, {}));
    CHECK(mlflow::model_wins(Json::object(), "log_loss", true, holder));
}

TEST_CASE("mlflow sink: the environment record goes out as mlrun.env.* tags and mlflow.source.git.commit")
{
    // transcript: runs/log-batch with tags (tags overwrite), runs/get
    FakeMlflow fake;
    {
        mlflow::MlflowSink sink(sink_options(fake.url()));
        Task t;
        t.id = "e1";
        t.name = "prep";
        t.project = "env";
        t.kind = "exec";
        t.status = Status::in_progress;
        t.started_ms = k_t0;
        sink.set_environment("e1", Json{{"host", "box-7"},
                                        {"mlrun", "0.1.0"},
                                        {"cores", 2},
                                        {"git", {{"commit", "0123abcd"}, {"dirty", true}}}});
        CHECK_FALSE(sink.task_started(t).has_value());
        CHECK_FALSE(sink.flush().has_value());
    }
    const FakeRun r = fake.runs_tagged("mlrun.task_id", "e1").at(0);
    CHECK(r.tag("mlrun.env.host") == "box-7");
    CHECK(r.tag("mlrun.env.cores") == "2");
    CHECK(r.tag("mlrun.env.git.dirty") == "true");
    CHECK(r.tag("mlflow.source.git.commit") == "0123abcd");
    CHECK(fake.violations().empty());
}

TEST_CASE("baseline model: NAME@ALIAS is read from the registry; bad refs and unknown aliases are one clear line")
{
    // transcript: GET registered-models/alias (a version with its tags; unknown alias -> 400
    // INVALID_PARAMETER_VALUE "Registered model alias nope not found.")
    FakeMlflow fake;
    {
        mlflow::MlflowSink sink(sink_options(fake.url()));
        feed_recommended(sink, 1, 0.80);
        feed_recommended(sink, 2, 0.86);
    }
    const RegistryBaseline b = fetch_registry_baseline(fake.url(), "titanic@recommended");
    CHECK(b.label == "titanic@recommended (version 2)");
    const Json& row = b.leaderboard["models"][0];
    CHECK(row["task_id"] == b.leaderboard["recommended"]["task_id"]);
    CHECK(row["test"]["roc_auc"].get<double>() == doctest::Approx(0.86));

    // The comparison itself is check_baseline's: a drop beyond the allowance fails.
    const Json current{{"recommended", {{"task_id", "x"}}},
                       {"models", {{{"task_id", "x"}, {"test", {{"roc_auc", 0.83}}}}}}};
    std::vector<GateResult> gates = check_baseline(current, b.leaderboard, b.label, {{"roc_auc", 0.02}});
    REQUIRE(gates.size() == 1);
    CHECK_FALSE(gates[0].passed);
    CHECK(gates[0].name.find("vs model titanic@recommended (version 2)") != std::string::npos);
    gates = check_baseline(current, b.leaderboard, b.label, {{"roc_auc", 0.05}});
    CHECK(gates.at(0).passed);

    CHECK_THROWS_WITH_AS(fetch_registry_baseline(fake.url(), "titanic@champion"),
                         doctest::Contains("has no alias \"champion\""), UsageError);
    CHECK_THROWS_WITH_AS(fetch_registry_baseline(fake.url(), "nope@recommended"), doctest::Contains("model \"nope\""),
                         UsageError);
    CHECK_THROWS_WITH_AS(fetch_registry_baseline(fake.url(), "titanic"), doctest::Contains("expected NAME@ALIAS"),
                         UsageError);
    CHECK_THROWS_WITH_AS(
        fetch_registry_baseline("http://127.0.0.1:" + std::to_string(free_port()), "titanic@recommended"),
        doctest::Contains("--baseline-model titanic@recommended on http://127.0.0.1:"), UsageError);

    // From the CLI: exit 2 with one line, before any step runs.
    TempDir dir;
    const std::string file = write_pipeline(dir, "name: p\nsteps:\n  - name: a\n    template: noop\n");
    for (const std::string ref : {"titanic@champion", "nope@recommended"}) {
        CAPTURE(ref);
        RunResult r = run_cli(dir, {"--tracking", fake.url(), "pipeline", "run", "-q", file, "--baseline-model", ref,
                                    "--max-drop", "roc_auc=0.02"});
        CAPTURE(r.err);
        CHECK(r.code == 2);
        CHECK(lines_of(r.err).size() == 1);
        CHECK(r.err.find(ref) != std::string::npos);
    }
    RunResult no_drop = run_cli(
        dir, {"--tracking", fake.url(), "pipeline", "run", "-q", "--baseline-model", "titanic@recommended", file});
    CHECK(no_drop.code == 2);
    CHECK(no_drop.err.find("--baseline-model needs at least one --max-drop") != std::string::npos);
    Backends backends = engine_backends(dir);
    CHECK(backends.store->list(TaskFilter{}).empty());
}

TEST_CASE("tracking: a 403 and a TLS failure exit 2 before any task exists, without secrets")
{
    // transcript: an authenticating proxy in front of experiments/get-by-name (here refusing
    // with 403); https:// to a server that speaks plain HTTP (no TLS handshake possible)
    TempDir dir;
    const std::string file = write_pipeline(dir, "name: p\nsteps:\n  - name: a\n    template: noop\n");
    FakeMlflow forbidden;
    forbidden.set_forbidden(true);
    FakeMlflow plain;
    struct Case {
        std::string name;
        std::string uri;
        std::string expect;
    };
    const std::vector<Case> cases{
        {"403", "http://user:pa55word@127.0.0.1:" + std::to_string(forbidden.port()), "403"},
        {"tls", "https://user:pa55word@127.0.0.1:" + std::to_string(plain.port()), "TLS"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        RunResult r = run_env(dir, {"--tracking", c.uri, "pipeline", "run", "-q", file},
                              {{"MLFLOW_TRACKING_TOKEN", "s3cr3t-token-value"}});
        CAPTURE(r.err);
        CHECK(r.code == 2);
        CHECK(r.err.find(c.expect) != std::string::npos);
        CHECK(lines_of(r.err).size() == 1);
        CHECK(r.err.find("s3cr3t") == std::string::npos);
        CHECK(r.err.find("pa55word") == std::string::npos);
    }
    Backends b = engine_backends(dir);
    CHECK(b.store->list(TaskFilter{}).empty());
}

TEST_CASE("tracking: what exec children log with `mlrun log` reaches the mirror, and a re-sync adds no duplicate")
{
    // transcript: runs/log-batch (metrics with their original timestamps: an exact re-send
    // is not stored again, README Idempotency), PUT mlflow-artifacts, runs/update FINISHED
    FakeMlflow fake;
    TempDir dir;
    const std::string file = write_pipeline(dir, R"(name: kids
project: kids
steps:
  - name: train
    template: exec
    params:
      command: >-
        "$MLRUN_BIN" log scalar acc valid 0 0.5 &&
        printf '%s\n' '{"title":"loss","series":"train","iteration":0,"value":0.9}' > "$MLRUN_OUTPUT_DIR/metrics.jsonl" &&
        "$MLRUN_BIN" log scalar acc valid 1 0.75 &&
        f=$(mktemp) && printf 'from a child' > "$f" && "$MLRUN_BIN" log artifact child.txt "$f" && rm -f "$f" &&
        "$MLRUN_BIN" log value child_value 7
)");
    RunResult r = run_cli(dir, {"--tracking", fake.url(), "pipeline", "run", "-q", file});
    CAPTURE(r.err);
    REQUIRE(r.code == 0);
    const std::string run_id = run_id_of(r.out);
    const FakeRun train = child_runs(fake, run_id).at("train");
    CHECK(points(fake, train.run_id, "acc/valid") == 2);
    CHECK(points(fake, train.run_id, "loss/train") == 1);
    CHECK(points(fake, train.run_id, "child_value") == 1);
    CHECK(fake.artifacts(train.run_id).count("child.txt") == 1);
    CHECK(fake.artifacts(train.run_id)["child.txt"] == "from a child");
    CHECK(train.status == "FINISHED");

    Backends b = engine_backends(dir);
    const std::string train_id = node_tasks(load_run(b.ports(), run_id)).at("train");
    CHECK(task_mirror_state(*b.store, b.store->get(train_id)).synced);
    const Json cursor = *b.store->get_record("mlflow", train_id);
    CHECK(cursor["scalars_sent"] == 3);
    CHECK(cursor.value("scalars_order", "") == "mixed");

    // A stale cursor (one point "sent"): the sync re-sends every point in the store's order,
    // and the server keeps one of each.
    Json stale = cursor;
    stale["scalars_sent"] = 1;
    b.store->put_record("mlflow", train_id, stale);
    RunResult sync = run_cli(dir, {"--tracking", fake.url(), "sync", "--task", train_id});
    CAPTURE(sync.out);
    CHECK(sync.code == 0);
    CHECK(points(fake, train.run_id, "acc/valid") == 2);
    CHECK(points(fake, train.run_id, "loss/train") == 1);
    CHECK(fake.runs_tagged("mlrun.task_id", train_id).size() == 1);
    CHECK(task_mirror_state(*b.store, b.store->get(train_id)).synced);
    CHECK(fake.violations().empty());
}

TEST_CASE("tracking: each task records its environment; task show prints it, the mirror tags it")
{
    // transcript: runs/create with tags; runs/log-batch tags (mlflow.source.git.commit)
    FakeMlflow fake;
    TempDir dir;
    const std::string file = write_pipeline(dir, "name: envp\nproject: envp\nsteps:\n  - name: a\n    template: noop\n"
                                                 "    params: {value: 1}\n");
    const std::string git = "git -C '" + dir.path().string() + "' -c user.email=t@example.com -c user.name=t ";
    REQUIRE(std::system((git + "init -q && " + git + "add '" + file + "' && " + git + "commit -q -m one").c_str())
            == 0);
    std::string commit;
    if (FILE* p = ::popen(("git -C '" + dir.path().string() + "' rev-parse HEAD").c_str(), "r")) {
        char buf[64] = {};
        if (std::fgets(buf, sizeof buf, p)) {
            commit = trim(buf);
        }
        ::pclose(p);
    }
    REQUIRE(commit.size() == 40);

    RunResult r = run_cli(dir, {"--tracking", fake.url(), "pipeline", "run", "-q", file});
    CAPTURE(r.err);
    REQUIRE(r.code == 0);
    const std::string run_id = run_id_of(r.out);
    Backends b = engine_backends(dir);
    const std::string task_id = node_tasks(load_run(b.ports(), run_id)).at("a");
    RunResult show = run_cli(dir, {"task", "show", task_id});
    CAPTURE(show.out);
    CHECK(show.out.find("environment:") != std::string::npos);
    CHECK(show.out.find("  mlrun = " + std::string(MLRUN_VERSION)) != std::string::npos);
    CHECK(show.out.find("  host = ") != std::string::npos);
    CHECK(show.out.find("  cores = ") != std::string::npos);
    CHECK(show.out.find("  git.commit = " + commit) != std::string::npos);
    CHECK(show.out.find("  git.dirty = false") != std::string::npos);
    CHECK(show.out.find("libraries") == std::string::npos); // noop never loads libtorch
    const Json shown = show_json(dir, task_id);
    CHECK(shown["environment"]["git"]["commit"] == commit);

    const FakeRun mirrored = child_runs(fake, run_id).at("a");
    CHECK(mirrored.tag("mlflow.source.git.commit") == commit);
    CHECK(mirrored.tag("mlrun.env.git.dirty") == "false");
    CHECK_FALSE(mirrored.tag("mlrun.env.host").empty());
    CHECK(fake.runs_tagged("mlrun.pipeline_run", run_id).at(0).tag("mlflow.source.git.commit") == commit);

    // A change to a tracked file makes the next run's record dirty.
    std::ofstream(file, std::ios::app) << "# edited\n";
    RunResult again = run_cli(dir, {"pipeline", "run", "-q", "--no-cache", file});
    REQUIRE(again.code == 0);
    const std::string second = node_tasks(load_run(b.ports(), run_id_of(again.out))).at("a");
    CHECK(run_cli(dir, {"task", "show", second}).out.find("  git.dirty = true") != std::string::npos);
}

TEST_CASE("tracking: SIGKILL in the middle of a large artifact upload: nothing truncated is kept, sync sends it whole")
{
    // transcript: PUT mlflow-artifacts (body: 3000000 bytes from blob.bin), GET the same path
    // to compare; README: a PUT to an existing path replaces it (last write wins)
    FakeMlflow fake;
    fake.set_upload_delay_ms(2); // about 4 KiB per 2 ms: the 6 MB upload takes seconds
    TempDir dir;
    const std::string file = write_pipeline(dir, R"(name: big
project: big
steps:
  - name: make
    template: exec
    params:
      command: head -c 6000000 /dev/urandom > "$MLRUN_OUTPUT_DIR/big.bin"
)");
    Backends b = engine_backends(dir);
    std::string task_id;
    {
        Background bg(dir, {"--tracking", fake.url(), "pipeline", "run", "-q", file});
        // Killed once the task is complete locally and its upload is well under way.
        REQUIRE(wait_until(
            [&] {
                for (const Task& t : b.store->list(TaskFilter{})) {
                    if (t.status == Status::completed) {
                        task_id = t.id;
                    }
                }
                return !task_id.empty() && fake.upload_bytes_in_progress("big.bin") > 500'000;
            },
            30));
        bg.signal(SIGKILL);
        CHECK(bg.wait(10) == 128 + SIGKILL);
    }
    const FakeRun run = fake.runs_tagged("mlrun.task_id", task_id).at(0);
    REQUIRE(wait_until([&] { return !fake.partial_uploads().empty(); }, 10));
    const FakePartialUpload cut = fake.partial_uploads().at(0);
    CHECK(cut.path.find("big.bin") != std::string::npos);
    CHECK(cut.received < cut.expected);
    CHECK(cut.expected == 6'000'000);
    CHECK(fake.artifacts(run.run_id).count("big.bin") == 0); // never a truncated file
    const Task stored = b.store->get(task_id);
    CHECK_FALSE(task_mirror_state(*b.store, stored).synced);

    fake.set_upload_delay_ms(0);
    RunResult sync = run_cli(dir, {"--tracking", fake.url(), "sync"});
    CAPTURE(sync.out);
    CAPTURE(sync.err);
    CHECK(sync.code == 0);
    const std::map<std::string, std::string> files = fake.artifacts(run.run_id);
    REQUIRE(files.count("big.bin") == 1);
    CHECK(files.at("big.bin").size() == 6'000'000);
    std::string local_sha;
    for (const ArtifactRecord& a : stored.artifacts) {
        if (a.name == "big.bin") {
            local_sha = a.sha256;
        }
    }
    CHECK(sha256_hex(files.at("big.bin")) == local_sha);
    CHECK(fake.runs_tagged("mlrun.task_id", task_id).size() == 1);
    CHECK(task_mirror_state(*b.store, b.store->get(task_id)).synced);
}
