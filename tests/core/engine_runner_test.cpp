// The pipeline loop behind the StepRunner port: a fake runner whose steps end on its own
// thread, failures reported by the runner, a cancel reaching abort_all(), and the dry run.
#include "engine_test_util.hpp"
#include "fake_step_runner.hpp"

#include "engine/child_process_runner.hpp"
#include "engine/step_runners.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

using namespace mlrun;
using namespace mlrun::test;

namespace {

const char* k_fan = R"(name: fan
parallelism: 3
steps:
  - name: prep
    template: noop
  - name: train
    template: noop
    parents: [prep]
    foreach: {value: [a, b, c, d, e, f]}
  - name: summary
    template: noop
    parents: [train]
)";

} // namespace

TEST_CASE("engine runner: steps ending on the runner's thread run once each, in order, within the parallelism")
{
    TempDir dir;
    Backends b = engine_backends(dir);
    std::string file = write_pipeline(dir, k_fan);
    FakeStepRunner fake(true, 30, b.store);
    PipelineOptions o = quiet_options();
    o.runner = &fake;
    o.cores = 6;
    PipelineResult r = run_pipeline(b.ports(), file, o);
    CHECK(r.status == "completed");
    std::vector<std::string> started = fake.started();
    CHECK(started.size() == 8);
    CHECK(std::set<std::string>(started.begin(), started.end()).size() == 8);
    CHECK(started.front() == "prep");
    CHECK(started.back() == "summary");
    CHECK(fake.ended_elsewhere() == 8);
    CHECK(fake.max_running() == 3);  // six siblings of 30 ms on three slots
    CHECK(fake.threads_seen() == 2); // 6 cores / parallelism 3
    for (int slot : fake.slots()) {
        CHECK(slot >= 1);
        CHECK(slot <= 3);
    }
    for (const auto& [name, state] : node_states(r.record)) {
        CHECK_MESSAGE(state == "completed", name);
    }
    // The ends the runner wrote are what the store and load_run show; inputs are wired.
    Json live = load_run(b.ports(), r.run_id);
    for (const auto& [name, state] : node_states(live)) {
        CHECK_MESSAGE(state == "completed", name);
    }
    Task summary = b.store->get(node_tasks(r.record).at("summary"));
    CHECK(summary.status == Status::completed);
    CHECK(summary.attempts == 1);
    CHECK(summary.params["inputs"]["train"].size() == 6);
}

TEST_CASE("engine runner: a failure the runner reports skips all_success children; all_done still runs")
{
    TempDir dir;
    Backends b = engine_backends(dir);
    std::string file = write_pipeline(dir, R"(name: fails
steps:
  - name: prep
    template: noop
  - name: broken
    template: noop
    parents: [prep]
  - name: after_broken
    template: noop
    parents: [broken]
  - name: summary
    template: noop
    parents: [broken]
    trigger: all_done
)");
    for (bool async : {false, true}) {
        CAPTURE(async);
        FakeStepRunner fake(async, 5, b.store);
        fake.set_outcome("broken", {Status::failed, "boom", Json::object()});
        PipelineOptions o = quiet_options();
        o.runner = &fake;
        o.no_cache = true;
        PipelineResult r = run_pipeline(b.ports(), file, o);
        CHECK(r.status == "failed");
        auto states = node_states(r.record);
        CHECK(states["broken"] == "failed");
        CHECK(states["after_broken"] == "skipped");
        CHECK(states["summary"] == "completed");
        for (const Json& n : r.record["nodes"]) {
            if (n["name"] == "broken") {
                CHECK(n["reason"] == "boom");
            }
            if (n["name"] == "after_broken") {
                CHECK(n["reason"] == "parent broken failed");
                CHECK(n["task_id"] == ""); // a skipped step makes no task
            }
        }
        std::vector<std::string> started = fake.started();
        CHECK(std::find(started.begin(), started.end(), "after_broken") == started.end());
    }
}

TEST_CASE("engine runner: a cancel reaches the runner's abort_all; the rest of the run never starts")
{
    TempDir dir;
    Backends b = engine_backends(dir);
    std::string file = write_pipeline(dir, R"(name: cancel
steps:
  - name: prep
    template: noop
  - name: wait
    template: noop
    parents: [prep]
  - name: after
    template: noop
    parents: [wait]
)");
    FakeStepRunner fake(true, 0, b.store);
    fake.hang("wait");
    std::atomic<bool> cancel{false};
    PipelineOptions o = quiet_options();
    o.runner = &fake;
    o.cancel = &cancel;
    std::thread stopper([&] {
        wait_until([&] { return fake.started().size() == 2; }, 10);
        cancel = true;
    });
    PipelineResult r = run_pipeline(b.ports(), file, o);
    stopper.join();
    CHECK(r.status == "aborted");
    CHECK(fake.aborts() >= 1);
    auto states = node_states(r.record);
    CHECK(states["prep"] == "completed");
    CHECK(states["wait"] == "aborted");
    CHECK(states["after"] == "aborted");
    CHECK(fake.started() == std::vector<std::string>{"prep", "wait"});
    for (const Json& n : r.record["nodes"]) {
        if (n["name"] == "after") {
            CHECK(n["reason"] == "the run was interrupted before it started");
        }
    }
    CHECK(b.store->get(node_tasks(r.record).at("wait")).status == Status::aborted);
}

TEST_CASE("engine dry run: shows which steps would run and which are cached, and writes nothing")
{
    TempDir dir;
    Backends b = engine_backends(dir);
    std::string before = write_pipeline(dir, R"(name: dry
steps:
  - name: prep
    template: noop
  - name: train
    template: noop
    parents: [prep]
    params: {value: 1}
)");
    PipelineResult first = run_pipeline(b.ports(), before, quiet_options());
    REQUIRE(first.status == "completed");
    size_t tasks = b.store->list(TaskFilter{}).size();
    size_t runs = b.store->list_records("runs").size();

    // train's params changed and a step was added after it: prep is cached, the rest would run.
    std::string after = write_pipeline(dir, R"(name: dry
steps:
  - name: prep
    template: noop
  - name: train
    template: noop
    parents: [prep]
    params: {value: 2}
  - name: report
    template: noop
    parents: [train]
)",
                                       "after.yaml");
    PipelineOptions o = quiet_options();
    o.dry_run = true;
    PipelineResult dry = run_pipeline(b.ports(), after, o);
    CHECK(dry.status == "completed");
    CHECK(b.store->list(TaskFilter{}).size() == tasks);
    CHECK(b.store->list_records("runs").size() == runs);
    std::map<std::string, Json> nodes;
    for (const Json& n : dry.record["nodes"]) {
        nodes[n["name"]] = n;
    }
    CHECK(nodes["prep"]["state"] == "cached");
    CHECK(nodes["prep"]["task_id"] == node_tasks(first.record).at("prep"));
    CHECK(nodes["train"]["state"] == "completed");
    CHECK(nodes["train"]["reason"] == k_dry_run_reason);
    CHECK(nodes["train"]["cache"]["decision"] == "miss");
    CHECK(nodes["train"]["task_id"] == "");
    CHECK(nodes["report"]["reason"] == k_dry_run_reason);
    CHECK(nodes["report"]["cache"]["reason"] == "input step train would run");

    // The same file as the first run: everything cached, still nothing written.
    PipelineResult again = run_pipeline(b.ports(), before, o);
    for (const auto& [name, state] : node_states(again.record)) {
        CHECK_MESSAGE(state == "cached", name);
    }
    CHECK(b.store->list(TaskFilter{}).size() == tasks);
}

TEST_CASE("engine child runner: each step is `mlrun task run` in a child; its record is the step's end")
{
    TempDir dir;
    Backends b = engine_backends(dir);
    std::string file = write_pipeline(dir, R"(name: children
parallelism: 2
steps:
  - name: prep
    template: noop
  - name: work
    template: noop
    parents: [prep]
    foreach: {value: [a, b, c]}
  - name: broken
    template: exec
    parents: [prep]
    params: {command: "echo going; exit 3"}
  - name: after
    template: noop
    parents: [broken]
)");
    ChildProcessStepRunner children(*b.store, MLRUN_BIN, dir.home());
    PipelineOptions o = quiet_options();
    o.runner = &children;
    PipelineResult r = run_pipeline(b.ports(), file, o);
    CHECK(r.status == "failed");
    auto states = node_states(r.record);
    CHECK(states["prep"] == "completed");
    CHECK(states["work::c"] == "completed");
    CHECK(states["broken"] == "failed");
    CHECK(states["after"] == "skipped");
    auto ids = node_tasks(r.record);
    Task work = b.store->get(ids.at("work::b"));
    CHECK(work.status == Status::completed);
    CHECK(work.attempts == 1); // the child's start is the attempt the loop counted
    CHECK(work.params["inputs"]["prep"] == ids.at("prep"));
    Task broken = b.store->get(ids.at("broken"));
    CHECK(broken.status == Status::failed);
    CHECK(broken.exit_code == 3);
    CHECK(b.store->read_log(broken.id).find("going") != std::string::npos);
}

TEST_CASE("engine child runner: a child that never ends its record, or cannot start, fails the step")
{
    TempDir dir;
    Backends b = engine_backends(dir);
    std::string file = write_pipeline(dir, "name: bad\nsteps:\n  - name: only\n    template: noop\n");
    for (const std::string& exe : {std::string("/bin/false"), std::string("/nonexistent/mlrun")}) {
        CAPTURE(exe);
        ChildProcessStepRunner children(*b.store, exe, dir.home());
        PipelineOptions o = quiet_options();
        o.runner = &children;
        o.no_cache = true;
        PipelineResult r = run_pipeline(b.ports(), file, o);
        CHECK(r.status == "failed");
        Task t = b.store->get(node_tasks(r.record).at("only"));
        CHECK(t.status == Status::failed);
        CHECK(t.attempts == 1);
        CHECK(t.error.find(exe == "/bin/false" ? "exit code 1" : "cannot start") != std::string::npos);
    }
}

TEST_CASE("engine child runner: a cancel terminates the running child, whose task ends aborted")
{
    TempDir dir;
    Backends b = engine_backends(dir);
    std::string file = write_pipeline(dir, R"(name: stop
steps:
  - name: wait
    template: exec
    params: {command: "sleep 30"}
  - name: after
    template: noop
    parents: [wait]
)");
    ChildProcessStepRunner children(*b.store, MLRUN_BIN, dir.home());
    std::atomic<bool> cancel{false};
    PipelineOptions o = quiet_options();
    o.runner = &children;
    o.cancel = &cancel;
    std::thread stopper([&] {
        wait_until(
            [&] {
                for (const Task& t : b.store->list(TaskFilter{})) {
                    if (t.step == "wait" && t.status == Status::in_progress) {
                        return true;
                    }
                }
                return false;
            },
            20);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        cancel = true;
    });
    auto t0 = std::chrono::steady_clock::now();
    PipelineResult r = run_pipeline(b.ports(), file, o);
    stopper.join();
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(took < 20);
    CHECK(r.status == "aborted");
    auto states = node_states(r.record);
    CHECK(states["wait"] == "aborted");
    CHECK(states["after"] == "aborted");
    CHECK(b.store->get(node_tasks(r.record).at("wait")).status == Status::aborted);
}
