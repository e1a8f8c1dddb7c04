// Typed params end to end (issue 12, class 2): each bad value the tester found is refused
// before anything runs — exit 2, one exact `mlrun: error:` line, the store byte-identical.
#include "engine_test_util.hpp"

#include "core/util.hpp"

#include <doctest/doctest.h>

#include <map>

using namespace mlrun;
using mlrun::test::k_templates;
using mlrun::test::lines_of;
using mlrun::test::run_cli;
using mlrun::test::RunResult;
using mlrun::test::TempDir;
using mlrun::test::trim;
using mlrun::test::write_pipeline;

namespace {

// Every file under `root` with its content hash (lock files aside: they hold no data).
std::map<std::string, std::string> snapshot(const fs::path& root)
{
    std::map<std::string, std::string> out;
    std::error_code ec;
    if (!fs::exists(root, ec)) {
        return out;
    }
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        const std::string name = e.path().filename().string();
        if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".lock") == 0) {
            continue;
        }
        out[fs::relative(e.path(), root).generic_string()] = e.is_regular_file() ? sha256_file(e.path()) : "dir";
    }
    return out;
}

// Runs `args` (with --templates <source>/templates) and checks: exit 2, exactly the line
// "mlrun: error: <message>" on stderr, nothing on stdout, nothing written anywhere.
void check_refused(const TempDir& dir, const std::vector<std::string>& args, const std::string& message)
{
    const auto before = snapshot(dir.path());
    const RunResult r = run_cli(dir, args);
    CAPTURE(r.out);
    CAPTURE(r.err);
    CHECK(r.code == 2);
    const std::vector<std::string> lines = lines_of(r.err);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0] == "mlrun: error: " + message);
    CHECK(r.out.empty());
    CHECK(snapshot(dir.path()) == before);
}

const char* k_ml_pipeline = R"(name: typed
steps:
  - name: prep
    template: preprocess
    params: {data.path: data.csv, data.target: y}
  - name: train
    template: train_model
    parents: [prep]
    foreach: {model.kind: [logreg, mlp]}
  - name: summary
    template: summary
    parents: [train]
)";

// A store with one task in it, so "nothing written" compares a real store.
std::string seed_store(const TempDir& dir)
{
    const RunResult r = run_cli(dir, {"task", "create", "exec", "--set", "command=true"});
    REQUIRE(r.code == 0);
    return trim(r.out);
}

} // namespace

TEST_CASE("typed params: pipeline --set values of the wrong type, out of range or unknown are refused up front")
{
    TempDir dir;
    seed_store(dir);
    const std::string file = write_pipeline(dir, k_ml_pipeline);
    const std::string kinds = "logreg, mlp, cnn, random_forest, boost, svm, knn, xgboost";
    check_refused(
        dir, {"pipeline", "run", file, "--set", "train.model.epochs=abc"},
        R"(--set "train.model.epochs=abc": step "train": param "model.epochs": expected a whole number in 1..1000000, found "abc")");
    check_refused(
        dir, {"pipeline", "run", file, "--set", "train.model.epochs=-5"},
        R"(--set "train.model.epochs=-5": step "train": param "model.epochs": expected a whole number in 1..1000000, found -5)");
    check_refused(
        dir, {"pipeline", "run", file, "--set", "train.model.epochs=2.5"},
        R"(--set "train.model.epochs=2.5": step "train": param "model.epochs": expected a whole number in 1..1000000, found 2.5)");
    check_refused(
        dir, {"pipeline", "run", file, "--set", "train.model.lr=fast"},
        R"(--set "train.model.lr=fast": step "train": param "model.lr": expected a number > 0 and <= 1000000, found "fast")");
    check_refused(dir, {"pipeline", "run", file, "--set", "train.model.kind=[mlp,xgbost]"},
                  R"(--set "train.model.kind=[mlp,xgbost]": step "train": param "model.kind": expected one of )" + kinds
                      + R"(, found "xgbost" (did you mean xgboost?))");
    check_refused(
        dir, {"pipeline", "run", file, "--set", "train.model.epoch=3"},
        R"(--set "train.model.epoch=3": step "train": unknown param "model.epoch" (did you mean model.epochs?))");
    check_refused(
        dir, {"pipeline", "run", file, "--set", "prep.split.train=1.5"},
        R"(--set "prep.split.train=1.5": step "prep": param "split.train": expected a number in 0..1, found 1.5)");
    check_refused(
        dir, {"pipeline", "run", file, "--set", "summary.policy=lenient"},
        R"(--set "summary.policy=lenient": step "summary": param "policy": expected one of partial, strict, found "lenient")");
}

TEST_CASE("typed params: a gate on a metric no model reports is refused before the run")
{
    TempDir dir;
    seed_store(dir);
    const std::string file = write_pipeline(dir, k_ml_pipeline);
    const std::string known = "accuracy, precision, recall, f1, roc_auc, pr_auc, log_loss, rows";
    check_refused(dir, {"pipeline", "run", file, "--gate", "roc_aux>=0.8"},
                  R"(gate "roc_aux>=0.8": unknown metric "roc_aux" (did you mean roc_auc?); known: )" + known);
    check_refused(dir, {"pipeline", "run", file, "--gate", "speed>=3"},
                  R"(gate "speed>=3": unknown metric "speed"; known: )" + known);
    std::string gated = k_ml_pipeline;
    gated += "gates: ['f2 >= 0.5']\n";
    const std::string gfile = write_pipeline(dir, gated, "gated.yaml");
    check_refused(dir, {"pipeline", "run", gfile},
                  gfile + R"(: gate "f2 >= 0.5": unknown metric "f2" (did you mean f1?); known: )" + known);
}

TEST_CASE("typed params: pipeline-file params and foreach values are checked against the schema")
{
    TempDir dir;
    seed_store(dir);
    std::string bad_param = k_ml_pipeline;
    bad_param.replace(bad_param.find("foreach"), 0, "params: {model.epochs: 0}\n    ");
    const std::string f1 = write_pipeline(dir, bad_param, "p1.yaml");
    check_refused(dir, {"pipeline", "run", f1},
                  f1 + R"(: step "train": param "model.epochs": expected a whole number in 1..1000000, found 0)");

    std::string bad_foreach = k_ml_pipeline;
    bad_foreach.replace(bad_foreach.find("[logreg, mlp]"), 13, "[logreg, mpl]");
    const std::string f2 = write_pipeline(dir, bad_foreach, "p2.yaml");
    check_refused(
        dir, {"pipeline", "run", f2},
        f2 + R"(: step "train": foreach param "model.kind": expected one of logreg, mlp, cnn, random_forest, boost, svm, knn, xgboost, found "mpl" (did you mean mlp?))");

    std::string bad_metric = k_ml_pipeline;
    bad_metric.replace(bad_metric.find("steps:"), 0, "primary_metric: rocauc\n");
    const std::string f3 = write_pipeline(dir, bad_metric, "p3.yaml");
    const RunResult r = run_cli(dir, {"pipeline", "run", f3});
    CHECK(r.code == 2);
    CHECK(r.err.find(R"(param "primary_metric": expected one of accuracy)") != std::string::npos);
    CHECK(r.err.find("(did you mean roc_auc?)") != std::string::npos);
}

TEST_CASE("typed params: a noop pipeline runs with good values and refuses bad ones")
{
    TempDir dir;
    const std::string file = write_pipeline(dir, R"(name: noops
steps:
  - name: work
    template: noop
)");
    const RunResult ok = run_cli(dir,
                                 {"pipeline", "run", "-q", file, "--set", "work.sleep_ms=1", "--set", "work.stages=2"});
    CAPTURE(ok.err);
    CHECK(ok.code == 0);
    check_refused(dir, {"pipeline", "run", "-q", file, "--set", "work.stages=0"},
                  R"(--set "work.stages=0": step "work": param "stages": expected a whole number >= 1, found 0)");
    check_refused(dir, {"pipeline", "run", "-q", file, "--set", "work.fail=maybe"},
                  R"(--set "work.fail=maybe": step "work": param "fail": expected true or false, found "maybe")");
}

TEST_CASE("typed params: task create, clone and edit refuse bad values and leave the store untouched")
{
    TempDir dir;
    const std::string draft = seed_store(dir);
    check_refused(dir, {"task", "create", "exec", "--set", "timeout_s=abc"},
                  R"(param "timeout_s": expected a whole number >= 0, found "abc")");
    check_refused(
        dir, {"task", "create", "exec", "--set", "timout_s=3"},
        R"(param "timout_s" is not editable (did you mean timeout_s?) (editable: command, timeout_s, env, seed, inputs))");
    check_refused(dir, {"task", "create", "train_model", "--set", "model.epoch=3"},
                  R"(unknown param "model.epoch" (did you mean model.epochs?))");
    check_refused(
        dir, {"task", "create", "train_model", "--set", "model.kind=forest"},
        R"(param "model.kind": expected one of logreg, mlp, cnn, random_forest, boost, svm, knn, xgboost, found "forest" (did you mean boost?))");
    check_refused(dir, {"task", "clone", draft, "--set", "timeout_s=-1"},
                  R"(param "timeout_s": expected a whole number >= 0, found -1)");
    check_refused(dir, {"task", "edit", draft, "--set", "command=[1,2]"},
                  R"(param "command": expected a string or a list of strings, found [1,2])");
    check_refused(dir, {"task", "edit", draft, "--set", "seed=-1"},
                  R"(param "seed": expected a whole number >= 0, found -1)");
    // Good values still go through.
    CHECK(run_cli(dir, {"task", "edit", draft, "--set", "timeout_s=5"}).code == 0);
    CHECK(run_cli(dir, {"task", "clone", draft, "--set", R"(command=["/bin/true"])"}).code == 0);
}

TEST_CASE("typed params: task run refuses a stored task whose params its template's schema refuses")
{
    TempDir dir;
    // An exec template without a schema lets the bad value in, as before typed params.
    std::string exec = mlrun::test::read_text(k_templates + "/exec.yaml");
    mlrun::test::write_text(dir / "tpl" / "exec.yaml", exec.substr(0, exec.find("schema:")));
    const RunResult created = mlrun::test::run(
        dir, {"--templates", "tpl", "task", "create", "exec", "--set", "timeout_s=abc", "--set", "command=echo ok"});
    REQUIRE(created.code == 0);
    const std::string id = trim(created.out);
    fs::create_directories(dir / "templates");
    fs::copy(k_templates, dir / "templates", fs::copy_options::recursive);
    const auto before = snapshot(dir.path());
    const RunResult r = mlrun::test::run(dir, {"task", "run", id});
    CAPTURE(r.out);
    CAPTURE(r.err);
    CHECK(r.code == 2);
    CHECK(r.err
          == "mlrun: error: task " + id + R"(: param "timeout_s": expected a whole number >= 0, found "abc")" + "\n");
    CHECK(r.err.find("json") == std::string::npos);
    CHECK(snapshot(dir.path()) == before); // still a draft, nothing written
}

TEST_CASE("typed params: template show prints the schema, --json for scripts")
{
    TempDir dir;
    const RunResult text = run_cli(dir, {"template", "show", "train_model"});
    REQUIRE(text.code == 0);
    CHECK(text.out.find("schema:") != std::string::npos);
    bool epochs_row = false;
    for (const std::string& line : lines_of(text.out)) {
        epochs_row = epochs_row
                     || (line.find("model.epochs") != std::string::npos
                         && line.find("a whole number in 1..1000000") != std::string::npos
                         && line.find("30") != std::string::npos && line.find("max epochs") != std::string::npos);
    }
    CHECK(epochs_row);
    const RunResult js = run_cli(dir, {"template", "show", "train_model", "--json"});
    REQUIRE(js.code == 0);
    const Json j = Json::parse(js.out);
    CHECK(j["name"] == "train_model");
    bool kind_seen = false;
    for (const Json& p : j["schema"]) {
        if (p["key"] == "model.kind") {
            kind_seen = true;
            CHECK(p["type"] == "enum");
            CHECK(p["choices"].size() == 8);
            CHECK(p["default"] == "mlp");
            CHECK(!p["help"].get<std::string>().empty());
        }
        if (p["key"] == "model.lr") {
            CHECK(p["gt"] == 0);
            CHECK(p["max"] == 1000000);
        }
    }
    CHECK(kind_seen);
}
