// Models (libtorch + OpenCV ml), the model folder, determinism and search.
// Small synthetic data and few epochs: the whole file runs in a few seconds.
#include "core/error.hpp"
#include "core/util.hpp"
#include "kinds/kinds.hpp"
#include "ml/metrics.hpp"
#include "ml/models/model.hpp"
#include "ml/search.hpp"
#include "ml/split_io.hpp"
#include "ports/inputs.hpp"
#include "ports/reporter.hpp"
#include "ports/task_context.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <unistd.h>

using namespace mlrun;
using namespace mlrun::ml;
namespace fs = std::filesystem;

namespace {

// Gaussian blobs, one per class, centres `gap` apart on distinct axes: separable for gap >= 4.
LabeledSet blobs(int rows, int features, int classes, std::uint64_t seed, double gap = 4.0)
{
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    LabeledSet set;
    set.x = Matrix(rows, features);
    for (int r = 0; r < rows; ++r) {
        const int label = r % classes;
        set.y.push_back(label);
        set.ids.push_back(std::to_string(r));
        for (int c = 0; c < features; ++c) {
            const float centre = (c % classes == label) ? static_cast<float>(gap) : 0.0f;
            set.x.at(r, c) = centre + noise(rng);
        }
    }
    for (int c = 0; c < features; ++c) {
        set.feature_names.push_back("f" + std::to_string(c));
    }
    for (int k = 0; k < classes; ++k) {
        set.class_names.push_back("class_" + std::to_string(k));
    }
    return set;
}

// 1x8x8 images: class 0 is bright on the left half, class 1 on the right half, plus noise.
LabeledSet images(int rows, std::uint64_t seed)
{
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> noise(0.0f, 0.3f);
    LabeledSet set;
    set.shape = {1, 8, 8};
    set.x = Matrix(rows, 64);
    for (int r = 0; r < rows; ++r) {
        const int label = r % 2;
        set.y.push_back(label);
        set.ids.push_back(std::to_string(r));
        for (int h = 0; h < 8; ++h) {
            for (int w = 0; w < 8; ++w) {
                const bool lit = (w < 4) == (label == 0);
                set.x.at(r, h * 8 + w) = (lit ? 1.0f : 0.0f) + noise(rng);
            }
        }
    }
    for (int c = 0; c < 64; ++c) {
        set.feature_names.push_back("px" + std::to_string(c));
    }
    set.class_names = {"left", "right"};
    return set;
}

nlohmann::json fast_params(const std::string& kind)
{
    if (kind == "logreg" || kind == "mlp" || kind == "cnn") {
        return {{"epochs", 15}, {"lr", 0.01}, {"batch_size", 16}, {"patience", 5}};
    }
    if (kind == "random_forest" || kind == "boost") {
        return {{"n_trees", 20}};
    }
    if (kind == "xgboost") {
        return {{"n_estimators", 100}};
    }
    return nlohmann::json::object();
}

std::unique_ptr<Model> trained(const std::string& kind, const LabeledSet& train, const LabeledSet& valid,
                               std::uint64_t seed = 7, nlohmann::json params = nullptr)
{
    if (params.is_null()) {
        params = fast_params(kind);
    }
    auto model = make_model(kind, params, static_cast<int>(train.x.cols), train.n_classes(), train.shape);
    FitOptions options;
    options.seed = seed;
    options.metric = "accuracy";
    model->fit(train, valid, options);
    return model;
}

double test_accuracy(const Model& model, const LabeledSet& test)
{
    return accuracy(test.y, argmax_rows(model.predict_proba(test.x)));
}

fs::path temp_dir(const std::string& name)
{
    fs::path dir = fs::temp_directory_path() / ("mlrun_models_test_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(dir);
    return dir;
}

void check_rows_sum_to_one(const Matrix& p)
{
    for (std::int64_t r = 0; r < p.rows; ++r) {
        double total = 0;
        for (std::int64_t c = 0; c < p.cols; ++c) {
            CHECK(p.at(r, c) >= 0.0f);
            total += p.at(r, c);
        }
        CHECK(total == doctest::Approx(1.0).epsilon(1e-4));
    }
}

} // namespace

TEST_CASE("every tabular kind learns a separable binary problem")
{
    const LabeledSet train = blobs(200, 4, 2, 1);
    const LabeledSet valid = blobs(60, 4, 2, 2);
    const LabeledSet test = blobs(100, 4, 2, 3);
    for (const std::string& kind : model_kinds()) {
        if (kind == "cnn") {
            continue;
        }
        CAPTURE(kind);
        auto model = trained(kind, train, valid);
        CHECK(model->kind() == kind);
        const Matrix p = model->predict_proba(test.x);
        REQUIRE(p.rows == test.x.rows);
        REQUIRE(p.cols == 2);
        check_rows_sum_to_one(p);
        CHECK(test_accuracy(*model, test) >= 0.9);
        CHECK(roc_auc(test.y, p) >= 0.95);
    }
}

TEST_CASE("every tabular kind handles three classes (boost and svm one-vs-rest)")
{
    const LabeledSet train = blobs(240, 6, 3, 11);
    const LabeledSet valid = blobs(60, 6, 3, 12);
    const LabeledSet test = blobs(120, 6, 3, 13);
    for (const std::string& kind : model_kinds()) {
        if (kind == "cnn") {
            continue;
        }
        CAPTURE(kind);
        auto model = trained(kind, train, valid);
        const Matrix p = model->predict_proba(test.x);
        REQUIRE(p.cols == 3);
        check_rows_sum_to_one(p);
        CHECK(test_accuracy(*model, test) >= 0.85);
    }
}

// Feature 0 carries the label (centres 1.5 apart), features 1..3 are noise.
LabeledSet one_informative(int rows, std::uint64_t seed)
{
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    LabeledSet set;
    set.x = Matrix(rows, 4);
    for (int r = 0; r < rows; ++r) {
        const int label = r % 2;
        set.y.push_back(label);
        set.ids.push_back(std::to_string(r));
        for (int c = 0; c < 4; ++c) {
            set.x.at(r, c) = (c == 0 && label == 1 ? 1.5f : 0.0f) + noise(rng);
        }
    }
    set.feature_names = {"signal", "noise_a", "noise_b", "noise_c"};
    set.class_names = {"no", "yes"};
    return set;
}

TEST_CASE("xgboost: seeded and independent of its thread count, stops early, ranks features by gain")
{
    const LabeledSet train = one_informative(300, 61);
    const LabeledSet valid = one_informative(100, 62);
    const nlohmann::json params = {{"n_estimators", 300}, {"learning_rate", 0.3}, {"early_stopping_rounds", 10}};
    const auto fit = [&](std::uint64_t seed, int threads, nlohmann::json p) {
        auto model = make_model("xgboost", p, 4, 2, ImageShape{});
        FitOptions options;
        options.seed = seed;
        options.threads = threads;
        model->fit(train, valid, options);
        return model;
    };
    const auto one = fit(42, 1, params);
    const auto four = fit(42, 4, params);
    CHECK(one->predict_proba(valid.x).data == four->predict_proba(valid.x).data);
    CHECK(one->params() == four->params());
    // subsample and colsample_bytree (0.8 by default) draw from the seed.
    CHECK(fit(43, 1, params)->predict_proba(valid.x).data != one->predict_proba(valid.x).data);

    // Early stopping keeps the best validation round, which beats training all 300 rounds.
    const int kept = one->params().at("rounds_kept").get<int>();
    CHECK(kept >= 1);
    CHECK(kept < 300);
    nlohmann::json all_rounds = params;
    all_rounds["early_stopping_rounds"] = 0;
    const auto full = fit(42, 1, all_rounds);
    CHECK(full->params().at("rounds_kept") == 300);
    CHECK(log_loss(valid.y, one->predict_proba(valid.x)) < log_loss(valid.y, full->predict_proba(valid.x)));

    const auto importance = one->feature_importance();
    REQUIRE(importance.count("gain") == 1);
    const std::vector<double>& gain = importance.at("gain");
    REQUIRE(gain.size() == 4);
    CHECK(std::max_element(gain.begin(), gain.end()) - gain.begin() == 0);
    CHECK(importance.at("total_gain")[0] > importance.at("total_gain")[1]);

    CHECK_THROWS_AS(make_model("xgboost", {{"max_depth", 0}}, 4, 2, ImageShape{}), UsageError);
    CHECK_THROWS_AS(make_model("xgboost", {{"subsample", 1.5}}, 4, 2, ImageShape{}), UsageError);
    CHECK(make_model("logreg", nlohmann::json::object(), 4, 2, ImageShape{})->feature_importance().empty());
}

TEST_CASE("cnn learns a small image problem and refuses tables")
{
    const LabeledSet train = images(160, 21);
    const LabeledSet valid = images(40, 22);
    const LabeledSet test = images(80, 23);
    auto model = trained("cnn", train, valid, 3,
                         {{"epochs", 8}, {"lr", 0.01}, {"batch_size", 16}, {"channels", {4, 8}}, {"fc", 16}});
    CHECK(test_accuracy(*model, test) >= 0.9);

    const LabeledSet table = blobs(50, 4, 2, 1);
    CHECK_THROWS_AS(make_model("cnn", nlohmann::json::object(), 4, 2, table.shape), UsageError);
}

TEST_CASE("save and load give identical probabilities for every kind")
{
    const LabeledSet train = blobs(150, 4, 3, 31);
    const LabeledSet valid = blobs(45, 4, 3, 32);
    const LabeledSet test = blobs(60, 4, 3, 33);
    const LabeledSet img_train = images(80, 34);
    const LabeledSet img_test = images(30, 35);
    for (const std::string& kind : model_kinds()) {
        CAPTURE(kind);
        const bool is_cnn = kind == "cnn";
        const LabeledSet& tr = is_cnn ? img_train : train;
        const LabeledSet& te = is_cnn ? img_test : test;
        nlohmann::json params = fast_params(kind);
        if (is_cnn) {
            params = {{"epochs", 2}, {"channels", {2, 4}}, {"fc", 8}};
        }
        auto model = trained(kind, tr, is_cnn ? img_test : valid, 5, params);
        const fs::path dir = temp_dir("roundtrip_" + kind);
        save_model(*model, dir, tr, {{"test", {{"accuracy", 0.5}}}});
        REQUIRE(fs::exists(dir / "model.json"));

        nlohmann::json card;
        auto loaded = load_model(dir, &card);
        CHECK(loaded->kind() == kind);
        CHECK(card["kind"] == kind);
        CHECK(card["class_names"] == nlohmann::json(tr.class_names));
        CHECK(card["input"]["feature_names"] == nlohmann::json(tr.feature_names));
        CHECK(card["metrics"]["test"]["accuracy"] == 0.5);
        CHECK(card["input"]["shape"]["channels"] == tr.shape.channels);
        REQUIRE(!card["files"].empty());
        for (const auto& [name, info] : card["files"].items()) {
            CHECK(info["sha256"].get<std::string>().size() == 64);
        }
        const Matrix a = model->predict_proba(te.x);
        const Matrix b = loaded->predict_proba(te.x);
        CHECK(a.data == b.data);
        fs::remove_all(dir);
    }
}

TEST_CASE("load_model names a missing or corrupt weights file")
{
    const LabeledSet train = blobs(80, 3, 2, 41);
    auto model = trained("logreg", train, train);
    const fs::path dir = temp_dir("corrupt");
    save_model(*model, dir, train, nlohmann::json::object());
    {
        std::ofstream f(dir / "weights.pt", std::ios::binary | std::ios::app);
        f << "x";
    }
    try {
        load_model(dir);
        FAIL("a corrupt weights file was loaded");
    } catch (const UsageError& e) {
        CHECK(std::string(e.what()).find("weights.pt") != std::string::npos);
        CHECK(std::string(e.what()).find("corrupt") != std::string::npos);
    }
    fs::remove(dir / "weights.pt");
    try {
        load_model(dir);
        FAIL("a missing weights file was not noticed");
    } catch (const UsageError& e) {
        CHECK(std::string(e.what()).find("missing") != std::string::npos);
    }
    fs::remove(dir / "model.json");
    CHECK_THROWS_AS(load_model(dir), UsageError);
    fs::remove_all(dir);
}

TEST_CASE("unknown kind error names the known kinds")
{
    try {
        make_model("mpl", nlohmann::json::object(), 4, 2, ImageShape{});
        FAIL("unknown kind accepted");
    } catch (const UsageError& e) {
        const std::string msg = e.what();
        CHECK(msg.find("mpl") != std::string::npos);
        for (const std::string& kind : model_kinds()) {
            CHECK(msg.find(kind) != std::string::npos);
        }
    }
    CHECK_THROWS_AS(make_model("mlp", {{"lr", "fast"}}, 4, 2, ImageShape{}), UsageError);
    CHECK_THROWS_AS(make_model("mlp", {{"optimizer", "lbfgs"}}, 4, 2, ImageShape{}), UsageError);
    CHECK_THROWS_AS(make_model("mlp", nlohmann::json::object(), 4, 1, ImageShape{}), UsageError);
}

TEST_CASE("seeded MLP training is identical sequentially and on concurrent threads")
{
    const LabeledSet train = blobs(160, 8, 2, 51, 1.5); // overlapping: the weights matter
    const LabeledSet valid = blobs(60, 8, 2, 52, 1.5);
    const nlohmann::json params = {
        {"epochs", 5}, {"lr", 0.01}, {"batch_size", 16}, {"hidden", {16, 8}}, {"patience", 0}};
    const auto run = [&](std::uint64_t seed) {
        return trained("mlp", train, valid, seed, params)->predict_proba(valid.x);
    };

    std::vector<Matrix> sequential;
    for (int i = 0; i < 4; ++i) {
        sequential.push_back(run(42));
    }
    std::vector<Matrix> concurrent(4);
    for (int round = 0; round < 2; ++round) {
        std::thread a([&, round] { concurrent[static_cast<size_t>(round * 2)] = run(42); });
        std::thread b([&, round] { concurrent[static_cast<size_t>(round * 2 + 1)] = run(42); });
        a.join();
        b.join();
    }
    for (int i = 0; i < 4; ++i) {
        CHECK(sequential[static_cast<size_t>(i)].data == sequential[0].data);
        CHECK(concurrent[static_cast<size_t>(i)].data == sequential[0].data);
    }
    // The seed is what decides: another seed gives other weights.
    CHECK(run(43).data != sequential[0].data);
}

TEST_CASE("seeded OpenCV models are repeatable")
{
    const LabeledSet train = blobs(120, 4, 2, 61, 1.5);
    const LabeledSet test = blobs(40, 4, 2, 62, 1.5);
    for (const std::string kind : {"random_forest", "boost", "svm", "knn"}) {
        CAPTURE(kind);
        CHECK(trained(kind, train, train, 9)->predict_proba(test.x).data
              == trained(kind, train, train, 9)->predict_proba(test.x).data);
    }
}

TEST_CASE("search parses lists and ranges and plans trials")
{
    const nlohmann::json params = {{"seed", 3},
                                   {"trials", 6},
                                   {"search",
                                    {{"model.lr", {0.001, 0.01}},
                                     {"model", {{"batch_size", {{"min", 8}, {"max", 64}, {"int", true}}}}},
                                     {"model.weight_decay", {{"min", 1e-6}, {"max", 1e-2}, {"log", true}}}}}};
    const SearchSpec spec = parse_search(params);
    REQUIRE(spec.dims.size() == 3);
    CHECK(spec.trials == 6);
    CHECK(spec.seed == 3);
    CHECK(spec.strategy == "random");
    const auto plan = plan_trials(spec);
    REQUIRE(plan.size() == 6);
    for (const auto& a : plan) {
        CHECK((a["model.lr"] == 0.001 || a["model.lr"] == 0.01));
        CHECK(a["model.batch_size"].is_number_integer());
        CHECK(a["model.batch_size"].get<int>() >= 8);
        CHECK(a["model.batch_size"].get<int>() <= 64);
        CHECK(a["model.weight_decay"].get<double>() >= 1e-6);
        CHECK(a["model.weight_decay"].get<double>() <= 1e-2);
    }
    CHECK(plan_trials(spec) == plan); // same seed, same plan

    CHECK_THROWS_AS(parse_search({{"search", {{"model.lr", 0.1}}}}), UsageError);
    CHECK_THROWS_AS(parse_search({{"search", {{"model.lr", {{"min", 1}, {"max", 0}}}}}}), UsageError);
    CHECK_THROWS_AS(parse_search({{"strategy", "bayes"}, {"search", {{"model.lr", {1}}}}}), UsageError);
    nlohmann::json grid_range = {{"strategy", "grid"}, {"search", {{"model.lr", {{"min", 0.1}, {"max", 1.0}}}}}};
    CHECK_THROWS_AS(plan_trials(parse_search(grid_range)), UsageError);
    CHECK(parse_search({{"model", {{"kind", "mlp"}}}}).empty());
}

TEST_CASE("grid search of 2x2 runs 4 trials and keeps the best by validation metric")
{
    const LabeledSet train = blobs(160, 6, 2, 71, 1.2);
    const LabeledSet valid = blobs(80, 6, 2, 72, 1.2);
    const nlohmann::json params = {{"seed", 5},
                                   {"model", {{"kind", "mlp"}, {"epochs", 4}, {"batch_size", 16}, {"patience", 0}}},
                                   {"strategy", "grid"},
                                   {"search", {{"model.lr", {0.0005, 0.05}}, {"model.hidden", {{4}, {16, 8}}}}}};
    const SearchSpec spec = parse_search(params);
    SearchOptions options;
    options.metric = "log_loss"; // lower is better: checks the direction too
    std::vector<int> seen;
    options.on_trial = [&](const TrialResult& t) { seen.push_back(t.index); };
    const SearchResult result = run_search(spec, params, train, valid, options);

    REQUIRE(result.trials.size() == 4);
    CHECK(seen.size() == 4);
    std::set<std::string> combos;
    for (const TrialResult& t : result.trials) {
        CHECK(t.ok());
        CHECK(std::isfinite(t.valid_metric));
        combos.insert(t.assignment.dump());
    }
    CHECK(combos.size() == 4);
    REQUIRE(result.best >= 0);
    REQUIRE(result.best_model);
    for (const TrialResult& t : result.trials) {
        CHECK(result.trials[static_cast<size_t>(result.best)].valid_metric <= t.valid_metric);
    }
    // The kept model is that trial's model: it scores the same on the validation split.
    CHECK(log_loss(valid.y, result.best_model->predict_proba(valid.x))
          == doctest::Approx(result.trials[static_cast<size_t>(result.best)].valid_metric));
    // The trial's params are the model's.
    CHECK(result.best_model->params()["lr"] == result.trials[static_cast<size_t>(result.best)].assignment["model.lr"]);

    // Two at a time on threads: the same metrics, the same winner.
    SearchOptions two = options;
    two.parallel = 2;
    two.on_trial = nullptr;
    const SearchResult parallel = run_search(spec, params, train, valid, two);
    CHECK(parallel.best == result.best);
    for (size_t i = 0; i < 4; ++i) {
        CHECK(parallel.trials[i].valid_metric == result.trials[i].valid_metric);
    }
}

TEST_CASE("search reports failed trials and rethrows when all fail")
{
    const LabeledSet train = blobs(60, 3, 2, 81);
    const nlohmann::json params = {{"model", {{"kind", "mlp"}, {"epochs", 2}}},
                                   {"strategy", "grid"},
                                   {"search", {{"model.optimizer", {"adam", "nadam"}}}}};
    const SearchResult result = run_search(parse_search(params), params, train, train, SearchOptions{});
    REQUIRE(result.trials.size() == 2);
    CHECK(result.trials[0].ok());
    CHECK_FALSE(result.trials[1].ok());
    CHECK(result.trials[1].error.find("model.optimizer") != std::string::npos);
    CHECK(result.best == 0);

    const nlohmann::json bad = {{"model", {{"kind", "mlp"}}}, {"search", {{"model.lr", {-1.0}}}}};
    CHECK_THROWS_AS(run_search(parse_search(bad), bad, train, train, SearchOptions{}), UsageError);
}

TEST_CASE("fit stops when cancelled")
{
    const LabeledSet train = blobs(60, 3, 2, 91);
    std::atomic<bool> cancel{true};
    auto model = make_model("mlp", fast_params("mlp"), 3, 2, ImageShape{});
    FitOptions options;
    options.cancel = &cancel;
    CHECK_THROWS_AS(model->fit(train, train, options), Aborted);
}

// ---------------------------------------------------------------- the train_model kind

namespace {

// The tracking port replaced by memory: the kind reads its inputs and reports only here.
class MemoryTracker : public Reporter, public Inputs {
public:
    std::string current = "train1"; // the task that reports
    std::map<std::string, Task> tasks;
    std::map<std::string, fs::path> artifacts; // "task/name" -> path
    std::map<std::string, Json> values;
    std::vector<Scalar> logged;

    void log_params(const Json&) override {}
    void log_scalars(const std::vector<Scalar>& s) override { logged.insert(logged.end(), s.begin(), s.end()); }
    std::vector<Scalar> scalars(const std::string&) override { return logged; }
    void log_value(const std::string& name, const Json& value) override { values[name] = value; }
    void set_tags(const std::vector<std::string>&) override {}
    ArtifactRecord log_artifact(const std::string& name, const fs::path& source) override
    {
        REQUIRE(fs::exists(source));
        artifacts[current + "/" + name] = source;
        ArtifactRecord r;
        r.name = name;
        return r;
    }
    fs::path fetch_artifact(const std::string& task_id, const std::string& name) override
    {
        auto it = artifacts.find(task_id + "/" + name);
        if (it == artifacts.end()) {
            throw UsageError("task " + task_id + " has no artifact " + name);
        }
        return it->second;
    }
    fs::path fetch_dataset(const std::string& id) override { throw UsageError("no dataset " + id); }
    Task get_task(const std::string& id) override
    {
        auto it = tasks.find(id);
        if (it == tasks.end()) {
            throw UsageError("no task " + id);
        }
        return it->second;
    }
    ModelRecord register_model(ModelRecord record) override { return record; }
    std::string create_child_task(Task) override { return ""; }
    std::vector<ModelRecord> models(const std::string&) override { return {}; }
    std::optional<ModelRecord> model(const std::string&, int) override { return std::nullopt; }
};

struct KindFixture {
    fs::path root = temp_dir("kind");
    MemoryTracker tracker;
    std::vector<std::pair<std::string, int>> progress;
    std::vector<std::string> log; // the kind's log lines
    LabeledSet test = blobs(90, 4, 2, 103);

    KindFixture()
    {
        fs::create_directories(root / "prep");
        save_split(root / "prep" / "train.bin", blobs(200, 4, 2, 101));
        save_split(root / "prep" / "valid.bin", blobs(60, 4, 2, 102));
        save_split(root / "prep" / "test.bin", test);
        Task prep;
        prep.id = "prep1";
        prep.kind = "preprocess";
        tracker.tasks[prep.id] = prep;
        for (const char* name : {"train.bin", "valid.bin", "test.bin"}) {
            tracker.artifacts[std::string("prep1/") + name] = root / "prep" / name;
        }
    }
    ~KindFixture() { fs::remove_all(root); }

    void run(const Json& params)
    {
        TaskContext ctx;
        ctx.task.id = "train1";
        ctx.task.kind = "train_model";
        ctx.task.params = params;
        ctx.task.params["inputs"] = {{"preprocess", "prep1"}};
        ctx.reporter = &tracker;
        ctx.inputs_port = &tracker;
        ctx.work_dir = root / "work";
        fs::create_directories(ctx.work_dir);
        ctx.threads = 2;
        ctx.log = [&](const std::string& line) { log.push_back(line); };
        ctx.progress = [&](const std::string& stage, int done, int) { progress.emplace_back(stage, done); };
        kinds::run_train_model(ctx);
    }
};

} // namespace

TEST_CASE("train_model writes the model folder, metrics and predictions of the contract")
{
    KindFixture f;
    f.run({{"model", {{"kind", "mlp"}, {"epochs", 4}, {"lr", 0.01}, {"patience", 0}}}, {"seed", 42}});

    for (const char* name :
         {"model_kind", "test", "valid", "train_time_s", "latency_ms_per_row", "model_size_bytes", "primary_metric"}) {
        CAPTURE(name);
        CHECK(f.tracker.values.count(name) == 1);
    }
    CHECK(f.tracker.values["model_kind"] == "mlp");
    CHECK(f.tracker.values["primary_metric"] == "roc_auc");
    CHECK(f.tracker.values["test"]["accuracy"].get<double>() >= 0.9);
    CHECK(f.tracker.values["latency_ms_per_row"].get<double>() > 0);
    CHECK(f.tracker.values["model_size_bytes"].get<std::uint64_t>() > 0);

    // Per-epoch scalars and progress.
    int train_loss = 0;
    int valid_metric = 0;
    for (const Scalar& s : f.tracker.logged) {
        train_loss += s.title == "loss" && s.series == "train";
        valid_metric += s.title == "roc_auc" && s.series == "valid";
    }
    CHECK(train_loss == 4);
    CHECK(valid_metric == 4);
    CHECK(std::count(f.progress.begin(), f.progress.end(), std::make_pair(std::string("epoch"), 4)) == 1);

    // The model folder loads and predicts what predictions_test.csv says.
    const fs::path model_dir = f.tracker.fetch_artifact("train1", "model");
    auto model = load_model(model_dir);
    const Matrix p = model->predict_proba(f.test.x);
    const std::string csv = read_file(f.tracker.fetch_artifact("train1", "predictions_test.csv"));
    CHECK(csv.rfind("id,label,predicted,prob_class_0,prob_class_1\n", 0) == 0);
    CHECK(std::count(csv.begin(), csv.end(), '\n') == f.test.x.rows + 1);
    const std::vector<int> pred = argmax_rows(p);
    const std::string first_row = csv.substr(csv.find('\n') + 1,
                                             csv.find('\n', csv.find('\n') + 1) - csv.find('\n') - 1);
    CHECK(first_row.rfind("0,class_0,class_" + std::to_string(pred[0]) + ",", 0) == 0);

    const Json metrics = Json::parse(read_file(f.tracker.fetch_artifact("train1", "metrics.json")));
    for (const char* key :
         {"test", "valid", "train_time_s", "latency_ms_per_row", "model_size_bytes", "model_kind", "params"}) {
        CAPTURE(key);
        CHECK(metrics.contains(key));
    }
    CHECK(metrics["test"]["roc_auc"] == f.tracker.values["test"]["roc_auc"]);
    CHECK(metrics["params"]["epochs"] == 4);
}

TEST_CASE("train_model with xgboost writes feature_importance.json and names the positive class")
{
    KindFixture f;
    f.run({{"model", {{"kind", "xgboost"}, {"n_estimators", 50}}}, {"seed", 42}});
    CHECK(f.tracker.values["model_kind"] == "xgboost");
    CHECK(f.tracker.values["test"]["accuracy"].get<double>() >= 0.9);
    CHECK(f.tracker.values["positive_class"] == "class_1");
    const Json metrics = Json::parse(read_file(f.tracker.fetch_artifact("train1", "metrics.json")));
    CHECK(metrics["positive_class"] == "class_1");
    const Json importance = Json::parse(read_file(f.tracker.fetch_artifact("train1", "feature_importance.json")));
    CHECK(importance["ordered_by"] == "gain");
    REQUIRE(importance["ranked"].size() == static_cast<size_t>(f.test.x.cols));
    for (size_t i = 1; i < importance["ranked"].size(); ++i) {
        CHECK(importance["ranked"][i - 1]["gain"].get<double>() >= importance["ranked"][i]["gain"].get<double>());
    }
    // Loss curves are logged with real numbers (no NaN train loss for a model without epochs).
    int train_loss = 0;
    for (const Scalar& s : f.tracker.logged) {
        if (s.title == "loss" && s.series == "train") {
            ++train_loss;
            CHECK(std::isfinite(s.value));
        }
    }
    CHECK(train_loss >= 1);
    auto loaded = load_model(f.tracker.fetch_artifact("train1", "model"));
    CHECK(loaded->kind() == "xgboost");
}

TEST_CASE("train_model: models without epochs log no NaN loss, as lines or scalars")
{
    for (const char* kind : {"random_forest", "knn", "boost", "svm"}) {
        CAPTURE(kind);
        KindFixture f;
        f.run({{"model", {{"kind", kind}}}, {"seed", 42}});
        bool fit_line = false;
        for (const std::string& line : f.log) {
            CAPTURE(line);
            CHECK(line.find("nan") == std::string::npos);
            CHECK((line.find("loss") == std::string::npos || line.rfind("test ", 0) == 0)); // test log_loss only
            fit_line = fit_line || line.rfind("fit: valid roc_auc ", 0) == 0;
        }
        CHECK(fit_line);
        for (const Scalar& s : f.tracker.logged) {
            CHECK(s.title != "loss");
            CHECK(std::isfinite(s.value));
        }
    }
    // xgboost without a validation split: train loss only, no "valid loss nan".
    KindFixture f;
    save_split(f.root / "prep" / "valid.bin", blobs(0, 4, 2, 102));
    f.run({{"model", {{"kind", "xgboost"}, {"n_estimators", 20}}}, {"seed", 42}, {"calibration", "none"}});
    bool epoch_line = false;
    for (const std::string& line : f.log) {
        CAPTURE(line);
        CHECK(line.find("nan") == std::string::npos);
        epoch_line = epoch_line || line.rfind("epoch 20/20: train loss ", 0) == 0;
    }
    CHECK(epoch_line);
}

TEST_CASE("train_model with a search block records every trial and keeps the best")
{
    KindFixture f;
    f.run({{"model", {{"kind", "logreg"}, {"epochs", 3}, {"patience", 0}}},
           {"strategy", "grid"},
           {"primary_metric", "accuracy"},
           {"search", {{"model.lr", {0.001, 0.05}}, {"model.batch_size", {16, 64}}}}});
    const Json metrics = Json::parse(read_file(f.tracker.fetch_artifact("train1", "metrics.json")));
    REQUIRE(metrics["trials"].size() == 4);
    double best = -1;
    for (const Json& t : metrics["trials"]) {
        CHECK(t["params"].contains("model.lr"));
        best = std::max(best, t["valid_metric"].get<double>());
    }
    CHECK(metrics["valid"]["accuracy"].get<double>() == doctest::Approx(best));
    int trial_scalars = 0;
    for (const Scalar& s : f.tracker.logged) {
        trial_scalars += s.title == "trial" && s.series == "accuracy";
    }
    CHECK(trial_scalars == 4);
    CHECK(std::count(f.progress.begin(), f.progress.end(), std::make_pair(std::string("trial"), 4)) == 1);
}

TEST_CASE("train_model refuses params without model.kind or with an unknown metric")
{
    KindFixture f;
    CHECK_THROWS_AS(f.run({{"model", {{"epochs", 3}}}}), UsageError);
    CHECK_THROWS_AS(f.run({{"model", {{"kind", "mlp"}}}, {"primary_metric", "auc"}}), UsageError);
    CHECK(f.tracker.values.empty());
}
