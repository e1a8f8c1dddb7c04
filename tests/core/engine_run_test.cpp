// Pipeline runs end to end on in-process noop steps (and a few exec steps): fan-out naming
// and inputs, trigger rules, the policy, the cache and explain, order independence.
#include "engine_test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

using namespace mlrun;
using namespace mlrun::test;

namespace {

Task task_of(Backends& b, const Json& record, const std::string& node)
{
    std::string id = node_tasks(record).at(node);
    REQUIRE_FALSE(id.empty());
    return b.store->get(id);
}

} // namespace

TEST_CASE("engine: foreach makes one task per value, named step::value, all inputs of the child")
{
    TempDir dir;
    std::string file = write_pipeline(dir, R"(name: fan
project: fanproj
steps:
  - name: prep
    template: noop
  - name: train
    template: noop
    parents: [prep]
    foreach: {value: [a, b]}
  - name: summary
    template: noop
    parents: [train]
)");
    RunResult r = run_cli(dir, {"pipeline", "run", "-q", file});
    CAPTURE(r.err);
    REQUIRE(r.code == 0);
    std::string run_id = run_id_of(r.out);
    REQUIRE_FALSE(run_id.empty());

    Backends b = engine_backends(dir);
    Json record = load_run(b.ports(), run_id);
    std::vector<std::string> names;
    for (const Json& n : record["nodes"]) {
        names.push_back(n["name"]);
    }
    CHECK(names == std::vector<std::string>{"prep", "train::a", "train::b", "summary"});

    Task a = task_of(b, record, "train::a");
    Task bb = task_of(b, record, "train::b");
    Task prep = task_of(b, record, "prep");
    CHECK(a.step == "train::a");
    CHECK(bb.step == "train::b");
    CHECK(a.name == "train::a");
    CHECK(a.run_id == run_id);
    CHECK(bb.run_id == run_id);
    CHECK(a.kind == "noop");
    CHECK(a.project == "fanproj");
    CHECK(a.params["value"] == "a");
    CHECK(bb.params["value"] == "b");
    CHECK(a.params["inputs"]["prep"] == prep.id); // a single parent is one id
    CHECK(a.params["base_dir"] == fs::absolute(dir.path()).string());

    Task summary = task_of(b, record, "summary");
    REQUIRE(summary.params["inputs"]["train"].is_array());
    std::set<std::string> inputs;
    for (const Json& id : summary.params["inputs"]["train"]) {
        inputs.insert(id.get<std::string>());
    }
    CHECK(inputs == std::set<std::string>{a.id, bb.id});
    CHECK(summary.params["inputs"]["train"].size() == 2);

    // Each node is a task of the run in `task list --run`.
    RunResult list = run_cli(dir, {"task", "list", "--run", run_id});
    REQUIRE(list.code == 0);
    for (const std::string& id : {prep.id, a.id, bb.id, summary.id}) {
        CHECK(list.out.find(id) != std::string::npos);
    }
    CHECK(list.out.find("train::a") != std::string::npos);
    CHECK(list.out.find("train::b") != std::string::npos);
    CHECK(lines_of(trim(list.out)).size() == 5); // header + 4 tasks

    // show draws every node with its state.
    RunResult show = run_cli(dir, {"pipeline", "show", run_id});
    REQUIRE(show.code == 0);
    CHECK(show.out.find("train::a") != std::string::npos);
    CHECK(show.out.find("completed") != std::string::npos);
    // The join is drawn under its last parent and names all of them.
    std::string summary_line;
    for (const std::string& line : lines_of(show.out)) {
        if (line.find("summary") != std::string::npos) {
            summary_line = line;
        }
    }
    CAPTURE(show.out);
    CHECK(summary_line.find("after train::*") != std::string::npos);
    // `last` names the newest run.
    RunResult last = run_cli(dir, {"pipeline", "show", "last"});
    REQUIRE(last.code == 0);
    CHECK(last.out.find("run " + run_id) == 0);
}

TEST_CASE("engine: trigger rules and optional steps")
{
    TempDir dir;
    Backends b = engine_backends(dir);
    std::string file = write_pipeline(dir, R"(name: trig
steps:
  - name: bad
    template: noop
    params: {fail: true}
  - name: after_success
    template: noop
    parents: [bad]
  - name: grandchild
    template: noop
    parents: [after_success]
    trigger: all_done
  - name: after_done
    template: noop
    parents: [bad]
    trigger: all_done
)");
    PipelineResult r = run_pipeline(b.ports(), file, quiet_options());
    auto states = node_states(r.record);
    CHECK(states["bad"] == "failed");
    CHECK(states["after_success"] == "skipped");
    CHECK(states["after_done"] == "completed");
    // all_done over parents that were all skipped: nothing upstream ran, so it is skipped.
    CHECK(states["grandchild"] == "skipped");
    CHECK(r.status == "failed");
    CHECK(r.why.find("bad") != std::string::npos);
    // A skipped step made no task.
    CHECK(node_tasks(r.record)["after_success"].empty());
    CHECK(b.store->list(TaskFilter{"", std::nullopt, "", r.run_id, ""}).size() == 2);
    for (const Json& n : r.record["nodes"]) {
        if (n["name"] == "after_success") {
            CHECK(n["reason"].get<std::string>().find("bad") != std::string::npos);
        }
    }

    SUBCASE("an optional step that fails does not fail the run")
    {
        std::string opt = write_pipeline(dir, R"(name: opt
steps:
  - name: prep
    template: noop
  - name: extra
    template: noop
    parents: [prep]
    optional: true
    params: {fail: true}
  - name: after_extra
    template: noop
    parents: [extra]
    optional: true
  - name: last
    template: noop
    parents: [prep]
)",
                                         "opt.yaml");
        PipelineResult o = run_pipeline(b.ports(), opt, quiet_options());
        auto s = node_states(o.record);
        CHECK(s["extra"] == "failed");
        CHECK(s["after_extra"] == "skipped");
        CHECK(s["last"] == "completed");
        CHECK(o.status == "completed");
        CHECK(o.record["status"] == "completed");
    }
}

TEST_CASE("engine: policy partial tolerates one failed fan-out node, strict does not (exit codes)")
{
    TempDir dir;
    // train::true fails (params.fail = true), train::false completes.
    const std::string body = R"(steps:
  - name: prep
    template: noop
  - name: train
    template: noop
    parents: [prep]
    foreach: {fail: [false, true]}
  - name: summary
    template: noop
    parents: [train]
    trigger: all_done
)";
    std::string partial = write_pipeline(dir, "name: pp\npolicy: partial\n" + body, "partial.yaml");
    std::string strict = write_pipeline(dir, "name: ps\npolicy: strict\n" + body, "strict.yaml");

    RunResult p = run_cli(dir, {"pipeline", "run", "-q", partial});
    CAPTURE(p.out);
    CAPTURE(p.err);
    CHECK(p.code == 0);
    CHECK(p.out.find("completed") != std::string::npos);
    Backends b = engine_backends(dir);
    Json pr = load_run(b.ports(), run_id_of(p.out));
    CHECK(pr["status"] == "completed");
    auto ps = node_states(pr);
    CHECK(ps["train::true"] == "failed");
    CHECK(ps["train::false"] == "completed");
    CHECK(ps["summary"] == "completed");

    RunResult s = run_cli(dir, {"pipeline", "run", "-q", strict});
    CAPTURE(s.out);
    CHECK(s.code == 1);
    Json sr = load_run(b.ports(), run_id_of(s.out));
    CHECK(sr["status"] == "failed");
    CHECK(sr["why"].get<std::string>().find("train::true") != std::string::npos);
    // The reason is on stderr too, for CI logs that keep only stderr.
    CAPTURE(s.err);
    CHECK(s.err.find("failed") != std::string::npos);
    CHECK(s.err.find("train::true") != std::string::npos);

    // Partial with every fan-out node failing is a failed run.
    RunResult all = run_cli(dir, {"pipeline", "run", "-q", partial, "--set", "train.fail=[true]"});
    CHECK(all.code == 1);
}

TEST_CASE("engine: cache hits on an identical run, --no-cache and --no-cache-step, explain")
{
    TempDir dir;
    Backends b = engine_backends(dir);
    std::string file = write_pipeline(dir, R"(name: cache
steps:
  - name: prep
    template: noop
    params: {value: 1}
  - name: train
    template: noop
    parents: [prep]
    foreach: {value: [a, b]}
  - name: summary
    template: noop
    parents: [train]
)");
    PipelineResult first = run_pipeline(b.ports(), file, quiet_options());
    REQUIRE(first.status == "completed");
    for (const auto& [name, state] : node_states(first.record)) {
        CHECK_MESSAGE(state == "completed", name);
    }

    PipelineResult second = run_pipeline(b.ports(), file, quiet_options());
    REQUIRE(second.status == "completed");
    for (const auto& [name, state] : node_states(second.record)) {
        CHECK_MESSAGE(state == "cached", name);
    }
    // Cached nodes point at the first run's tasks and create no task of their own.
    CHECK(node_tasks(second.record) == node_tasks(first.record));
    CHECK(b.store->list(TaskFilter{"", std::nullopt, "", second.run_id, ""}).empty());

    PipelineOptions no_cache = quiet_options();
    no_cache.no_cache = true;
    PipelineResult third = run_pipeline(b.ports(), file, no_cache);
    for (const auto& [name, state] : node_states(third.record)) {
        CHECK_MESSAGE(state == "completed", name);
    }
    CHECK(b.store->list(TaskFilter{"", std::nullopt, "", third.run_id, ""}).size() == 4);
    // explain says the cache was off, not that nothing had been recorded.
    std::string off = explain_step(b.ports(), third.run_id, "prep");
    CAPTURE(off);
    CHECK(off.find("not consulted (--no-cache)") != std::string::npos);
    CHECK(off.find("no completed task") == std::string::npos);

    PipelineOptions step_only = quiet_options();
    step_only.no_cache_steps = {"train"};
    PipelineResult fourth = run_pipeline(b.ports(), file, step_only);
    auto s4 = node_states(fourth.record);
    CHECK(s4["prep"] == "cached");
    CHECK(s4["train::a"] == "completed");
    CHECK(s4["train::b"] == "completed");
    // The rerun train tasks produced the same outputs, so the key of summary is unchanged.
    CHECK(s4["summary"] == "cached");

    // One fan-out node only.
    PipelineOptions node_only = quiet_options();
    node_only.no_cache_steps = {"train::b"};
    auto s5 = node_states(run_pipeline(b.ports(), file, node_only).record);
    CHECK(s5["train::a"] == "cached");
    CHECK(s5["train::b"] == "completed");

    // explain: a hit, then a changed param named with its old and new value.
    std::string hit = explain_step(b.ports(), second.run_id, "train::a");
    CHECK(hit.find("cache: hit") != std::string::npos);

    PipelineOptions changed = quiet_options();
    changed.sets = {"prep.value=2"};
    PipelineResult fifth = run_pipeline(b.ports(), file, changed);
    auto s6 = node_states(fifth.record);
    CHECK(s6["prep"] == "completed");
    CHECK(s6["train::a"] == "completed"); // its input's values changed
    std::string miss = explain_step(b.ports(), fifth.run_id, "prep");
    CAPTURE(miss);
    CHECK(miss.find("cache: miss") != std::string::npos);
    CHECK(miss.find("params.value: 1 -> 2") != std::string::npos);

    // The CLI says the same, and an unknown step is a usage error with a suggestion.
    RunResult cli_hit = run_cli(dir, {"pipeline", "explain", second.run_id, "summary"});
    CHECK(cli_hit.code == 0);
    CHECK(cli_hit.out.find("cache: hit") != std::string::npos);
    RunResult cli_bad = run_cli(dir, {"pipeline", "explain", second.run_id, "train::c"});
    CHECK(cli_bad.code == 2);
    CHECK(cli_bad.err.find("did you mean") != std::string::npos);
}

TEST_CASE("engine: noop-only results do not depend on the parallelism or the executor")
{
    TempDir dir;
    Backends b = engine_backends(dir);
    std::string file = write_pipeline(dir, R"(name: det
steps:
  - name: prep
    template: noop
    params: {sleep_ms: 5, stages: 2}
  - name: train
    template: noop
    parents: [prep]
    foreach: {value: [a, b, c, d, e, f]}
    params: {sleep_ms: 3}
  - name: broken
    template: noop
    parents: [prep]
    params: {fail: true}
  - name: after_broken
    template: noop
    parents: [broken]
  - name: summary
    template: noop
    parents: [train, broken]
    trigger: all_done
)");
    std::vector<std::map<std::string, std::string>> outcomes;
    for (int parallelism : {1, 4}) {
        for (bool serial : {false, true}) {
            PipelineOptions o = quiet_options();
            o.no_cache = true;
            o.parallelism = parallelism;
            o.serial = serial;
            PipelineResult r = run_pipeline(b.ports(), file, o);
            CHECK(r.record["parallelism"] == parallelism);
            CHECK(r.status == "failed"); // broken is not a fan-out node
            outcomes.push_back(node_states(r.record));
        }
    }
    REQUIRE(outcomes.size() == 4);
    CHECK(outcomes[0]["summary"] == "completed");
    CHECK(outcomes[0]["after_broken"] == "skipped");
    CHECK(outcomes[0]["train::f"] == "completed");
    CHECK(outcomes[0].size() == 10);
    for (size_t i = 1; i < outcomes.size(); ++i) {
        CHECK(outcomes[i] == outcomes[0]);
    }
}
