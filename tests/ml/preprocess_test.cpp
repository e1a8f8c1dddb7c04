// Transform fit/apply, transform.json round trip, stratified splits and the preprocess kind
// run against a recording tracker.
#include "core/error.hpp"
#include "core/util.hpp"
#include "kinds/kinds.hpp"
#include "ml/metrics.hpp"
#include "ml/models/model.hpp"
#include "ml/split_io.hpp"
#include "ml/table.hpp"
#include "ml/transform.hpp"
#include "ports/inputs.hpp"
#include "ports/reporter.hpp"
#include "ports/task_context.hpp"

#include "kind_harness.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>

namespace fs = std::filesystem;
using namespace mlrun::ml;
using mlrun::Json;

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

using mlrun::ml_test::RecordingTracker;
using mlrun::ml_test::TempDir;

std::vector<std::size_t> all_rows(const Table& t)
{
    std::vector<std::size_t> rows(t.rows());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        rows[i] = i;
    }
    return rows;
}

const char* k_small_csv = "id,age,sex,city,label\n"
                          "p1,22,m,Oslo,no\n"
                          "p2,,f,Rome,yes\n"
                          "p3,40,f,Oslo,yes\n"
                          "p4,35,,Rome,no\n"
                          "p5,60,m,Oslo,no\n"
                          "p6,18,f,Rome,yes\n";

TransformOptions small_options()
{
    TransformOptions o;
    o.target = "label";
    o.id_column = "id";
    return o;
}

} // namespace

TEST_CASE("TabularTransform: fit on train rows, features by hand")
{
    const Table t = parse_csv(k_small_csv, "small.csv");
    TransformOptions o = small_options();
    o.missing_indicator = true;
    const std::vector<std::size_t> train{0, 1, 2, 3};
    const auto tr = TabularTransform::fit(t, train, o, {"no", "yes"});
    CHECK(tr.feature_names()
          == std::vector<std::string>{"age", "age_missing", "sex=f", "sex=m", "sex_missing", "city=Oslo", "city=Rome"});
    const LabeledSet s = tr.apply(t);
    // Train ages 22, 40, 35 -> median 35; after imputation 22, 35, 40, 35: mean 33, pop. std sqrt(40.5)
    const double sd = std::sqrt(((22 - 33.0) * (22 - 33.0) + 4 + 49 + 4) / 4.0);
    CHECK(s.x.at(0, 0) == doctest::Approx((22 - 33.0) / sd));
    CHECK(s.x.at(1, 0) == doctest::Approx((35 - 33.0) / sd)); // imputed with the train median
    CHECK(s.x.at(1, 1) == 1.0f);
    CHECK(s.x.at(0, 1) == 0.0f);
    // sex missing in row 3 -> most frequent of train (f: 2, m: 1)
    CHECK(s.x.at(3, 2) == 1.0f);
    CHECK(s.x.at(3, 4) == 1.0f);
    CHECK(s.y == std::vector<int>{0, 1, 1, 0, 0, 1});
    CHECK(s.ids.front() == "p1");
}

TEST_CASE("TabularTransform: transform.json round trip gives the same features")
{
    TempDir tmp;
    const Table t = parse_csv(k_small_csv, "small.csv");
    for (const char* encoding : {"onehot", "ordinal"}) {
        CAPTURE(encoding);
        TransformOptions o = small_options();
        o.encoding = encoding;
        const auto tr = TabularTransform::fit(t, {0, 1, 2, 3, 4}, o, {"no", "yes"});
        mlrun::write_file_atomic(tmp.path / "transform.json", tr.to_json().dump());
        const auto back = TabularTransform::from_json(Json::parse(mlrun::read_file(tmp.path / "transform.json")));
        CHECK(back.feature_names() == tr.feature_names());
        CHECK(back.apply(t).x.data == tr.apply(t).x.data);
    }
}

TEST_CASE("TabularTransform: unseen categories and missing values give finite features")
{
    const Table t = parse_csv(k_small_csv, "small.csv");
    const auto tr = TabularTransform::fit(t, all_rows(t), small_options(), {"no", "yes"});
    const Table fresh = parse_csv("label,city,sex,age,extra\n,Paris,x,,1\nno,,,70,2\n", "new.csv");
    const LabeledSet s = tr.apply(fresh);
    for (float v : s.x.data) {
        CHECK(std::isfinite(v));
    }
    // Paris unseen -> all-zero city one-hot; no id column -> row numbers; no label -> -1.
    const auto& names = s.feature_names;
    const auto col = [&](const std::string& n) {
        return static_cast<std::int64_t>(std::find(names.begin(), names.end(), n) - names.begin());
    };
    CHECK(s.x.at(0, col("city=Oslo")) == 0.0f);
    CHECK(s.x.at(0, col("city=Rome")) == 0.0f);
    CHECK(s.x.at(0, col("sex=f")) == 0.0f);
    CHECK(s.x.at(0, col("sex=m")) == 0.0f);
    CHECK(s.x.at(1, col("sex=f")) == 1.0f); // missing -> most frequent
    CHECK(s.y == std::vector<int>{-1, 0});
    CHECK(s.ids == std::vector<std::string>{"0", "1"});
}

TEST_CASE("TabularTransform: errors name the columns")
{
    const Table t = parse_csv(k_small_csv, "small.csv");
    const auto tr = TabularTransform::fit(t, all_rows(t), small_options(), {"no", "yes"});
    const Table lacking = parse_csv("age,label\n3,no\n", "lack.csv");
    CHECK(error_of([&] { tr.apply(lacking); }) == "lack.csv: missing columns needed by the transform: sex, city");
    const Table bad = parse_csv("age,sex,city\nold,m,Oslo\n", "bad.csv");
    CHECK(error_of([&] { tr.apply(bad); }) == "bad.csv: column 'age' data row 1: 'old' is not a number");
    TransformOptions o = small_options();
    o.drop = {"nope", "city"};
    CHECK(error_of([&] {
              TabularTransform::fit(t, all_rows(t), o, {"no", "yes"});
          })
          == "small.csv: data.drop names unknown columns: nope (columns: id, age, sex, city, label)");
    o = small_options();
    o.target = "survived";
    CHECK(error_of([&] {
              TabularTransform::fit(t, all_rows(t), o, {"no", "yes"});
          })
          == "small.csv: no target column 'survived' (columns: id, age, sex, city, label)");
}

TEST_CASE("TabularTransform: titanic free text and ids are dropped with a reason")
{
    const Table t = read_table(k_repo / "examples/titanic/titanic3.arff");
    TransformOptions o;
    o.target = "survived";
    o.drop = {"boat", "body"};
    std::vector<std::string> log;
    const auto tr = TabularTransform::fit(t, all_rows(t), o, class_names_of(t.column("survived")), &log);
    std::vector<std::string> kept;
    for (const auto& c : tr.columns()) {
        kept.push_back(c.name);
    }
    CHECK(kept == std::vector<std::string>{"pclass", "sex", "age", "sibsp", "parch", "fare", "embarked"});
    REQUIRE(log.size() == 4); // name, ticket, cabin, home.dest
    CHECK(log[0].find("dropped column 'name': free text") == 0);
    CHECK(tr.class_names() == std::vector<std::string>{"0", "1"});
}

TEST_CASE("stratified_split: class ratio kept, seeded, disjoint")
{
    std::vector<int> y;
    for (int i = 0; i < 1000; ++i) {
        y.push_back(i % 10 < 3 ? 1 : 0); // 30 % positives
    }
    const Splits a = stratified_split(y, 0.6, 0.2, 0.2, 7);
    const Splits b = stratified_split(y, 0.6, 0.2, 0.2, 7);
    const Splits c = stratified_split(y, 0.6, 0.2, 0.2, 8);
    CHECK(a.train == b.train);
    CHECK(a.test == b.test);
    CHECK(a.train != c.train);
    CHECK(a.train.size() + a.valid.size() + a.test.size() == y.size());
    CHECK(a.train.size() == 600);
    std::vector<int> seen(y.size(), 0);
    for (const auto* part : {&a.train, &a.valid, &a.test}) {
        double pos = 0;
        for (std::size_t i : *part) {
            ++seen[i];
            pos += y[i];
        }
        CHECK(std::abs(pos / static_cast<double>(part->size()) - 0.3) <= 0.02);
    }
    CHECK(std::count(seen.begin(), seen.end(), 1) == static_cast<long>(y.size()));
    CHECK(error_of([&] { stratified_split(y, 0.6, 0.3, 0.2, 1); }).find("sum to 1") != std::string::npos);
}

TEST_CASE("augment_images: train copies flipped and shifted")
{
    LabeledSet s;
    s.shape = ImageShape{1, 2, 3};
    s.x = Matrix(1, 6);
    s.x.data = {1, 2, 3, 4, 5, 6};
    s.y = {1};
    s.ids = {"a"};
    const LabeledSet f = augment_images(s, true, 0, 1);
    REQUIRE(f.x.rows == 2);
    CHECK(std::vector<float>(f.x.data.begin() + 6, f.x.data.end()) == std::vector<float>{3, 2, 1, 6, 5, 4});
    CHECK(f.ids[1] == "a#flip");
    CHECK(f.y == std::vector<int>{1, 1});
    const LabeledSet sh = augment_images(s, false, 1, 1);
    CHECK(sh.x.rows == 2);
    CHECK(augment_images(s, false, 0, 1).x.rows == 1);
}

TEST_CASE("run_preprocess: titanic through the kind, with its artifacts and values")
{
    TempDir tmp;
    RecordingTracker tracker(tmp.path / "store");
    mlrun::TaskContext ctx;
    ctx.task.id = "t1";
    tracker.current = ctx.task.id;
    ctx.task.kind = "preprocess";
    ctx.task.params = Json::parse(R"({"data": {"path": "titanic/titanic3.arff", "target": "survived",
                                               "drop": ["boat", "body"]},
                                      "seed": 3})");
    ctx.task.params["base_dir"] = (k_repo / "examples").string();
    ctx.reporter = &tracker;
    ctx.inputs_port = &tracker;
    ctx.work_dir = tmp.path / "work";
    fs::create_directories(ctx.work_dir);
    std::vector<std::string> log;
    ctx.log = [&](const std::string& line) { log.push_back(line); };
    mlrun::kinds::run_preprocess(ctx);

    for (const char* name : {"train.bin", "valid.bin", "test.bin", "transform.json", "describe.json"}) {
        CHECK(tracker.artifacts.count(name) == 1);
    }
    CHECK(tracker.values.at("rows") == 1309);
    CHECK(tracker.values.at("class_balance") == Json{{"0", 809}, {"1", 500}});
    const LabeledSet train = load_split(tracker.artifacts.at("train.bin"));
    const LabeledSet test = load_split(tracker.artifacts.at("test.bin"));
    CHECK(train.x.rows == 785);
    CHECK(train.x.cols == tracker.values.at("features").get<std::int64_t>());
    CHECK(train.x.rows + test.x.rows + load_split(tracker.artifacts.at("valid.bin")).x.rows == 1309);
    const Json describe = Json::parse(mlrun::read_file(tracker.artifacts.at("describe.json")));
    CHECK(describe.at("columns").at(4).at("name") == "age");
    CHECK(describe.at("columns").at(4).at("missing") == 263);
    // transform.json replays the training features exactly on the same rows.
    const auto tr = TabularTransform::from_json(Json::parse(mlrun::read_file(tracker.artifacts.at("transform.json"))));
    const Table table = read_table(k_repo / "examples/titanic/titanic3.arff");
    const LabeledSet again = tr.apply(table);
    const auto row = static_cast<std::size_t>(std::stoul(test.ids[0]));
    for (std::int64_t c = 0; c < test.x.cols; ++c) {
        CHECK(again.x.at(static_cast<std::int64_t>(row), c) == test.x.at(0, c));
    }
    // New passengers (unseen embarked, missing sex and ages) give finite features.
    const LabeledSet fresh = tr.apply(read_table(k_repo / "examples/titanic/new_passengers.csv"));
    for (float v : fresh.x.data) {
        CHECK(std::isfinite(v));
    }
    CHECK(std::count(fresh.y.begin(), fresh.y.end(), -1) == 1);
}

TEST_CASE("run_preprocess: data.positive_class puts the chosen class at index 1 without moving a row")
{
    const auto run = [](const Json& positive, const fs::path& dir) {
        RecordingTracker tracker(dir / "store");
        mlrun::TaskContext ctx;
        ctx.task.id = "t1";
        tracker.current = ctx.task.id;
        ctx.task.kind = "preprocess";
        ctx.task.params = Json::parse(R"({"data": {"path": "titanic/titanic3.arff", "target": "survived",
                                                   "drop": ["boat", "body"]}, "seed": 3})");
        ctx.task.params["data"]["positive_class"] = positive;
        ctx.task.params["base_dir"] = (k_repo / "examples").string();
        ctx.reporter = &tracker;
        ctx.inputs_port = &tracker;
        ctx.work_dir = dir / "work";
        fs::create_directories(ctx.work_dir);
        mlrun::kinds::run_preprocess(ctx);
        return std::make_pair(load_split(tracker.artifacts.at("test.bin")),
                              Json::parse(mlrun::read_file(tracker.artifacts.at("describe.json"))));
    };
    TempDir a;
    TempDir b;
    const auto [died, died_describe] = run("0", a.path);
    const auto [survived, survived_describe] = run(1, b.path); // a YAML number names the class "1"
    CHECK(died.class_names == std::vector<std::string>{"1", "0"});
    CHECK(survived.class_names == std::vector<std::string>{"0", "1"});
    CHECK(died_describe.at("positive_class") == "0");
    CHECK(survived_describe.at("positive_class") == "1");
    CHECK(died.ids == survived.ids);
    REQUIRE(died.y.size() == survived.y.size());
    for (size_t i = 0; i < died.y.size(); ++i) {
        CHECK(died.y[i] == 1 - survived.y[i]);
    }
    CHECK(died.x.data == survived.x.data);
    TempDir c;
    CHECK_THROWS_WITH_AS(run("2", c.path), doctest::Contains("'2' is not a class of the target"), mlrun::UsageError);
}

TEST_CASE("run_preprocess: one-class target and grid digits")
{
    TempDir tmp;
    RecordingTracker tracker(tmp.path / "store");
    mlrun::TaskContext ctx;
    ctx.task.id = "t2";
    tracker.current = ctx.task.id;
    ctx.reporter = &tracker;
    ctx.inputs_port = &tracker;
    ctx.work_dir = tmp.path / "work";
    fs::create_directories(ctx.work_dir);
    mlrun::write_file_atomic(tmp.path / "one.csv", "x,y\n1,a\n2,a\n3,a\n");
    ctx.task.params = {{"data", {{"path", (tmp.path / "one.csv").string()}, {"target", "y"}}}};
    CHECK(error_of([&] { mlrun::kinds::run_preprocess(ctx); })
          == (tmp.path / "one.csv").string()
                 + ": target column 'y' has only one class ('a'); a classifier needs at least two");

    ctx.task.params = {{"data",
                        {{"path", (k_repo / "examples/digits/digits.png").string()},
                         {"grid", {{"cell", 20}, {"classes", 10}}},
                         {"limit", 500}}},
                       {"augment", {{"flip", false}, {"shift", 1}}}};
    mlrun::kinds::run_preprocess(ctx);
    const LabeledSet train = load_split(tracker.artifacts.at("train.bin"));
    CHECK(train.shape.height == 20);
    CHECK(train.x.cols == 400);
    CHECK(train.x.rows == 600); // 300 train images + 300 shifted copies
    CHECK(load_split(tracker.artifacts.at("test.bin")).x.rows == 100);
    CHECK(tracker.values.at("class_balance").at("9") == 50);
}

TEST_CASE("run_inference: the model of a training task on new passengers")
{
    TempDir tmp;
    RecordingTracker tracker(tmp.path / "store");
    mlrun::TaskContext ctx;
    ctx.reporter = &tracker;
    ctx.inputs_port = &tracker;
    ctx.work_dir = tmp.path / "prep";
    fs::create_directories(ctx.work_dir);
    ctx.task.id = "prep1";
    tracker.current = ctx.task.id;
    ctx.task.kind = "preprocess";
    ctx.task.params = {
        {"data", {{"path", "titanic/titanic3.arff"}, {"target", "survived"}, {"drop", {"boat", "body"}}}},
        {"base_dir", (k_repo / "examples").string()}};
    mlrun::kinds::run_preprocess(ctx);
    tracker.tasks["prep1"].id = "prep1";
    tracker.tasks["prep1"].kind = "preprocess";
    tracker.tasks["prep1"].params = ctx.task.params;

    // A training task as train_model would leave it: a model folder, inputs naming prep1.
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

    mlrun::TaskContext inf;
    inf.reporter = &tracker;
    inf.inputs_port = &tracker;
    inf.work_dir = tmp.path / "inf";
    fs::create_directories(inf.work_dir);
    inf.task.id = "inf1";
    tracker.current = inf.task.id;
    inf.task.kind = "inference";
    inf.task.params = {{"model", {{"task_id", "train1"}}},
                       {"data", {{"path", (k_repo / "examples/titanic/new_passengers.csv").string()}}}};
    mlrun::kinds::run_inference(inf);
    CHECK(tracker.values.at("rows") == 20);
    CHECK(tracker.values.at("latency_ms_p50").get<double>() > 0);
    CHECK(tracker.values.at("latency_ms_p99").get<double>() >= tracker.values.at("latency_ms_p50").get<double>());
    const Table pred = read_table(tracker.artifacts.at("predictions.csv"));
    CHECK(pred.names() == std::vector<std::string>{"id", "label", "predicted", "prob_0", "prob_1"});
    CHECK(pred.rows() == 20);
    const Json metrics = Json::parse(mlrun::read_file(tracker.artifacts.at("metrics.json"))).at("metrics");
    CHECK(metrics.at("rows") == 19); // one passenger has no label
    CHECK(metrics.at("unlabelled_rows") == 1);

    // A file without the needed columns fails with their names.
    mlrun::write_file_atomic(tmp.path / "few.csv", "pclass,age\n1,30\n");
    inf.task.params["data"]["path"] = (tmp.path / "few.csv").string();
    CHECK(error_of([&] { mlrun::kinds::run_inference(inf); })
          == (tmp.path / "few.csv").string()
                 + ": missing columns needed by the transform: sex, sibsp, parch, fare, embarked");
}
