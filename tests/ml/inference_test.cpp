// The inference kind's input report (imputed cells, unseen categories, numbers outside the
// training range, bad cells), on_bad_row fail/skip, and scoring the held-out test split when
// no new data is given.
#include "core/error.hpp"
#include "core/util.hpp"
#include "kinds/kinds.hpp"
#include "ml/input_report.hpp"
#include "ml/metrics.hpp"
#include "ml/models/model.hpp"
#include "ml/split_io.hpp"
#include "ml/table.hpp"
#include "ml/transform.hpp"
#include "ports/task_context.hpp"

#include "kind_harness.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace mlrun::ml;
using mlrun::Json;
using mlrun::ml_test::RecordingTracker;
using mlrun::ml_test::TempDir;

namespace {

const fs::path k_repo = MLRUN_SOURCE_DIR;

std::string error_of(const std::function<void()>& fn)
{
    try {
        fn();
    } catch (const mlrun::UsageError& e) {
        return e.what();
    }
    return "(no UsageError)";
}

// New Titanic passengers: row 1 clean, row 2 a missing age, row 3 an unseen port 'X', row 4
// an age of 200 (the training maximum is 80), row 5 the age "twelve", row 6 clean.
const char* k_new_rows = "pclass,sex,age,sibsp,parch,fare,embarked,survived\n"
                         "1,female,29,0,0,100,S,1\n"
                         "3,male,,0,0,7.25,S,0\n"
                         "2,female,30,1,0,20,X,1\n"
                         "3,male,200,0,0,8,S,0\n"
                         "3,male,twelve,0,0,8,Q,0\n"
                         "1,male,40,0,0,50,C,1\n";

// Titanic preprocessed (seed 42) and a knn trained on it, as a pipeline leaves them:
// preprocess task prep1, training task train1 whose inputs name prep1.
struct Trained {
    TempDir tmp;
    RecordingTracker tracker{tmp.path / "store"};
    std::vector<std::string> log;

    Trained()
    {
        mlrun::TaskContext ctx;
        ctx.reporter = &tracker;
        ctx.inputs_port = &tracker;
        ctx.work_dir = tmp.path / "prep";
        fs::create_directories(ctx.work_dir);
        ctx.task.id = "prep1";
        tracker.current = ctx.task.id;
        ctx.task.kind = "preprocess";
        ctx.task.params = {{"data",
                            {{"path", "titanic/titanic3.arff"},
                             {"target", "survived"},
                             {"drop", {"boat", "body", "home.dest", "name", "ticket", "cabin"}}}},
                           {"seed", 42},
                           {"base_dir", (k_repo / "examples").string()}};
        mlrun::kinds::run_preprocess(ctx);
        mlrun::Task& prep = tracker.tasks["prep1"];
        prep.id = "prep1";
        prep.kind = "preprocess";
        prep.params = ctx.task.params;

        const LabeledSet train = load_split(tracker.artifacts.at("train.bin"));
        const LabeledSet valid = load_split(tracker.artifacts.at("valid.bin"));
        auto model = make_model("knn", Json::object(), static_cast<int>(train.x.cols), train.n_classes(), train.shape);
        model->fit(train, valid, FitOptions{});
        save_model(*model, tmp.path / "model", train, Json::object());
        tracker.store_artifact("train1", "model", tmp.path / "model");
        mlrun::Task& trained = tracker.tasks["train1"];
        trained.id = "train1";
        trained.kind = "train_model";
        trained.params = {{"inputs", {{"preprocess", "prep1"}}}};
    }

    // Runs inference with `params` (model.task_id = train1 added); its log lines go to `log`.
    void infer(Json params)
    {
        mlrun::TaskContext inf;
        inf.reporter = &tracker;
        inf.inputs_port = &tracker;
        inf.work_dir = tmp.path / ("inf_" + mlrun::new_id());
        fs::create_directories(inf.work_dir);
        inf.task.id = "inf1";
        tracker.current = inf.task.id;
        inf.task.kind = "inference";
        params["model"] = {{"task_id", "train1"}};
        inf.task.params = std::move(params);
        log.clear();
        inf.log = [&](const std::string& line) { log.push_back(line); };
        mlrun::kinds::run_inference(inf);
    }

    fs::path write_rows(const std::string& text)
    {
        const fs::path p = tmp.path / "new_rows.csv";
        mlrun::write_file_atomic(p, text);
        return p;
    }

    Json metrics_json() const { return Json::parse(mlrun::read_file(tracker.artifacts.at("metrics.json"))); }
};

bool logged(const std::vector<std::string>& log, const std::string& text)
{
    return std::any_of(log.begin(), log.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

} // namespace

TEST_CASE("TabularTransform::apply with a report counts imputed, unseen, out-of-range and bad cells")
{
    const Table t = parse_csv("id,age,sex,city,label\n"
                              "p1,22,m,Oslo,no\n"
                              "p2,,f,Rome,yes\n"
                              "p3,40,f,Oslo,yes\n"
                              "p4,35,,Rome,no\n"
                              "p5,60,m,Oslo,no\n"
                              "p6,18,f,Rome,yes\n",
                              "small.csv");
    std::vector<std::size_t> rows(t.rows());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        rows[i] = i;
    }
    TransformOptions o;
    o.target = "label";
    o.id_column = "id";
    const auto fitted = TabularTransform::fit(t, rows, o, {"no", "yes"});
    // The training range travels in transform.json.
    const auto tr = TabularTransform::from_json(fitted.to_json());
    const ColumnPlan& age = tr.columns().at(0);
    REQUIRE(age.name == "age");
    CHECK(age.has_range);
    CHECK(age.min == 18);
    CHECK(age.max == 60);

    // q1: age 61 above, Paris unseen; q2: sex and age missing; q3: 18 (the minimum: inside),
    // label 'maybe' unknown; q4: age 'old' and city Lima; q5: age 'x'; q6: age 5 below.
    const Table fresh = parse_csv("id,age,sex,city,label\n"
                                  "q1,61,m,Paris,no\n"
                                  "q2,,,Oslo,yes\n"
                                  "q3,18,f,Rome,maybe\n"
                                  "q4,old,f,Lima,no\n"
                                  "q5,x,m,Oslo,\n"
                                  "q6,5,m,Paris,yes\n",
                                  "fresh.csv");
    InputReport report;
    const LabeledSet s = tr.apply(fresh, report);
    for (float v : s.x.data) {
        CHECK(std::isfinite(v));
    }
    CHECK(report.rows == 6);
    const ColumnCounts* a = report.column("age");
    REQUIRE(a != nullptr);
    CHECK(a->imputed == 1);
    CHECK(a->out_of_range == 2);
    CHECK(a->bad == 2);
    CHECK(a->unseen == 0);
    const ColumnCounts* sex = report.column("sex");
    REQUIRE(sex != nullptr);
    CHECK(sex->imputed == 1);
    CHECK_FALSE(sex->out_of_range + sex->bad + sex->unseen > 0);
    const ColumnCounts* city = report.column("city");
    REQUIRE(city != nullptr);
    CHECK(city->unseen == 3);
    CHECK(city->unseen_values == std::vector<std::string>{"Paris", "Lima"});
    CHECK(report.label_column == "label");
    CHECK(report.label_missing == 1);
    CHECK(report.label_unseen == 1);
    // One entry per row with a bad cell, by row, naming the row's id.
    REQUIRE(report.bad_rows.size() == 2);
    CHECK(report.bad_rows[0].row == 3);
    CHECK(report.bad_rows[0].id == "q4");
    CHECK(report.bad_rows[0].value == "old");
    CHECK(describe_bad_cell(report.bad_rows[1]) == "data row 5, column 'age': 'x' is not a number");

    const Json j = report.to_json();
    CHECK(j.at("columns").at("age")
          == Json{{"imputed", 1}, {"out_of_range", 2}, {"training_range", {18.0, 60.0}}, {"bad", 2}});
    CHECK(j.at("columns").at("sex") == Json{{"imputed", 1}});
    CHECK(j.at("total") == Json{{"imputed", 2}, {"unseen", 3}, {"out_of_range", 2}, {"bad", 2}});
    const std::vector<std::string> lines = report.summary_lines();
    REQUIRE(lines.size() == 5); // age, sex, city, the unknown label, the total
    CHECK(lines[0] == "column 'age': 1 imputed, 2 outside the training range [18, 60], 2 bad (not a number)");
    CHECK(lines[2] == "column 'city': 3 unseen categories ('Paris', 'Lima')");
    CHECK(lines[3] == "label 'label': 1 label not among the trained classes (not scored)");
    CHECK(lines[4] == "input report: 6 rows; imputed 2, unseen 3, out of range 2, bad 2 (in 2 rows)");

    // Without a report the first bad cell still throws, as before.
    CHECK(error_of([&] { tr.apply(fresh); }) == "fresh.csv: column 'age' data row 4: 'old' is not a number");
}

TEST_CASE("run_inference: the input report counts each problem; on_bad_row fail names the first bad row")
{
    Trained f;
    const fs::path rows = f.write_rows(k_new_rows);
    // fail (the default): one line naming the row, the column and the value.
    CHECK(error_of([&] {
              f.infer({{"data", {{"path", rows.string()}}}});
          })
          == rows.string()
                 + ": data row 5, column 'age': 'twelve' is not a number; on_bad_row: skip predicts the other "
                   "rows");
    CHECK(logged(f.log, "inference: column 'age': 1 imputed, 1 outside the training range"));
    CHECK(error_of([&] {
              f.infer({{"data", {{"path", rows.string()}}}, {"on_bad_row", "maybe"}});
          })
          == "params.on_bad_row: 'maybe' is not one of fail, skip");
}

TEST_CASE("run_inference: on_bad_row skip reports the row and predicts the others")
{
    Trained f;
    const fs::path rows = f.write_rows(k_new_rows);
    f.infer({{"data", {{"path", rows.string()}}}, {"on_bad_row", "skip"}});

    const Json doc = f.metrics_json();
    CHECK(doc.at("scored") == "new data " + rows.string());
    const Json& report = doc.at("input_report");
    CHECK(report.at("rows") == 6);
    const Json& age = report.at("columns").at("age");
    CHECK(age.at("imputed") == 1);
    CHECK(age.at("out_of_range") == 1);
    CHECK(age.at("bad") == 1);
    // The range is the training split's, as transform.json keeps it.
    const Json transform = Json::parse(mlrun::read_file(f.tracker.artifacts.at("transform.json")));
    for (const Json& c : transform.at("columns")) {
        if (c.at("name") == "age") {
            CHECK(age.at("training_range") == Json{c.at("min"), c.at("max")});
            CHECK(c.at("max").get<double>() < 200);
        }
    }
    CHECK(report.at("columns").at("embarked") == Json{{"unseen", 1}, {"unseen_values", {"X"}}});
    CHECK(report.at("columns").size() == 2); // nothing to say about the other columns
    CHECK(report.at("skipped") == 1);
    CHECK(report.at("skipped_rows")
          == Json::array({{{"row", 5}, {"id", "4"}, {"column", "age"}, {"value", "twelve"}}}));

    // The other five rows are predicted; the skipped one is not in predictions.csv.
    CHECK(f.tracker.values.at("rows") == 5);
    CHECK(doc.at("metrics").at("rows") == 5);
    const Table pred = read_table(f.tracker.artifacts.at("predictions.csv"));
    REQUIRE(pred.rows() == 5);
    CHECK(pred.column("id").text == std::vector<std::string>{"0", "1", "2", "3", "5"});
    CHECK(logged(f.log, "inference: skipped data row 5, column 'age': 'twelve' is not a number"));
    CHECK(logged(f.log, "inference: column 'embarked': 1 unseen category ('X')"));
    CHECK(logged(f.log, "inference: input report: 6 rows; imputed 1, unseen 1, out of range 1, bad 1 (in 1 row)"));
    CHECK(f.tracker.values.at("input_report") == report);
}

TEST_CASE("run_inference without new data scores the preprocess task's test split, never training rows")
{
    Trained f;
    f.infer(Json::object());
    const LabeledSet test = load_split(f.tracker.artifacts.at("test.bin"));
    const auto test_rows = f.tracker.tasks.at("prep1").values.at("split_rows").at("test").get<std::int64_t>();
    REQUIRE(test.x.rows == test_rows);
    const std::string scored = "test split (" + std::to_string(test_rows) + " rows)";
    const Json doc = f.metrics_json();
    CHECK(doc.at("scored") == scored);
    CHECK(f.tracker.values.at("scored") == scored);
    CHECK(f.tracker.values.at("rows") == test_rows);
    CHECK(logged(f.log, "inference: scoring " + scored + " of preprocess task prep1"));
    // The preprocess step's count of what the transform met in those rows (Titanic's test
    // split has missing ages).
    CHECK(doc.at("input_report").at("rows") == test_rows);
    CHECK(doc.at("input_report").at("columns").at("age").at("imputed").get<int>() > 0);

    // The rows are exactly the test split: ids, and the metrics of the model on test.bin.
    const Table pred = read_table(f.tracker.artifacts.at("predictions.csv"));
    CHECK(pred.column("id").text == test.ids);
    const auto model = load_model(f.tracker.artifacts.at("model"));
    const Json expected = all_metrics(test.y, model->predict_proba(test.x));
    CHECK(doc.at("metrics").at("accuracy") == expected.at("accuracy"));
    CHECK(doc.at("metrics").at("roc_auc") == expected.at("roc_auc"));
    CHECK(doc.at("metrics").at("rows") == test_rows);

    // data.limit takes the first rows of the split.
    f.infer({{"data", {{"limit", 10}}}});
    CHECK(f.metrics_json().at("scored") == "test split (10 rows)");
}
