// Pipeline files and options that are wrong: one clear "mlrun: error:" line, exit 2, and
// nothing run (no task, no run record).
#include "engine_test_util.hpp"

#include "engine/pipeline_spec.hpp"

#include <doctest/doctest.h>

using namespace mlrun;
using namespace mlrun::test;

namespace {

const char* k_good = R"(name: v
parallelism: 2
steps:
  - name: prep
    template: noop
  - name: train
    template: noop
    parents: [prep]
    foreach: {value: [a, b]}
)";

// Exit 2, exactly one stderr line starting "mlrun: error: " and holding `needle`, no task
// and no run written.
void check_rejected(const TempDir& dir, const RunResult& r, const std::string& needle)
{
    CAPTURE(r.out);
    CAPTURE(r.err);
    CHECK(r.code == 2);
    std::vector<std::string> lines = lines_of(r.err);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].rfind("mlrun: error: ", 0) == 0);
    CHECK(lines[0].find(needle) != std::string::npos);
    CHECK(count_entries(dir.home() / "tasks") == 0);
    CHECK(count_entries(dir.home() / "records" / "runs") == 0);
}

} // namespace

TEST_CASE("engine validation: unknown parent names it and suggests the nearest step")
{
    TempDir dir;
    std::string file = write_pipeline(dir, R"(steps:
  - name: preprocess
    template: noop
  - name: train
    template: noop
    parents: [preprocss]
)");
    RunResult r = run_cli(dir, {"pipeline", "run", file});
    check_rejected(dir, r, "unknown parent \"preprocss\"");
    CHECK(r.err.find("did you mean preprocess?") != std::string::npos);
    CHECK(r.err.find("step \"train\"") != std::string::npos);
}

TEST_CASE("engine validation: a cycle is reported as the path around it")
{
    TempDir dir;
    std::string file = write_pipeline(dir, R"(steps:
  - name: a
    template: noop
    parents: [b]
  - name: b
    template: noop
    parents: [a]
)");
    RunResult r = run_cli(dir, {"pipeline", "run", file});
    check_rejected(dir, r, "dependency cycle");
    CHECK(trim(r.err) == "mlrun: error: " + file + ": dependency cycle: a -> b -> a");

    // A longer cycle behind a sound root: the message walks only the cycle.
    std::string file3 = write_pipeline(dir, R"(steps:
  - name: root
    template: noop
  - name: x
    template: noop
    parents: [root, z]
  - name: y
    template: noop
    parents: [x]
  - name: z
    template: noop
    parents: [y]
)",
                                       "three.yaml");
    RunResult r3 = run_cli(dir, {"pipeline", "run", file3});
    check_rejected(dir, r3, "dependency cycle: x -> z -> y -> x");

    // Library: the same error as a UsageError, before any store is touched.
    CHECK_THROWS_WITH_AS(load_pipeline(file), (file + ": dependency cycle: a -> b -> a").c_str(), UsageError);
}

TEST_CASE("engine validation: duplicate step names, unknown template, unknown key, non-editable param")
{
    TempDir dir;
    SUBCASE("duplicate step name")
    {
        std::string file = write_pipeline(dir, R"(steps:
  - name: prep
    template: noop
  - name: prep
    template: exec
)");
        check_rejected(dir, run_cli(dir, {"pipeline", "run", file}), "step \"prep\": duplicate step name");
    }
    SUBCASE("missing template suggests the nearest")
    {
        std::string file = write_pipeline(dir, R"(steps:
  - name: prep
    template: noopp
)");
        RunResult r = run_cli(dir, {"pipeline", "run", file});
        check_rejected(dir, r, "noopp");
        CHECK(r.err.find("step \"prep\"") != std::string::npos);
        CHECK(r.err.find("did you mean noop?") != std::string::npos);
    }
    SUBCASE("unknown top-level key")
    {
        std::string file = write_pipeline(dir, R"(name: v
parallelsm: 2
steps:
  - name: prep
    template: noop
)");
        RunResult r = run_cli(dir, {"pipeline", "run", file});
        check_rejected(dir, r, "unknown key \"parallelsm\"");
        CHECK(r.err.find("did you mean parallelism?") != std::string::npos);
    }
    SUBCASE("unknown step key")
    {
        std::string file = write_pipeline(dir, R"(steps:
  - name: prep
    template: noop
    parent: [x]
)");
        RunResult r = run_cli(dir, {"pipeline", "run", file});
        check_rejected(dir, r, "unknown key \"parent\"");
        CHECK(r.err.find("did you mean parents?") != std::string::npos);
    }
    SUBCASE("param not in the template's editable list")
    {
        std::string file = write_pipeline(dir, R"(steps:
  - name: prep
    template: noop
    params: {nosuch: 1}
)");
        RunResult r = run_cli(dir, {"pipeline", "run", file});
        check_rejected(dir, r, "param \"nosuch\" is not editable in template noop");
        CHECK(r.err.find("step \"prep\"") != std::string::npos);
    }
    SUBCASE("foreach over a non-editable param")
    {
        std::string file = write_pipeline(dir, R"(steps:
  - name: prep
    template: noop
    foreach: {model.kind: [a, b]}
)");
        check_rejected(dir, run_cli(dir, {"pipeline", "run", file}), "foreach param \"model.kind\" is not editable");
    }
    SUBCASE("bad trigger and policy values")
    {
        std::string file = write_pipeline(dir, R"(policy: lenient
steps:
  - name: prep
    template: noop
)");
        check_rejected(dir, run_cli(dir, {"pipeline", "run", file}),
                       "\"policy\" must be partial or strict, not \"lenient\"");
        std::string file2 = write_pipeline(dir, R"(steps:
  - name: prep
    template: noop
    trigger: always
)",
                                           "t.yaml");
        check_rejected(dir, run_cli(dir, {"pipeline", "run", file2}), "\"trigger\" must be all_success or all_done");
    }
}

TEST_CASE("engine validation: --set on an unknown step and --no-cache-step bogus are rejected")
{
    TempDir dir;
    std::string file = write_pipeline(dir, k_good);
    RunResult r = run_cli(dir, {"pipeline", "run", file, "--set", "nosuch.x=1"});
    check_rejected(dir, r, "unknown step \"nosuch\"");

    RunResult near = run_cli(dir, {"pipeline", "run", file, "--set", "trian.value=1"});
    check_rejected(dir, near, "unknown step \"trian\"");
    CHECK(near.err.find("did you mean train?") != std::string::npos);

    RunResult bad_param = run_cli(dir, {"pipeline", "run", file, "--set", "prep.nosuch=1"});
    check_rejected(dir, bad_param, "param \"nosuch\" is not editable");

    RunResult step = run_cli(dir, {"pipeline", "run", file, "--no-cache-step", "bogus"});
    check_rejected(dir, step, "--no-cache-step \"bogus\"");

    RunResult missing = run_cli(dir, {"pipeline", "run", (dir / "nope.yaml").string()});
    check_rejected(dir, missing, "no such pipeline file");

    // The same file is fine without the bad options: the rejections were about them.
    RunResult ok = run_cli(dir, {"pipeline", "run", "-q", file, "--no-cache-step", "train"});
    CAPTURE(ok.err);
    CHECK(ok.code == 0);
}
