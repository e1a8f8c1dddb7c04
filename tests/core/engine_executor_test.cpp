// The executors on a diamond with a fan-out: every node runs once, after its parents,
// never more than `parallelism` bodies at once, each on a free slot 1..parallelism. The
// DAG is a Plan of one step per node; the start hook is the body and ends the node itself.
#include "engine/executor.hpp"
#include "engine/pipeline_spec.hpp"
#include "engine/plan.hpp"

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

using namespace mlrun;

namespace {

struct DagShape {
    std::vector<std::vector<size_t>> parents; // per node
};

// One noop step "n<i>" per node of the DAG.
Plan plan_of(const DagShape& dag)
{
    PipelineSpec spec;
    spec.file = "dag.yaml";
    for (size_t i = 0; i < dag.parents.size(); ++i) {
        StepSpec s;
        s.name = "n" + std::to_string(i);
        s.template_name = "noop";
        for (size_t p : dag.parents[i]) {
            s.parents.push_back("n" + std::to_string(p));
        }
        spec.steps.push_back(s);
    }
    return Plan(spec);
}

// 0 -> {1..6} -> 7 (fan-out and fan-in), 0 -> 8 -> 9 -> 7 (a longer branch), 10 alone.
DagShape diamond()
{
    DagShape d;
    d.parents = {{}, {0}, {0}, {0}, {0}, {0}, {0}, {1, 2, 3, 4, 5, 6, 9}, {0}, {8}, {}};
    return d;
}

struct Observed {
    std::vector<int> runs;
    std::vector<std::string> errors;
    int max_running = 0;
};

Observed run_on(Executor& ex, const DagShape& dag, int parallelism, int sleep_ms)
{
    const size_t n = dag.parents.size();
    std::unique_ptr<std::atomic<int>[]> runs(new std::atomic<int>[n]);
    std::unique_ptr<std::atomic<bool>[]> done(new std::atomic<bool>[n]);
    for (size_t i = 0; i < n; ++i) {
        runs[i] = 0;
        done[i] = false;
    }
    std::array<std::atomic<int>, 64> slot_users{};
    std::atomic<int> running{0};
    std::atomic<int> max_running{0};
    std::mutex m;
    std::vector<std::string> errors;
    auto error = [&](const std::string& e) {
        std::lock_guard<std::mutex> lock(m);
        errors.push_back(e);
    };
    Plan plan = plan_of(dag);
    ExecutorHooks hooks;
    hooks.start = [&](size_t node, int slot, NodeDone end) {
        size_t i = std::stoul(plan.nodes()[node].name.substr(1)); // the DAG's index
        int now = ++running;
        int seen = max_running.load();
        while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
        }
        for (size_t p : dag.parents[i]) {
            if (!done[p]) {
                error("node " + std::to_string(i) + " started before parent " + std::to_string(p));
            }
        }
        if (slot < 1 || slot > parallelism) {
            error("node " + std::to_string(i) + " got slot " + std::to_string(slot));
        } else if (++slot_users[static_cast<size_t>(slot)] != 1) {
            error("slot " + std::to_string(slot) + " used by two bodies at once");
        }
        ++runs[i];
        std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
        if (slot >= 1 && slot <= parallelism) {
            --slot_users[static_cast<size_t>(slot)];
        }
        done[i] = true;
        --running;
        end(NodeEnd{NodeState::completed, ""});
    };
    ex.run(plan, parallelism, hooks);
    if (!plan.all_ended()) {
        error("the executor returned before every node ended");
    }
    Observed o;
    for (size_t i = 0; i < n; ++i) {
        o.runs.push_back(runs[i]);
    }
    o.errors = errors;
    o.max_running = max_running;
    return o;
}

} // namespace

TEST_CASE("executor: TbbExecutor runs every node once, in order, within the parallelism")
{
    DagShape dag = diamond();
    for (int parallelism : {1, 3}) {
        CAPTURE(parallelism);
        TbbExecutor ex;
        Observed o = run_on(ex, dag, parallelism, 10);
        CHECK(o.errors.empty());
        for (const std::string& e : o.errors) {
            MESSAGE(e);
        }
        CHECK(o.runs == std::vector<int>(dag.parents.size(), 1));
        CHECK(o.max_running <= parallelism);
        CHECK(o.max_running >= 1);
        if (parallelism == 3) {
            // Six siblings of 10 ms each: three at once must have happened.
            CHECK(o.max_running == 3);
        }
    }
}

TEST_CASE("executor: SerialExecutor runs every node once, in order, one at a time")
{
    DagShape dag = diamond();
    SerialExecutor ex;
    Observed o = run_on(ex, dag, 1, 1);
    CHECK(o.errors.empty());
    CHECK(o.runs == std::vector<int>(dag.parents.size(), 1));
    CHECK(o.max_running == 1);
}

TEST_CASE("executor: a TbbExecutor can run twice and on an empty or wide DAG")
{
    TbbExecutor ex;
    DagShape empty;
    Observed none = run_on(ex, empty, 2, 0);
    CHECK(none.runs.empty());

    DagShape wide;
    wide.parents.push_back({});
    std::vector<size_t> middle;
    for (size_t i = 1; i <= 200; ++i) {
        wide.parents.push_back({0});
        middle.push_back(i);
    }
    wide.parents.push_back(middle);
    for (int round = 0; round < 2; ++round) {
        Observed o = run_on(ex, wide, 4, 0);
        CHECK(o.errors.empty());
        CHECK(o.runs == std::vector<int>(wide.parents.size(), 1));
        CHECK(o.max_running <= 4);
    }
}

TEST_CASE("plan: fan-out nodes, their parents and children")
{
    PipelineSpec spec;
    spec.file = "p.yaml";
    StepSpec prep;
    prep.name = "prep";
    prep.template_name = "noop";
    StepSpec train;
    train.name = "train";
    train.template_name = "noop";
    train.parents = {"prep"};
    train.foreach_key = "value";
    train.foreach_values = {"a", "b", 3};
    StepSpec summary;
    summary.name = "summary";
    summary.template_name = "noop";
    summary.parents = {"train"};
    // Listed out of order: the plan sorts parents first.
    spec.steps = {summary, train, prep};
    Plan plan(spec);
    REQUIRE(plan.nodes().size() == 5);
    CHECK(plan.nodes()[0].name == "prep");
    CHECK(plan.nodes()[1].name == "train::a");
    CHECK(plan.nodes()[3].name == "train::3");
    CHECK(plan.nodes()[4].name == "summary");
    CHECK(plan.nodes()[4].parents == std::vector<size_t>{1, 2, 3});
    CHECK(plan.nodes()[0].children == std::vector<size_t>{1, 2, 3});
    CHECK(plan.find("train::b") == 2);
    CHECK_THROWS_WITH(plan.find("train::c"), doctest::Contains("did you mean"));

    // summary's inputs are the ids its fan-out parents got, in node order.
    plan.nodes()[1].task_id = "t1";
    plan.nodes()[2].task_id = "t2";
    plan.nodes()[3].task_id = "t3";
    CHECK(plan.input_ids(4) == Json{{"train", {"t1", "t2", "t3"}}});
    plan.nodes()[0].task_id = "t0";
    CHECK(plan.input_ids(1) == Json{{"prep", "t0"}});

    // Under partial, one failed sibling is fine; under strict-like reading it is not.
    plan.mark(0, NodeState::completed);
    plan.mark(1, NodeState::failed, "boom");
    plan.mark(2, NodeState::completed);
    plan.mark(3, NodeState::cached);
    std::string reason;
    CHECK_FALSE(plan.should_run(4, reason)); // all_success
    CHECK(reason.find("train::a") != std::string::npos);
    plan.mark(4, NodeState::skipped, reason);
    std::string why;
    CHECK_FALSE(plan.succeeded(why)); // summary skipped
    CHECK(why.find("summary") != std::string::npos);
    plan.mark(4, NodeState::completed);
    CHECK(plan.succeeded(why));
}
