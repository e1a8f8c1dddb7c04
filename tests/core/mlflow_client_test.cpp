// The typed MLflow REST calls against the strict fake server: key sanitising, value
// truncation, batch splitting, experiments, run search, the model registry. Each test
// names the recorded exchange of shared/mlflow-contract/ it follows.
#include "fake_mlflow.hpp"

#include "tracking/mlflow_client.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <set>

using namespace mlrun;
using namespace mlrun::mlflow;
using namespace mlrun::test;

namespace {

HttpConfig fast(const std::string& url)
{
    HttpConfig c;
    c.base_url = url;
    c.connect_timeout_ms = 1000;
    c.total_timeout_ms = 3000;
    c.max_attempts = 3;
    c.backoff_initial_ms = 5;
    c.backoff_max_ms = 50;
    return c;
}

struct Fixture {
    FakeMlflow fake;
    MlflowClient client{fast(fake.url())};
    std::string experiment;
    std::string run;

    Fixture()
    {
        auto e = client.ensure_experiment("client-test");
        REQUIRE(e.ok());
        experiment = e.value();
        auto r = client.create_run(experiment, "train-1", 1795345453402, {{"mlrun.task_id", "t1"}});
        REQUIRE(r.ok());
        run = r.value().run_id;
    }
};

} // namespace

TEST_CASE("mlflow keys: ordinary keys pass unchanged; others map one to one into the server's set")
{
    // limits.txt: "param key with slash and space" 200, "bad char '!'" 400, "'..'" 400, "key len 251" 400
    CHECK(sanitize_key("model.lr") == "model.lr");
    CHECK(sanitize_key("loss/train") == "loss/train");
    CHECK(sanitize_key("f1-score_macro") == "f1-score_macro");
    CHECK(sanitize_key("a:b") == "a 3Ab");
    CHECK(sanitize_key("a b") == "a 20b");

    const std::vector<std::string> keys{"a:b",
                                        "a 3Ab",
                                        "a b",
                                        "a 20b",
                                        "bad!",
                                        "../x",
                                        "a//b",
                                        "a/./b",
                                        "/abs",
                                        "trail/",
                                        ".",
                                        "..",
                                        "é",
                                        "a\tb",
                                        "a 3Ab ",
                                        "x",
                                        "",
                                        " ",
                                        "_",
                                        "a..b",
                                        std::string(300, 'k'),
                                        std::string(300, 'k') + "1",
                                        std::string(249, 'k') + ":",
                                        "loss/train",
                                        "loss train"};
    Fixture f;
    std::set<std::string> mapped;
    std::vector<KeyValue> params;
    for (const std::string& k : keys) {
        const std::string m = sanitize_key(k);
        CHECK(m.size() <= k_max_key_length);
        CHECK(mapped.insert(m).second); // no collision
        if (!k.empty() && m.size() < 231) {
            CHECK(unsanitize_key(m) == k); // documented inverse
        }
        params.push_back({m, "v"});
    }
    // The strict fake applies MLflow's name checks: every mapped key is accepted.
    auto e = f.client.log_batch(f.run, {}, params, {});
    CHECK_FALSE(e.has_value());
    if (e) {
        MESSAGE(e->message);
    }
    CHECK(f.fake.run(f.run)->params.size() == keys.size());
}

TEST_CASE("mlflow values: a param value over 6000 bytes is truncated with a marker and accepted")
{
    // limits.txt: "param value len 6000" 200, "len 6001" 400
    Fixture f;
    std::string big;
    for (int i = 0; i < 4000; ++i) {
        big += "é"; // 2 bytes each: the cut must not split one
    }
    const std::string cut = truncate_value(big, k_max_param_value);
    CHECK(cut.size() <= k_max_param_value);
    CHECK(cut.find("truncated from 8000 bytes") != std::string::npos);
    CHECK(truncate_value("short", k_max_param_value) == "short");
    CHECK_FALSE(f.client.log_batch(f.run, {}, {{"big", cut}}, {}).has_value());
    CHECK(f.fake.run(f.run)->param("big") == cut);

    // Sent untruncated, the fake answers the recorded 400 and the client reports it.
    auto e = f.client.log_batch(f.run, {}, {{"big2", std::string(6001, 'a')}}, {});
    REQUIRE(e.has_value());
    CHECK(e->status == 400);
    CHECK(e->message.find("exceeded length limit of 6000") != std::string::npos);
}

TEST_CASE("mlflow log-batch: split to 1000 metrics / 100 params / 100 tags / 1000 entities, in order")
{
    // limits.txt: 1000 metrics 200 / 1001 400; 100 params / 101; 100 tags / 101; 900+100+100 400; 800+100+100 200
    Fixture f;
    std::vector<MetricPoint> metrics;
    for (int i = 0; i < 2500; ++i) {
        metrics.push_back({"loss", 1.0 / (i + 1), 1795345459648 + i, i});
    }
    std::vector<KeyValue> params, tags;
    for (int i = 0; i < 150; ++i) {
        params.push_back({"p" + std::to_string(i), std::to_string(i)});
    }
    for (int i = 0; i < 120; ++i) {
        tags.push_back({"t" + std::to_string(i), "v"});
    }
    const int before = f.fake.count("log-batch");
    std::size_t done = 0;
    auto e = f.client.log_batch(f.run, metrics, params, tags, &done);
    REQUIRE_FALSE(e.has_value());
    CHECK(done == 3); // 100p+100t+800m, 50p+20t+930m, 770m
    CHECK(f.fake.count("log-batch") - before == 3);
    CHECK(MlflowClient::metrics_in_requests(2500, 150, 120, 1) == 800);
    CHECK(MlflowClient::metrics_in_requests(2500, 150, 120, 2) == 1730);
    CHECK(MlflowClient::metrics_in_requests(2500, 150, 120, 3) == 2500);
    auto history = f.client.metric_history(f.run, "loss");
    REQUIRE(history.ok());
    REQUIRE(history.value().size() == 2500);
    for (int i = 0; i < 2500; ++i) {
        CHECK(history.value()[i].step == i);
    }
    const FakeRun r = *f.fake.run(f.run);
    CHECK(r.params.size() == 150);
    CHECK(r.tags.size() == 120 + 2); // + mlrun.task_id and mlflow.runName

    // NaN and infinities travel as the strings the server accepts (limits.txt: NaN/Infinity as strings 200).
    CHECK_FALSE(f.client.log_batch(f.run, {{"nan", std::nan(""), 1, 0}, {"inf", HUGE_VAL, 1, 0}}, {}, {}).has_value());
    CHECK(f.fake.violations().empty());
}

TEST_CASE("mlflow experiments: get-by-name, else create; a second ensure finds it")
{
    // transcript: experiments/create -> "1"; create again -> 400 RESOURCE_ALREADY_EXISTS;
    // get-by-name cpp-pipeline-test; get-by-name does-not-exist -> 404
    FakeMlflow fake;
    MlflowClient client(fast(fake.url()));
    auto a = client.ensure_experiment("cpp-pipeline-test");
    auto b = client.ensure_experiment("cpp-pipeline-test");
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a.value() == b.value());
    CHECK(a.value() == "1");
    CHECK(fake.count("experiments/create") == 1);
    auto sub = client.ensure_experiment("proj/sub");
    REQUIRE(sub.ok());
    CHECK(sub.value() == "2");
}

TEST_CASE("mlflow runs: search by tag finds the run; no match answers {}")
{
    // transcript: runs/search filter "tags.sweep = 's1'" (paged), filter with tags.`mlflow.runName`,
    // experiment_ids ["999"] -> {}
    Fixture f;
    auto none = f.client.find_run_by_tag(f.experiment, "mlrun.task_id", "other");
    REQUIRE(none.ok());
    CHECK_FALSE(none.value().has_value());
    auto found = f.client.find_run_by_tag(f.experiment, "mlrun.task_id", "t1");
    REQUIRE(found.ok());
    REQUIRE(found.value().has_value());
    CHECK(found.value()->run_id == f.run);
    CHECK(found.value()->start_time == 1795345453402);
    CHECK(found.value()->artifact_uri == "mlflow-artifacts:/" + f.experiment + "/" + f.run + "/artifacts");

    CHECK_FALSE(f.client.update_run(f.run, "FINISHED", 1795345498369).has_value());
    auto got = f.client.get_run(f.run);
    REQUIRE(got.ok());
    CHECK(got.value().status == "FINISHED");
    CHECK(got.value().end_time == 1795345498369);
    CHECK(f.fake.violations().empty());
}

TEST_CASE("mlflow registry: model, versions by run id, alias set and read")
{
    // transcript: registered-models/create (again -> RESOURCE_ALREADY_EXISTS), model-versions/create
    // -> "1" then "2", registered-models/alias POST/GET, alias nope -> 400, model-versions/search GET
    Fixture f;
    CHECK_FALSE(f.client.ensure_registered_model("cpp-model").has_value());
    CHECK_FALSE(f.client.ensure_registered_model("cpp-model").has_value());
    const std::string source = "mlflow-artifacts:/" + f.experiment + "/" + f.run + "/artifacts/model";
    auto none = f.client.versions_of_run("cpp-model", f.run);
    REQUIRE(none.ok());
    CHECK(none.value().empty());
    auto v = f.client.create_model_version("cpp-model", source, f.run, {{"framework", "onnx"}});
    REQUIRE(v.ok());
    CHECK(v.value().version == "1");
    auto again = f.client.versions_of_run("cpp-model", f.run);
    REQUIRE(again.ok());
    REQUIRE(again.value().size() == 1);
    CHECK(again.value()[0].source == source);

    auto unknown = f.client.get_alias("cpp-model", "champion");
    REQUIRE(unknown.ok());
    CHECK_FALSE(unknown.value().has_value());
    CHECK_FALSE(f.client.set_alias("cpp-model", "champion", "1").has_value());
    auto got = f.client.get_alias("cpp-model", "champion");
    REQUIRE(got.ok());
    REQUIRE(got.value().has_value());
    CHECK(got.value()->version == "1");
    CHECK(got.value()->run_id == f.run);
    auto reserved = f.client.set_alias("cpp-model", "latest", "1");
    REQUIRE(reserved.has_value());
    CHECK(reserved->message.find("reserved") != std::string::npos);
    CHECK_FALSE(f.client.set_model_version_tag("cpp-model", "1", "validation_status", "approved").has_value());
    CHECK(f.fake.violations().empty());
}

TEST_CASE("fake mlflow: answers as the recorded server does (limits, wrong types, HTML, non-idempotent create)")
{
    // limits.txt: 1001 metrics -> 400 with its message; param value as a number -> 200 stored as "";
    // metric without timestamp -> 400; transcript: runs/create twice = two runs; GET runs/search -> 405 HTML
    Fixture f;
    HttpClient& http = f.client.http();
    std::string body = "{\"run_id\":\"" + f.run + "\",\"metrics\":[";
    for (int i = 0; i < 1001; ++i) {
        body += (i ? "," : "") + std::string("{\"key\":\"m\",\"value\":1,\"timestamp\":1,\"step\":") + std::to_string(i)
                + "}";
    }
    body += "]}";
    auto over = http.post_json("/api/2.0/mlflow/runs/log-batch", body);
    REQUIRE_FALSE(over.ok());
    CHECK(over.error().status == 400);
    CHECK(over.error().message.find("A batch logging request can contain at most 1000 metrics. Got 1001 metrics.")
          != std::string::npos);
    CHECK(f.fake.run(f.run)->metrics.empty()); // all or nothing

    auto typed = http.post_json("/api/2.0/mlflow/runs/log-batch",
                                "{\"run_id\":\"" + f.run + "\",\"params\":[{\"key\":\"numparam\",\"value\":5}]}");
    CHECK(typed.ok());
    CHECK(f.fake.run(f.run)->param("numparam").empty());
    CHECK(f.fake.violations().size() == 1);

    auto nots = http.post_json("/api/2.0/mlflow/runs/log-batch",
                               "{\"run_id\":\"" + f.run
                                   + "\",\"metrics\":[{\"key\":\"nots\",\"value\":1,\"step\":0}]}");
    REQUIRE_FALSE(nots.ok());
    CHECK(nots.error().status == 400);

    const std::string create = "{\"experiment_id\":\"" + f.experiment + "\",\"start_time\":1}";
    CHECK(http.post_json("/api/2.0/mlflow/runs/create", create).ok());
    CHECK(http.post_json("/api/2.0/mlflow/runs/create", create).ok());
    CHECK(f.fake.runs().size() == 3);

    auto get_search = http.get("/api/2.0/mlflow/runs/search?experiment_ids=1");
    REQUIRE_FALSE(get_search.ok());
    CHECK(get_search.error().status == 405);
    CHECK(get_search.error().kind == HttpError::Kind::not_mlflow);
}
