// Quality gates, baseline drops, the smoke profile merge and the CI reports.
#include "engine_test_util.hpp"

#include "app/ci_reports.hpp"
#include "app/gates.hpp"

#include <doctest/doctest.h>

using namespace mlrun;
using namespace mlrun::test;

namespace {

// A leaderboard.json as the summary writes it: two ranked models, mlp recommended.
Json sample_leaderboard(double mlp_auc, double logreg_auc)
{
    return Json{{"primary_metric", "roc_auc"},
                {"models",
                 {{{"rank", 1},
                   {"model", "train::mlp"},
                   {"task_id", "t1"},
                   {"test", {{"roc_auc", mlp_auc}, {"log_loss", 0.40}}}},
                  {{"rank", 2},
                   {"model", "train::logreg"},
                   {"task_id", "t2"},
                   {"test", {{"roc_auc", logreg_auc}, {"log_loss", 0.50}}}}}},
                {"recommended", {{"task_id", "t1"}, {"name", "train::mlp"}}},
                {"error_models", Json::array()}};
}

} // namespace

TEST_CASE("parse_gate: operators, spaces, and one clear error for bad syntax")
{
    Gate g = parse_gate("roc_auc>=0.80");
    CHECK(g.metric == "roc_auc");
    CHECK(g.op == ">=");
    CHECK(g.bound == doctest::Approx(0.8));
    Gate lt = parse_gate("log_loss < 0.5");
    CHECK(lt.metric == "log_loss");
    CHECK(lt.op == "<");
    CHECK(gate_passes(lt, 0.49));
    CHECK_FALSE(gate_passes(lt, 0.5));
    CHECK_FALSE(gate_passes(g, std::nan("")));
    for (const char* bad : {"roc_auc>>1", "roc_auc", ">=0.8", "roc_auc>=high", "roc auc>=0.8", ""}) {
        CAPTURE(bad);
        CHECK_THROWS_WITH_AS(parse_gate(bad), doctest::Contains("expected METRIC OP NUMBER"), UsageError);
    }
}

TEST_CASE("check_gates: the recommended model, every model, and a missing leaderboard")
{
    Json lb = sample_leaderboard(0.86, 0.79);
    std::vector<GateResult> r = check_gates(lb, {parse_gate("roc_auc>=0.8")}, false);
    REQUIRE(r.size() == 1);
    CHECK(r[0].passed);
    CHECK(r[0].message.find("train::mlp") != std::string::npos);

    r = check_gates(lb, {parse_gate("roc_auc>=0.8")}, true);
    REQUIRE(r.size() == 2);
    CHECK(r[0].passed);
    CHECK_FALSE(r[1].passed);
    CHECK(r[1].message == "roc_auc 0.7900 misses >= 0.8000 for train::logreg");

    r = check_gates(lb, {parse_gate("f1>=0.5")}, false);
    CHECK_FALSE(r[0].passed);
    CHECK(r[0].message.find("not reported") != std::string::npos);

    r = check_gates(Json(), {parse_gate("roc_auc>=0.8")}, false);
    CHECK_FALSE(r[0].passed);
}

TEST_CASE("check_baseline: a drop beyond the allowance fails; lower-is-better metrics count a rise")
{
    Json before = sample_leaderboard(0.86, 0.79);
    Json worse = sample_leaderboard(0.82, 0.79);
    auto drop = parse_max_drop("roc_auc=0.02");
    CHECK(drop.first == "roc_auc");
    CHECK(drop.second == doctest::Approx(0.02));
    std::vector<GateResult> r = check_baseline(worse, before, "RUN0", {drop});
    REQUIRE(r.size() == 1);
    CHECK_FALSE(r[0].passed);
    CHECK(r[0].message.find("worse by 0.0400") != std::string::npos);
    CHECK(check_baseline(before, before, "RUN0", {drop})[0].passed);

    Json lossier = sample_leaderboard(0.86, 0.79);
    lossier["models"][0]["test"]["log_loss"] = 0.45;
    CHECK_FALSE(check_baseline(lossier, before, "RUN0", {{"log_loss", 0.01}})[0].passed);
    CHECK(check_baseline(lossier, before, "RUN0", {{"log_loss", 0.06}})[0].passed);
    CHECK_THROWS_AS(parse_max_drop("roc_auc"), UsageError);
    CHECK_THROWS_AS(parse_max_drop("roc_auc=-1"), UsageError);
}

TEST_CASE("smoke profile: merged into step params before --set, and a foreach override replaces the fan-out")
{
    TempDir dir;
    std::string file = write_pipeline(dir, R"(
name: p
steps:
  - {name: prep, template: noop, params: {sleep_ms: 100, value: 1}}
  - {name: train, template: noop, parents: [prep], foreach: {value: [1, 2, 3]}}
smoke:
  prep.sleep_ms: 0
  train.value: [7]
)");
    PipelineSpec spec = load_pipeline(file);
    apply_smoke(spec);
    CHECK(spec.steps[0].params["sleep_ms"] == 0);
    CHECK(spec.steps[0].params["value"] == 1);
    REQUIRE(spec.steps[1].foreach_values.size() == 1);
    CHECK(spec.steps[1].foreach_values[0] == 7);
    apply_step_sets(spec, {"prep.sleep_ms=5"}, "--set");
    CHECK(spec.steps[0].params["sleep_ms"] == 5);
}

TEST_CASE("JUnit report: a test case per step and per gate, failures with the step's log tail")
{
    TempDir dir;
    Backends b = engine_backends(dir);
    std::string file = write_pipeline(dir, R"(
name: ci
steps:
  - {name: prep, template: exec, params: {command: "echo preparing"}}
  - {name: broken, template: exec, parents: [prep], params: {command: "echo 'bad <thing> & more'; exit 3"}}
  - {name: after, template: exec, parents: [broken], params: {command: "true"}}
)");
    PipelineResult result = run_pipeline(b.ports(), file, quiet_options());
    CHECK(result.status == "failed");
    Json run = load_run(b.ports(), result.run_id);
    std::vector<GateResult> gates{{"roc_auc>=0.8", false, "roc_auc 0.7 misses >= 0.8"}};
    write_junit(dir / "out.xml", *b.store, run, gates);
    std::string xml = read_text(dir / "out.xml");
    CHECK(xml.find("<testsuites name=\"mlrun ci\" tests=\"4\" failures=\"2\" errors=\"0\" skipped=\"1\">")
          != std::string::npos);
    CHECK(xml.find("name=\"broken\"") != std::string::npos);
    CHECK(xml.find("bad &lt;thing&gt; &amp; more") != std::string::npos); // the log tail, escaped
    CHECK(xml.find("<skipped message=\"parent broken failed\"/>") != std::string::npos);
    CHECK(xml.find("roc_auc 0.7 misses &gt;= 0.8") != std::string::npos);
    CHECK(xml_escape(std::string("a\x01<b>")) == "a&lt;b&gt;");
}
