// Secrets in params are never shown: `task show` and the JSON listings redact them.
#include "test_util.hpp"

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
