// The HTTP layer of the MLflow mirror against the strict fake server: retries, auth,
// TLS, "not an MLflow server", streamed uploads. Each test names the recorded exchange of
// shared/mlflow-contract/transcript.md (or limits.txt) it follows.
#include "fake_mlflow.hpp"
#include "test_util.hpp"

#include "core/error.hpp"
#include "tracking/mlflow_client.hpp"
#include "tracking/mlflow_http.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>

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
    c.max_attempts = 4;
    c.backoff_initial_ms = 5;
    c.backoff_max_ms = 300;
    return c;
}

long elapsed_ms(std::chrono::steady_clock::time_point since)
{
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since).count());
}

} // namespace

TEST_CASE("mlflow http: a 500 is retried until it succeeds; a 4xx is never retried")
{
    // transcript: GET runs/get?run_id=… (200) and GET runs/get?run_id=nope (404 RESOURCE_DOES_NOT_EXIST)
    FakeMlflow fake;
    MlflowClient client(fast(fake.url()));
    auto exp = client.ensure_experiment("retry");
    REQUIRE(exp.ok());
    auto run = client.create_run(exp.value(), "r", 1795345453402, {});
    REQUIRE(run.ok());

    fake.fail_next(2, 500, "runs/get");
    const int before = fake.count("runs/get");
    auto got = client.get_run(run.value().run_id);
    REQUIRE(got.ok());
    CHECK(got.value().run_id == run.value().run_id);
    CHECK(fake.count("runs/get") - before == 3);

    const int before_404 = fake.count("runs/get");
    auto missing = client.get_run("nope");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().status == 404);
    CHECK(missing.error().error_code == "RESOURCE_DOES_NOT_EXIST");
    CHECK_FALSE(missing.error().retryable());
    CHECK(fake.count("runs/get") - before_404 == 1);
    CHECK(fake.violations().empty());
}

TEST_CASE("mlflow http: 429 waits for Retry-After (capped) and then succeeds")
{
    // transcript: GET experiments/get-by-name?experiment_name=does-not-exist (404 JSON after the 429)
    FakeMlflow fake;
    fake.set_retry_after(1);
    fake.fail_next(1, 429, "experiments/get-by-name");
    HttpConfig cfg = fast(fake.url());
    cfg.backoff_max_ms = 400; // Retry-After 1 s, capped at 400 ms
    MlflowClient client(cfg);
    auto t0 = std::chrono::steady_clock::now();
    auto r = client.experiment_by_name("does-not-exist");
    REQUIRE(r.ok());
    CHECK_FALSE(r.value().has_value());
    CHECK(elapsed_ms(t0) >= 380);
    CHECK(fake.count("experiments/get-by-name") == 2);
}

TEST_CASE("mlflow http: a dropped connection is retried for reads, never for runs/create")
{
    // transcript: POST runs/create (not idempotent, README Idempotency) and GET experiments/get-by-name
    FakeMlflow fake;
    MlflowClient client(fast(fake.url()));
    auto exp = client.ensure_experiment("drops");
    REQUIRE(exp.ok());

    fake.drop_next(1, "experiments/get-by-name");
    auto again = client.experiment_by_name("drops");
    REQUIRE(again.ok());
    CHECK(again.value() == exp.value());

    fake.drop_next(1, "runs/create");
    auto created = client.create_run(exp.value(), "once", 1795345453402, {});
    REQUIRE_FALSE(created.ok());
    CHECK(created.error().kind == HttpError::Kind::connection);
    CHECK(fake.count("runs/create") == 1); // the client did not send it again
    CHECK(fake.runs().empty());
}

TEST_CASE("mlflow http: server down is a quick, retryable connection error")
{
    // transcript: the HTTP 000 exchanges (server stopped)
    HttpConfig cfg = fast("http://127.0.0.1:" + std::to_string(free_port()));
    cfg.max_attempts = 3;
    MlflowClient client(cfg);
    auto t0 = std::chrono::steady_clock::now();
    auto r = client.experiment_by_name("x");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == HttpError::Kind::connection);
    CHECK(r.error().retryable());
    CHECK(elapsed_ms(t0) < 2000);
    CHECK(client.http().requests_sent() == 3);
}

TEST_CASE("mlflow http: 401 is a clear auth error that never shows the token or password")
{
    // An auth proxy in front of the recorded server; it echoes the Authorization header it got.
    FakeMlflow fake;
    fake.require_bearer("the-right-token");
    HttpConfig cfg = fast(fake.url());
    cfg.token = "s3cr3t-token-value";
    MlflowClient client(cfg);
    auto e = client.check_server();
    REQUIRE(e.has_value());
    CHECK(e->kind == HttpError::Kind::auth);
    CHECK(e->configuration());
    CHECK(e->status == 401);
    CHECK(e->message.find("MLFLOW_TRACKING_TOKEN") != std::string::npos);
    CHECK(e->message.find("s3cr3t") == std::string::npos);
    CHECK(fake.count("get-by-name") == 1); // never retried

    cfg.token = "the-right-token";
    CHECK_FALSE(MlflowClient(cfg).check_server().has_value());

    FakeMlflow basic;
    basic.require_basic("ann", "pa55-word-x");
    HttpConfig b = fast(basic.url());
    b.username = "ann";
    b.password = "wrong-pa55";
    auto be = MlflowClient(b).check_server();
    REQUIRE(be.has_value());
    CHECK(be->kind == HttpError::Kind::auth);
    CHECK(be->message.find("wrong-pa55") == std::string::npos);
    b.password = "pa55-word-x";
    CHECK_FALSE(MlflowClient(b).check_server().has_value());

    // Credentials in the URL are masked too.
    HttpConfig u = fast("http://ann:pa55-in-url@127.0.0.1:" + std::to_string(fake.port()));
    auto ue = MlflowClient(u).check_server();
    REQUIRE(ue.has_value());
    CHECK(ue->message.find("pa55-in-url") == std::string::npos);
    CHECK(mask_url("https://ann:pw@host:5000/p") == "https://***@host:5000/p");
}

TEST_CASE("mlflow http: a server answering HTML at the API path is 'not an MLflow server'")
{
    // transcript: GET runs/search (405 HTML), DELETE artifact (500 HTML): MLflow answers JSON at
    // every API path it knows; some other web server answers HTML everywhere.
    FakeMlflow fake;
    fake.set_html_mode(true);
    MlflowClient client(fast(fake.url()));
    auto e = client.check_server();
    REQUIRE(e.has_value());
    CHECK(e->kind == HttpError::Kind::not_mlflow);
    CHECK(e->message.find("not an MLflow tracking server") != std::string::npos);

    // The real server's HTML 404 for a route it does not have.
    FakeMlflow real;
    auto unknown = MlflowClient(fast(real.url())).http().get("/api/2.0/mlflow/no-such-route");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().kind == HttpError::Kind::not_mlflow);
    CHECK(unknown.error().status == 404);
}

TEST_CASE("mlflow http: TLS to a plain HTTP server fails with a TLS error and a hint")
{
    FakeMlflow fake;
    HttpConfig cfg = fast("https://127.0.0.1:" + std::to_string(fake.port()));
    auto e = MlflowClient(cfg).check_server();
    REQUIRE(e.has_value());
    CHECK(e->kind == HttpError::Kind::tls);
    CHECK(e->message.find("MLFLOW_TRACKING_SERVER_CERT_PATH") != std::string::npos);
}

TEST_CASE("mlflow http: wrong scheme is a usage error; the environment gives the credentials")
{
    CHECK_THROWS_AS(HttpConfig::from_env("ftp://host:5000"), UsageError);
    ::setenv("MLFLOW_TRACKING_TOKEN", "tok", 1);
    ::setenv("MLFLOW_TRACKING_INSECURE_TLS", "true", 1);
    HttpConfig c = HttpConfig::from_env("https://host:5000/");
    ::unsetenv("MLFLOW_TRACKING_TOKEN");
    ::unsetenv("MLFLOW_TRACKING_INSECURE_TLS");
    CHECK(c.base_url == "https://host:5000");
    CHECK(c.token == "tok");
    CHECK(c.insecure_tls);
}

TEST_CASE("mlflow http: an artifact PUT streams the file and the server keeps identical bytes")
{
    // transcript: PUT …/artifacts/data/blob.bin (body: 3000000 bytes), GET -> identical; PUT path with spaces
    FakeMlflow fake;
    TempDir dir;
    std::string bytes(3000000, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
    }
    {
        std::ofstream(dir / "blob.bin", std::ios::binary) << bytes;
    }
    MlflowClient client(fast(fake.url()));
    auto exp = client.ensure_experiment("art");
    REQUIRE(exp.ok());
    auto run = client.create_run(exp.value(), "a", 1795345453402, {});
    REQUIRE(run.ok());
    const std::string id = run.value().run_id;
    fake.drop_next(1, "mlflow-artifacts"); // the retry re-reads the file from the start
    CHECK_FALSE(client.put_artifact(exp.value(), id, "data/blob.bin", dir / "blob.bin").has_value());
    CHECK_FALSE(client.put_artifact(exp.value(), id, "dir a/b c.txt", dir / "blob.bin").has_value());
    auto stored = fake.artifacts(id);
    REQUIRE(stored.count("data/blob.bin") == 1);
    CHECK(stored["data/blob.bin"] == bytes);
    CHECK(stored.count("dir a/b c.txt") == 1);

    auto listed = client.list_artifacts(id);
    REQUIRE(listed.ok());
    REQUIRE(listed.value().size() == 2);
    CHECK(listed.value()[0].path == "data");
    CHECK(listed.value()[0].is_dir);
    auto inside = client.list_artifacts(id, "data");
    REQUIRE(inside.ok());
    REQUIRE(inside.value().size() == 1);
    CHECK(inside.value()[0].path == "data/blob.bin");
    CHECK(inside.value()[0].file_size == 3000000);
    CHECK(client.put_artifact(exp.value(), id, "missing", dir / "nope").has_value());
}
