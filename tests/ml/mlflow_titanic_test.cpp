// The Titanic example end to end against the strict fake MLflow server (tests/core/fake_mlflow.hpp):
// `mlrun pipeline run examples/titanic/pipeline.yaml --smoke --tracking URL`, then a second
// run that may or may not beat the first. Follows the recorded exchanges of
// shared/mlflow-contract/transcript.md: experiments/get-by-name + create, runs/create with
// mlflow.parentRunId, runs/log-batch, PUT mlflow-artifacts, runs/update FINISHED,
// registered-models/create, model-versions/create (source mlflow-artifacts:/…, run_id),
// GET/POST registered-models/alias.
#include "../core/engine_test_util.hpp"
#include "../core/fake_mlflow.hpp"

#include "app/sync.hpp"
#include "core/util.hpp"
#include "engine/run_record.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace mlrun;
using namespace mlrun::test;

namespace {

const std::string k_titanic = std::string(MLRUN_SOURCE_DIR) + "/examples/titanic/pipeline.yaml";
const std::string k_model = "examples-titanic"; // the project's name, '/' -> '-'

RunResult mlrun_cli(const TempDir& dir, std::vector<std::string> args)
{
    args.insert(args.begin(), {"--templates", k_templates});
    return run(dir, args);
}

std::string metric_key(const Scalar& s)
{
    return s.series.empty() || s.series == s.title ? s.title : s.title + "/" + s.series;
}

std::string tag_of(const FakeVersion& v, const std::string& key)
{
    for (const auto& [k, value] : v.tags) {
        if (k == key) {
            return value;
        }
    }
    return "";
}

double metric_tag(const FakeVersion& v)
{
    return std::stod(tag_of(v, "mlrun.metric.roc_auc"));
}

// The MLflow run of a task, exactly one.
FakeRun run_of(const FakeMlflow& fake, const std::string& task_id)
{
    const std::vector<FakeRun> runs = fake.runs_tagged("mlrun.task_id", task_id);
    REQUIRE(runs.size() == 1);
    return runs[0];
}

} // namespace

TEST_CASE("titanic --tracking: experiment, nested runs with full histories and artifacts, the registered model")
{
    FakeMlflow fake;
    TempDir dir;
    RunResult first = mlrun_cli(dir, {"--tracking", fake.url(), "pipeline", "run", "-q", "--smoke", k_titanic});
    CAPTURE(first.err);
    REQUIRE(first.code == 0);
    const std::string run_id = run_id_of(first.out);
    REQUIRE_FALSE(run_id.empty());
    CHECK(fake.violations().empty());

    const std::vector<std::string> experiments = fake.experiment_names();
    CHECK(std::count(experiments.begin(), experiments.end(), "examples/titanic") == 1);
    const std::vector<FakeRun> parents = fake.runs_tagged("mlrun.pipeline_run", run_id);
    REQUIRE(parents.size() == 1);
    const FakeRun& parent = parents[0];
    CHECK(parent.status == "FINISHED");
    CHECK(parent.tag("mlflow.source.git.commit").size() == 40);

    Backends b = engine_backends(dir);
    const Json record = load_run(b.ports(), run_id);
    std::string search_id, summary_id;
    for (const auto& [node, task_id] : node_tasks(record)) {
        CAPTURE(node);
        REQUIRE_FALSE(task_id.empty());
        const Task t = b.store->get(task_id);
        const FakeRun r = run_of(fake, task_id);
        CHECK(r.run_name == t.name);
        CHECK(r.experiment_id == parent.experiment_id);
        CHECK(r.tag("mlflow.parentRunId") == parent.run_id);
        CHECK(r.status == "FINISHED");
        CHECK(r.tag("mlflow.source.git.commit").size() == 40); // the example is in this repository
        CHECK_FALSE(r.tag("mlrun.env.host").empty());
        CHECK_FALSE(r.tag("mlrun.env.libraries.libtorch").empty()); // every titanic kind loads it
        if (t.kind == "train_model") {
            CHECK_FALSE(r.param("model.kind").empty());
        }
        // Every stored point of every series, in order (every epoch).
        std::map<std::string, std::vector<Scalar>> series;
        for (const Scalar& s : b.store->read_scalars(task_id)) {
            series[metric_key(s)].push_back(s);
        }
        for (const auto& [key, stored] : series) {
            CAPTURE(key);
            auto it = r.metrics.find(key);
            REQUIRE(it != r.metrics.end());
            REQUIRE(it->second.size() == stored.size());
            for (std::size_t i = 0; i < stored.size(); ++i) {
                CHECK(it->second[i].step == stored[i].iteration);
                CHECK(it->second[i].timestamp == stored[i].timestamp_ms);
            }
        }
        // Every artifact: files byte for byte, folders file by file.
        const std::map<std::string, std::string> files = fake.artifacts(r.run_id);
        for (const ArtifactRecord& a : t.artifacts) {
            CAPTURE(a.name);
            const std::optional<fs::path> local = b.store->artifact_path(task_id, a.name);
            REQUIRE(local);
            if (fs::is_directory(*local)) {
                for (const auto& entry : fs::recursive_directory_iterator(*local)) {
                    if (entry.is_regular_file()) {
                        const std::string rel = a.name + "/" + fs::relative(entry.path(), *local).generic_string();
                        CAPTURE(rel);
                        REQUIRE(files.count(rel) == 1);
                        CHECK(sha256_hex(files.at(rel)) == sha256_file(entry.path()));
                    }
                }
            } else {
                REQUIRE(files.count(a.name) == 1);
                CHECK(sha256_hex(files.at(a.name)) == a.sha256);
            }
        }
        if (node == "search") {
            search_id = task_id;
        }
        if (t.kind == "summary") {
            summary_id = task_id;
            for (const char* name : {"leaderboard.json", "leaderboard.csv", "recommended_model.json",
                                     "error_models.json", "report.html"}) {
                CHECK(files.count(name) == 1);
            }
        }
    }
    REQUIRE_FALSE(search_id.empty());
    REQUIRE_FALSE(summary_id.empty());

    // Search trials nest under the search step's run.
    TaskFilter trials_of;
    trials_of.run_id = run_id;
    std::size_t trials = 0;
    const std::string search_run = run_of(fake, search_id).run_id;
    for (const Task& t : b.store->list(trials_of)) {
        if (t.parent == search_id) {
            ++trials;
            CHECK(run_of(fake, t.id).tag("mlflow.parentRunId") == search_run);
        }
    }
    CHECK(trials == 2); // the smoke profile's search.trials

    // The recommended model: version 1, from the leaderboard's best training run, alias on it.
    const Json board = Json::parse(read_text(*b.store->artifact_path(summary_id, "leaderboard.json")));
    const std::string best_task = board["recommended"]["task_id"].get<std::string>();
    const FakeRun best = run_of(fake, best_task);
    std::vector<FakeVersion> versions = fake.versions(k_model);
    REQUIRE(versions.size() == 1);
    CHECK(versions[0].run_id == best.run_id);
    CHECK(versions[0].source == "mlflow-artifacts:/" + best.experiment_id + "/" + best.run_id + "/artifacts/model");
    CHECK(tag_of(versions[0], "mlrun.primary_metric") == "roc_auc");
    CHECK(tag_of(versions[0], "mlrun.pipeline_run") == run_id);
    CHECK(metric_tag(versions[0]) == doctest::Approx(board["models"][0]["test"]["roc_auc"].get<double>()));
    CHECK(fake.alias(k_model, "recommended") == "1");
    CHECK(task_mirror_state(*b.store, b.store->get(best_task)).synced);

    // A second, different run (fewer epochs), checked against the registry's model: the alias
    // moves to its model only when that model's roc_auc is higher.
    RunResult second = mlrun_cli(dir, {"--tracking", fake.url(), "pipeline", "run", k_titanic, "--smoke", "--set",
                                       "train.model.epochs=2", "--set", "search.model.epochs=2", "--baseline-model",
                                       k_model + "@recommended", "--max-drop", "roc_auc=1"});
    CAPTURE(second.out);
    CAPTURE(second.err);
    REQUIRE(second.code == 0);
    CHECK(second.out.find("gate passed: baseline roc_auc drop <= 1.0000 (vs model " + k_model
                          + "@recommended (version 1))")
          != std::string::npos);
    versions = fake.versions(k_model);
    REQUIRE(versions.size() == 2);
    CHECK(tag_of(versions[1], "mlrun.pipeline_run") == run_id_of(second.out));
    const bool wins = metric_tag(versions[1]) > metric_tag(versions[0]);
    CAPTURE(metric_tag(versions[0]));
    CAPTURE(metric_tag(versions[1]));
    CHECK(fake.alias(k_model, "recommended") == (wins ? "2" : "1"));
    CHECK(fake.runs_tagged("mlrun.pipeline_run", run_id).size() == 1); // the first run untouched
}
