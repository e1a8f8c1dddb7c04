// `pipeline run --dry-run` end to end: the DryRunStepRunner behind the CLI shows what would
// run, what is cached, and writes nothing.
#include "test_util.hpp"

#include "core/params.hpp"
#include "core/util.hpp"

#include <doctest/doctest.h>

namespace fs = std::filesystem;
using mlrun::test::run;
using mlrun::test::RunResult;
using mlrun::test::TempDir;

namespace {

const char* k_pipeline = R"(name: dry
parallelism: 2
steps:
  - {name: first, template: noop}
  - {name: mid, template: noop, parents: [first], foreach: {seed: [1, 2]}}
  - {name: last, template: noop, parents: [mid]}
)";

} // namespace

TEST_CASE("cli: pipeline run --dry-run shows what would run and writes nothing")
{
    TempDir dir;
    mlrun::test::write_text(dir / "p.yaml", k_pipeline);

    RunResult dry = run(dir, {"pipeline", "run", "--dry-run", (dir / "p.yaml").string()});
    CAPTURE(dry.out);
    CAPTURE(dry.err);
    CHECK(dry.code == 0);
    CHECK(dry.out.find("dry run: nothing was run or written") != std::string::npos);
    CHECK(dry.out.find("mid::1") != std::string::npos);
    CHECK(dry.out.find("last") != std::string::npos);
    // No task, no run record: the store was not even created.
    CHECK(!fs::exists(dir.home() / "tasks"));
    CHECK(!fs::exists(dir.home() / "records" / "runs"));

    // After a real run every step is cached: the dry run says so, and still adds nothing.
    RunResult real = run(dir, {"pipeline", "run", "-q", (dir / "p.yaml").string()});
    CAPTURE(real.err);
    REQUIRE(real.code == 0);
    size_t tasks = 0;
    for (const auto& e : fs::directory_iterator(dir.home() / "tasks")) {
        (void)e;
        ++tasks;
    }
    RunResult again = run(dir, {"pipeline", "run", "--dry-run", "--json", (dir / "p.yaml").string()});
    REQUIRE(again.code == 0);
    std::string last_line = again.out.substr(again.out.rfind('\n', again.out.size() - 2) + 1);
    mlrun::Json record = mlrun::Json::parse(last_line);
    REQUIRE(record["nodes"].size() == 4);
    for (const mlrun::Json& n : record["nodes"]) {
        CHECK_MESSAGE(n["state"] == "cached", n.dump());
    }
    size_t tasks_after = 0;
    for (const auto& e : fs::directory_iterator(dir.home() / "tasks")) {
        (void)e;
        ++tasks_after;
    }
    CHECK(tasks_after == tasks);
}
