// Plan scheduling without threads (ninja's PlanTest): readiness, triggers, skip
// propagation, optional steps, the order nodes are handed out, cancel, and misuse.
#include "engine/plan.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace mlrun;

namespace {

StepSpec step(const std::string& name, std::vector<std::string> parents = {}, Trigger trigger = Trigger::all_success)
{
    StepSpec s;
    s.name = name;
    s.template_name = "noop";
    s.parents = std::move(parents);
    s.trigger = trigger;
    return s;
}

PipelineSpec spec_of(std::vector<StepSpec> steps)
{
    PipelineSpec spec;
    spec.file = "p.yaml";
    spec.steps = std::move(steps);
    return spec;
}

std::vector<std::string> names(const Plan& plan, const std::vector<size_t>& nodes)
{
    std::vector<std::string> out;
    for (size_t n : nodes) {
        out.push_back(plan.nodes()[n].name);
    }
    return out;
}

using Names = std::vector<std::string>;

} // namespace

TEST_CASE("plan: fan-out nodes become ready together, each handed out once")
{
    StepSpec train = step("train", {"prep"});
    train.foreach_key = "value";
    train.foreach_values = {"a", "b", "c"};
    Plan plan(spec_of({step("prep"), train, step("summary", {"train"})}));

    CHECK(names(plan, plan.take_ready()) == Names{"prep"});
    CHECK(plan.nodes()[plan.find("prep")].state == NodeState::running);
    CHECK(plan.take_ready().empty()); // handed out already
    CHECK(plan.running() == 1);
    plan.finished(plan.find("prep"), NodeState::completed);
    CHECK(names(plan, plan.take_ready()) == Names{"train::a", "train::b", "train::c"});
    CHECK(plan.running() == 3);
    plan.finished(plan.find("train::b"), NodeState::completed);
    plan.finished(plan.find("train::a"), NodeState::cached);
    CHECK(plan.take_ready().empty()); // summary still waits for train::c
    CHECK_FALSE(plan.all_ended());
    plan.finished(plan.find("train::c"), NodeState::completed);
    CHECK(names(plan, plan.take_ready()) == Names{"summary"});
    plan.finished(plan.find("summary"), NodeState::completed);
    CHECK(plan.take_ready().empty());
    CHECK(plan.take_settled().empty());
    CHECK(plan.all_ended());
    std::string why;
    CHECK(plan.succeeded(why));
}

TEST_CASE("plan: all_done runs after a failed parent, all_success is skipped with the reason")
{
    Plan plan(spec_of({step("prep"), step("broken", {"prep"}), step("after_success", {"broken"}),
                       step("summary", {"broken"}, Trigger::all_done)}));
    plan.take_ready();
    plan.finished(plan.find("prep"), NodeState::completed);
    CHECK(names(plan, plan.take_ready()) == Names{"broken"});
    plan.finished(plan.find("broken"), NodeState::failed, "exit code 1");
    CHECK(names(plan, plan.take_ready()) == Names{"summary"});
    CHECK(names(plan, plan.take_settled()) == Names{"after_success"});
    const PlanNode& skipped = plan.nodes()[plan.find("after_success")];
    CHECK(skipped.state == NodeState::skipped);
    CHECK(skipped.reason == "parent broken failed");
    CHECK(plan.take_settled().empty()); // each settled node reported once
    plan.finished(plan.find("summary"), NodeState::completed);
    CHECK(plan.all_ended());
    std::string why;
    CHECK_FALSE(plan.succeeded(why));
    CHECK(why.find("broken") != std::string::npos);
}

TEST_CASE("plan: a failure skips the whole chain below it in one call, all_done over skipped parents too")
{
    Plan plan(
        spec_of({step("a"), step("b", {"a"}), step("c", {"b"}), step("d", {"c"}, Trigger::all_done), step("side")}));
    CHECK(names(plan, plan.take_ready()) == Names{"a", "side"});
    plan.finished(plan.find("a"), NodeState::failed, "boom");
    CHECK(plan.take_ready().empty());
    CHECK(names(plan, plan.take_settled()) == Names{"b", "c", "d"});
    CHECK(plan.nodes()[plan.find("c")].reason == "parent b skipped");
    CHECK(plan.nodes()[plan.find("d")].reason == "every parent was skipped");
    CHECK_FALSE(plan.all_ended()); // side is still running
    plan.finished(plan.find("side"), NodeState::completed);
    CHECK(plan.all_ended());
}

TEST_CASE("plan: an optional step may fail without failing the run; its all_success children are skipped")
{
    StepSpec extra = step("extra", {"prep"});
    extra.optional = true;
    Plan plan(spec_of({step("prep"), extra, step("after_extra", {"extra"}), step("main", {"prep"})}));
    plan.take_ready();
    plan.finished(plan.find("prep"), NodeState::completed);
    CHECK(names(plan, plan.take_ready()) == Names{"extra", "main"});
    plan.finished(plan.find("extra"), NodeState::failed, "no data");
    plan.finished(plan.find("main"), NodeState::completed);
    CHECK(plan.take_ready().empty());
    CHECK(names(plan, plan.take_settled()) == Names{"after_extra"});
    CHECK(plan.all_ended());
    std::string why;
    // after_extra is not optional and was skipped: the run failed because of it, not of extra.
    CHECK_FALSE(plan.succeeded(why));
    CHECK(why.find("after_extra") != std::string::npos);
}

TEST_CASE("plan: ready nodes come in node (topological) order, whatever order parents end in")
{
    // Listed out of order: the plan sorts parents first.
    Plan plan(spec_of({step("z", {"r2"}), step("y", {"r1"}), step("r1"), step("r2"), step("x", {"r1", "r2"})}));
    Names roots = names(plan, plan.take_ready());
    CHECK(roots == Names{"r1", "r2"});
    plan.finished(plan.find("r2"), NodeState::completed);
    CHECK(names(plan, plan.take_ready()) == Names{"z"});
    plan.finished(plan.find("r1"), NodeState::completed);
    // y and x both became ready on r1's end: handed out in node order.
    std::vector<size_t> ready = plan.take_ready();
    REQUIRE(ready.size() == 2);
    CHECK(ready[0] < ready[1]);
    CHECK(plan.find("x") < plan.find("y")); // x's parents come first in the file's topological sort
    CHECK(names(plan, ready) == Names{"x", "y"});
}

TEST_CASE("plan: after cancel, nodes that become ready end aborted; running ones still finish")
{
    Plan plan(spec_of({step("a"), step("b", {"a"}), step("c", {"b"}, Trigger::all_done), step("d")}));
    CHECK(names(plan, plan.take_ready()) == Names{"a", "d"});
    plan.cancel("interrupted");
    plan.finished(plan.find("a"), NodeState::aborted, "aborted by the user");
    CHECK(plan.take_ready().empty());
    CHECK(names(plan, plan.take_settled()) == Names{"b", "c"});
    CHECK(plan.nodes()[plan.find("b")].state == NodeState::aborted);
    CHECK(plan.nodes()[plan.find("c")].reason == "interrupted");
    CHECK_FALSE(plan.all_ended());
    plan.finished(plan.find("d"), NodeState::completed);
    CHECK(plan.all_ended());
}

TEST_CASE("plan: finishing a node twice, before it was handed out, or as not ended is an error")
{
    Plan plan(spec_of({step("a"), step("b", {"a"})}));
    CHECK_THROWS_AS(plan.finished(plan.find("a"), NodeState::completed), std::logic_error); // not handed out
    plan.take_ready();
    CHECK_THROWS_AS(plan.finished(plan.find("a"), NodeState::running), std::logic_error);
    plan.finished(plan.find("a"), NodeState::completed);
    CHECK_THROWS_WITH_AS(plan.finished(plan.find("a"), NodeState::failed), doctest::Contains("not running"),
                         std::logic_error);
    CHECK(plan.nodes()[plan.find("a")].state == NodeState::completed); // the first end stands
    CHECK(names(plan, plan.take_ready()) == Names{"b"});
    CHECK_THROWS_AS(plan.finished(99, NodeState::completed), std::logic_error);
}
