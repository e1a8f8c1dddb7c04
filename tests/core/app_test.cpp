// The app layer's use cases, called as the CLI and the submission server call them: the
// pipeline job (checks before the run, gates, exit status as a value) and the one enqueue path.
#include "engine_test_util.hpp"

#include "app/pipeline_job.hpp"
#include "app/task_ops.hpp"
#include "core/template.hpp"
#include "core/util.hpp"
#include "ports/queue.hpp"

#include <doctest/doctest.h>

#include <regex>

using namespace mlrun;
using namespace mlrun::test;

namespace {

PipelineJobRequest job(const std::string& file)
{
    PipelineJobRequest r;
    r.file = file;
    r.options = quiet_options();
    return r;
}

const char* k_two_noops = R"(name: job
steps:
  - name: a
    template: noop
  - name: b
    template: noop
    parents: [a]
)";

} // namespace

TEST_CASE("app: run_pipeline_job refuses bad input before anything runs")
{
    TempDir dir;
    Backends b = engine_backends(dir);
    std::string file = write_pipeline(dir, k_two_noops);
    PipelineJobRequest bad_gate = job(file);
    bad_gate.gates = {"roc_auc about 0.8"};
    CHECK_THROWS_AS(run_pipeline_job(b, bad_gate), UsageError);
    PipelineJobRequest drop_alone = job(file);
    drop_alone.max_drop = {"roc_auc=0.02"};
    CHECK_THROWS_WITH_AS(run_pipeline_job(b, drop_alone), doctest::Contains("--max-drop needs --baseline"), UsageError);
    PipelineJobRequest no_folder = job(file);
    no_folder.junit = (dir / "missing" / "out.xml").string();
    CHECK_THROWS_WITH_AS(run_pipeline_job(b, no_folder), doctest::Contains("does not exist"), UsageError);
    CHECK(b.store->list_records("runs").empty()); // none of them started a run
}

TEST_CASE("app: run_pipeline_job gives the exit status as a value: 0 when it completes, 1 when a gate misses")
{
    TempDir dir;
    Backends b = engine_backends(dir);
    std::string file = write_pipeline(dir, k_two_noops);
    PipelineJobResult plain = run_pipeline_job(b, job(file));
    CHECK(plain.run.status == "completed");
    CHECK(plain.gates.empty());
    CHECK(plain.exit_status == 0);

    // No summary step, so no leaderboard: a gate cannot pass.
    PipelineJobRequest gated = job(file);
    gated.gates = {"roc_auc>=0.5"};
    gated.junit = (dir / "junit.xml").string();
    PipelineJobResult r = run_pipeline_job(b, gated);
    CHECK(r.run.status == "completed");
    CHECK(r.leaderboard.is_null());
    REQUIRE(r.gates.size() == 1);
    CHECK_FALSE(r.gates_passed);
    CHECK(r.exit_status == 1);
    REQUIRE(fs::exists(dir / "junit.xml"));
    // The suite's timestamp in the JUnit schema's ISO 8601 form.
    std::string xml = mlrun::read_file(dir / "junit.xml");
    std::smatch stamp;
    REQUIRE(std::regex_search(xml, stamp, std::regex("timestamp=\"([^\"]*)\"")));
    CHECK(std::regex_match(stamp[1].str(), std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")));
}

TEST_CASE("app: clone with a queue uses the one enqueue path: a suggestion, and no stray draft when refused")
{
    TempDir dir;
    Backends b = engine_backends(dir);
    b.queue->create("default");
    Template tmpl;
    tmpl.name = "noop";
    tmpl.kind = "noop";
    Task source = create_task(b, tmpl, CreateRequest{});
    size_t before = b.store->list(TaskFilter{}).size();
    CHECK_THROWS_WITH_AS(clone_task(b, source.id, CreateRequest{}, "defualt", 0),
                         doctest::Contains("did you mean default"), UsageError);
    CHECK(b.store->list(TaskFilter{}).size() == before);

    Task queued = clone_task(b, source.id, CreateRequest{}, "default", 0);
    CHECK(queued.status == Status::queued);
    CHECK(queued.queue == "default");
    CHECK(queued.cloned_from == source.id);
    std::optional<Lease> lease = b.queue->claim({"default"}, 0);
    REQUIRE(lease);
    CHECK(lease->task_id == queued.id);
}
