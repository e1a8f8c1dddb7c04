// Secrets in params are never shown: `task show` and the JSON listings redact them.
#include "test_util.hpp"

#include "app/uri.hpp"
#include "core/error.hpp"
#include "core/params.hpp"

#include <doctest/doctest.h>

using namespace mlrun;
using namespace mlrun::test;

TEST_CASE("redact_secrets hides secret-looking keys at any depth and keeps the rest")
{
    Json params = Json::parse(R"({"env": {"API_TOKEN": "abc", "HOME": "/h"}, "db": {"Password": "p", "user": "u"},
                                  "list": [{"secret_key": 1}], "model": {"lr": 0.1}})");
    Json shown = redact_secrets(params);
    CHECK(shown["env"]["API_TOKEN"] == "***");
    CHECK(shown["env"]["HOME"] == "/h");
    CHECK(shown["db"]["Password"] == "***");
    CHECK(shown["db"]["user"] == "u");
    CHECK(shown["list"][0]["secret_key"] == "***");
    CHECK(shown["model"]["lr"] == 0.1);
    CHECK(params["env"]["API_TOKEN"] == "abc"); // the record itself is unchanged
}

TEST_CASE("cli: task show and task show --json never print a secret param")
{
    TempDir dir;
    std::string id = create_task_cli(dir, {"exec", "--set", "env.API_TOKEN=s3cr3t-value", "--set", "command=true"});
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"task", "show", id}, {"task", "show", id, "--json"}, {"task", "list", "--json"}}) {
        RunResult r = run(dir, args);
        CHECK(r.code == 0);
        CHECK(r.out.find("s3cr3t-value") == std::string::npos);
        CHECK(r.out.find("***") != std::string::npos);
    }
}

TEST_CASE("redact_uri hides passwords, bare user tokens and token-like query parameters on the parsed URI")
{
    CHECK(redact_uri("https://user:secret@host/x") == "https://user:***@host/x");
    CHECK(redact_uri("https://ghp_TOKEN@host:8443/api") == "https://***@host:8443/api");
    CHECK(redact_uri("redis://:pw@cache:6379/0") == "redis://:***@cache:6379/0");
    std::string shown = redact_uri(
        "https://mlflow.example/api?token=abc123&experiment=7&API_KEY=k9&sig=zz&access_token=t0");
    CHECK(shown.find("abc123") == std::string::npos);
    CHECK(shown.find("k9") == std::string::npos);
    CHECK(shown.find("zz") == std::string::npos);
    CHECK(shown.find("t0") == std::string::npos);
    CHECK(shown.find("experiment=7") != std::string::npos); // the rest stays readable
    CHECK(shown.find("token=***") != std::string::npos);
    CHECK(redact_uri("https://host/plain") == "https://host/plain");
    CHECK(redact_uri("/a/local/path") == "/a/local/path");
    // Unparseable: nothing after the scheme is shown.
    CHECK(redact_uri("https://us er:pw@[bad") == "https://***");
}

TEST_CASE("parse_uri splits a URI into parts; a plain path stays a path")
{
    ParsedUri u = parse_uri("REDIS://me:pw@cache.local:6380/2?x=1#f");
    CHECK(u.scheme == "redis");
    CHECK(u.user == "me");
    CHECK(u.password == "pw");
    CHECK(u.host == "cache.local");
    CHECK(u.port == "6380");
    CHECK(u.path == "/2");
    CHECK(u.query == "x=1");
    CHECK(u.fragment == "f");
    CHECK(parse_uri("file://rel/store").path == "rel/store");
    CHECK(parse_uri("some/dir").scheme.empty());
    CHECK_THROWS_AS(parse_uri("https://us er:pw@[bad"), UsageError);
}

TEST_CASE("cli: an unsupported tracking URI is refused with its token redacted")
{
    TempDir dir;
    RunResult r = run(dir, {"--tracking", "ftp://host/x?token=s3cr3t-tok", "task", "list"});
    CHECK(r.code == 2);
    CHECK(r.err.find("s3cr3t-tok") == std::string::npos);
    CHECK(r.err.find("unsupported tracking URI") != std::string::npos);
}
