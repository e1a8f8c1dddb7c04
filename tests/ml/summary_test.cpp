// Leaderboard ranking, CSV, plots, report and the summary kind end to end against a
// recording fake of the tracking port.
#include "core/error.hpp"
#include "core/util.hpp"
#include "kinds/kinds.hpp"
#include "ml/io/csv.hpp"
#include "ml/leaderboard.hpp"
#include "ml/plots.hpp"
#include "ml/report.hpp"
#include "ports/inputs.hpp"
#include "ports/reporter.hpp"
#include "ports/task_context.hpp"

#include <cairo.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

using namespace mlrun;
using nlohmann::json;

namespace {

// A fresh temp folder per test, removed afterwards.
struct TempDir {
    fs::path path;
    TempDir() : path(fs::temp_directory_path() / ("mlrun_summary_test_" + new_id())) { fs::create_directories(path); }
    ~TempDir()
    {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

ml::ModelResult completed(const std::string& id, const std::string& name, double score, json latency, json size,
                          const std::string& metric = "roc_auc")
{
    ml::ModelResult r;
    r.task_id = id;
    r.name = name;
    r.kind = "mlp";
    r.status = "completed";
    r.values = json{{"test", {{metric, score}, {"accuracy", 0.5}}},
                    {"valid", {{metric, score}}}, // models are ranked on validation
                    {"train_time_s", 1.5},
                    {"latency_ms_per_row", latency},
                    {"model_size_bytes", size}};
    return r;
}

std::vector<std::string> ranked_ids(const ml::Leaderboard& board)
{
    std::vector<std::string> ids;
    for (const json& row : board.rows) {
        ids.push_back(row.at("task_id").get<std::string>());
    }
    return ids;
}

// Parses CSV text into records (the leaderboard CSV has no newlines inside fields).
std::vector<std::vector<std::string>> parse_csv_lines(const std::string& text)
{
    std::vector<std::vector<std::string>> rows;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        std::string line = text.substr(start, end - start);
        start = end + 1;
        std::vector<std::string> fields;
        std::string field;
        bool quoted = false;
        for (size_t i = 0; i < line.size(); ++i) {
            char c = line[i];
            if (quoted) {
                if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                    field += '"';
                    ++i;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    field += c;
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == ',') {
                fields.push_back(field);
                field.clear();
            } else {
                field += c;
            }
        }
        fields.push_back(field);
        rows.push_back(fields);
    }
    return rows;
}

void check_png(const fs::path& path)
{
    REQUIRE(fs::is_regular_file(path));
    const std::string bytes = read_file(path);
    REQUIRE(bytes.size() > 8);
    CHECK(bytes.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0);
    cairo_surface_t* surface = cairo_image_surface_create_from_png(path.c_str());
    CHECK(cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS);
    CHECK(cairo_image_surface_get_width(surface) > 100);
    CHECK(cairo_image_surface_get_height(surface) > 100);
    cairo_surface_destroy(surface);
}

// Writes a binary predictions file: `good` separates the classes better than not.
void write_predictions(const fs::path& path, bool good, const std::vector<std::string>& classes = {"no", "yes"})
{
    std::string text = "id,label,predicted";
    for (const std::string& c : classes) {
        text += ",prob_" + c;
    }
    text += "\n";
    const size_t n = classes.size();
    for (int i = 0; i < 60; ++i) {
        const size_t label = static_cast<size_t>(i) % n;
        // A deterministic score: the true class gets a boost, plus a spread by row.
        std::vector<double> p(n, 0.0);
        for (size_t k = 0; k < n; ++k) {
            p[k] = 1.0 + ((i * 7 + static_cast<int>(k) * 3) % 10) / 10.0;
        }
        p[label] += good ? 1.2 : 0.3;
        double sum = 0;
        for (double v : p) {
            sum += v;
        }
        size_t pred = static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin());
        text += "r" + std::to_string(i) + "," + classes[label] + "," + classes[pred];
        for (double v : p) {
            text += "," + std::to_string(v / sum);
        }
        text += "\n";
    }
    write_file_atomic(path, text);
}

// Records everything the summary reports; serves tasks and artifacts from memory and disk.
class FakeTracker : public Reporter, public Inputs {
public:
    std::string current = "sum1"; // the task that reports
    std::map<std::string, Task> tasks;
    std::map<std::string, std::map<std::string, fs::path>> artifact_files; // task -> name -> path
    std::map<std::string, json> values;                                    // name -> value (summary task)
    std::vector<std::string> logged_artifacts;
    std::vector<ModelRecord> registered;
    fs::path copies;

    void log_params(const Json&) override {}
    void log_scalars(const std::vector<Scalar>&) override {}
    std::vector<Scalar> scalars(const std::string&) override { return {}; }
    void log_value(const std::string& name, const Json& value) override { values[name] = value; }
    void set_tags(const std::vector<std::string>&) override {}
    ArtifactRecord log_artifact(const std::string& name, const fs::path& source) override
    {
        const std::string& task_id = current;
        REQUIRE(fs::is_regular_file(source));
        // Copied like the real store: the summary may not rely on its scratch folder.
        fs::path dest = copies / task_id / name;
        fs::create_directories(dest.parent_path());
        fs::copy_file(source, dest, fs::copy_options::overwrite_existing);
        artifact_files[task_id][name] = dest;
        logged_artifacts.push_back(name);
        ArtifactRecord r;
        r.name = name;
        r.size = fs::file_size(dest);
        return r;
    }
    fs::path fetch_artifact(const std::string& task_id, const std::string& name) override
    {
        auto t = artifact_files.find(task_id);
        if (t == artifact_files.end() || !t->second.count(name)) {
            throw UsageError("task " + task_id + " has no artifact " + name);
        }
        return t->second.at(name);
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
    ModelRecord register_model(ModelRecord record) override
    {
        record.version = static_cast<int>(registered.size()) + 1;
        registered.push_back(record);
        return record;
    }
    std::string create_child_task(Task) override { return ""; }
    std::vector<ModelRecord> models(const std::string&) override { return registered; }
    std::optional<ModelRecord> model(const std::string&, int) override { return std::nullopt; }
};

Task training_task(const std::string& id, const std::string& step, const std::string& kind, double roc_auc,
                   double latency)
{
    Task t;
    t.id = id;
    t.kind = "train_model";
    t.step = step;
    t.run_id = "run1";
    t.status = Status::completed;
    t.params = json{{"model", {{"kind", kind}}}, {"inputs", {{"prep", "prep1"}}}};
    t.values = json{{"model_kind", kind},
                    {"test", {{"roc_auc", roc_auc}, {"accuracy", 0.8}, {"confusion_matrix", {{20, 10}, {5, 25}}}}},
                    {"valid", {{"roc_auc", roc_auc}}},
                    {"train_time_s", 2.0},
                    {"latency_ms_per_row", latency},
                    {"model_size_bytes", 4096}};
    return t;
}

// A run with two completed models (with predictions) and one failed one.
struct SummaryFixture {
    TempDir tmp;
    FakeTracker tracker;
    TaskContext ctx;
    std::vector<std::string> log_lines;

    SummaryFixture()
    {
        tracker.copies = tmp.path / "store";
        Task prep;
        prep.id = "prep1";
        prep.kind = "preprocess";
        prep.status = Status::completed;
        prep.params = json{{"data", {{"path", "data/titanic.csv"}}}};
        tracker.tasks["prep1"] = prep;

        tracker.tasks["t_mlp"] = training_task("t_mlp", "train::mlp", "mlp", 0.91, 0.02);
        tracker.tasks["t_log"] = training_task("t_log", "train::logreg", "logreg", 0.85, 0.01);
        Task broken = training_task("t_svm", "train::svm", "svm", 0, 0);
        broken.status = Status::failed;
        broken.values = json::object();
        broken.error = "svm: kernel matrix is not positive definite";
        broken.error_class = "TaskFailed";
        tracker.tasks["t_svm"] = broken;

        fs::create_directories(tmp.path / "preds");
        write_predictions(tmp.path / "preds" / "mlp.csv", true);
        write_predictions(tmp.path / "preds" / "log.csv", false);
        tracker.artifact_files["t_mlp"]["predictions_test.csv"] = tmp.path / "preds" / "mlp.csv";
        tracker.artifact_files["t_log"]["predictions_test.csv"] = tmp.path / "preds" / "log.csv";

        ctx.task.id = "sum1";
        ctx.task.kind = "summary";
        ctx.task.project = "titanic/baseline";
        ctx.task.run_id = "run1";
        ctx.task.params = json{{"inputs", {{"prep", "prep1"}, {"train", {"t_mlp", "t_log", "t_svm"}}}}};
        ctx.reporter = &tracker;
        ctx.inputs_port = &tracker;
        tracker.current = ctx.task.id;
        ctx.work_dir = tmp.path / "work";
        fs::create_directories(ctx.work_dir);
        ctx.log = [this](const std::string& line) { log_lines.push_back(line); };
    }
};

} // namespace

TEST_CASE("ml::build_leaderboard breaks ties by latency, then size, then task id")
{
    std::vector<ml::ModelResult> results{
        completed("a", "slow", 0.9, 0.02, 100),        completed("b", "big", 0.9, 0.01, 500),
        completed("c", "small", 0.9, 0.01, 200),       completed("d", "worse", 0.8, 0.001, 10),
        completed("e", "best?", 0.95, json(), json()),
    };

    SUBCASE("the metric first, then latency, then size")
    {
        ml::Leaderboard board = ml::build_leaderboard(results, "roc_auc");
        CHECK(ranked_ids(board) == std::vector<std::string>{"e", "c", "b", "a", "d"});
        CHECK(board.rows[0].at("rank") == 1);
        CHECK(board.rows[4].at("rank") == 5);
        CHECK(board.recommended.at("task_id") == "e");
        CHECK(board.recommended.at("reason").get<std::string>().find("highest roc_auc 0.9500 of 5 models") == 0);
    }
    SUBCASE("the reason names the size tie it broke")
    {
        results.pop_back(); // without e, c and b tie on the metric and on latency
        ml::Leaderboard board = ml::build_leaderboard(results, "roc_auc");
        CHECK(board.recommended.at("task_id") == "c");
        const std::string reason = board.recommended.at("reason").get<std::string>();
        CHECK(reason.find("tied on roc_auc with 'big'") != std::string::npos);
        CHECK(reason.find("smaller size (200 vs 500 bytes)") != std::string::npos);
    }
    SUBCASE("the reason names the latency tie it broke")
    {
        std::vector<ml::ModelResult> two{completed("x", "fast", 0.7, 0.5, 900), completed("y", "slow", 0.7, 0.9, 1)};
        ml::Leaderboard board = ml::build_leaderboard(two, "roc_auc");
        CHECK(ranked_ids(board) == std::vector<std::string>{"x", "y"});
        CHECK(board.recommended.at("reason").get<std::string>().find("lower latency (0.5000 vs 0.9000 ms/row)")
              != std::string::npos);
    }
    SUBCASE("full ties fall back to the task id, whatever the input order")
    {
        std::vector<ml::ModelResult> same{completed("z", "z", 0.7, 0.5, 9), completed("m", "m", 0.7, 0.5, 9)};
        CHECK(ranked_ids(ml::build_leaderboard(same, "roc_auc")) == std::vector<std::string>{"m", "z"});
        std::reverse(same.begin(), same.end());
        CHECK(ranked_ids(ml::build_leaderboard(same, "roc_auc")) == std::vector<std::string>{"m", "z"});
    }
}

TEST_CASE("ml::build_leaderboard: a tie on the primary metric goes to log loss and names every tied model")
{
    // Three models tied on roc_auc (one 5e-10 lower: inside the 1e-9 tolerance), a fourth
    // 1e-6 lower (outside it). The fastest has the worst log loss: log loss must decide.
    const auto with_loss = [](ml::ModelResult r, double loss) {
        r.values["test"]["log_loss"] = loss;
        r.values["valid"]["log_loss"] = loss; // tie breakers read the validation value
        return r;
    };
    std::vector<ml::ModelResult> results{
        with_loss(completed("t1", "fast_overconfident", 0.9, 0.001, 100), 0.23),
        with_loss(completed("t2", "calibrated", 0.9 - 5e-10, 0.5, 900), 0.03),
        with_loss(completed("t3", "middle", 0.9, 0.01, 100), 0.10),
        with_loss(completed("t4", "close_but_lower", 0.9 - 1e-6, 0.0001, 1), 0.01),
    };
    SUBCASE("default tie breakers: log_loss, then latency, then size")
    {
        const ml::Leaderboard board = ml::build_leaderboard(results, "roc_auc");
        CHECK(ranked_ids(board) == std::vector<std::string>{"t2", "t3", "t1", "t4"});
        CHECK(board.recommended.at("task_id") == "t2");
        const std::string reason = board.recommended.at("reason").get<std::string>();
        CAPTURE(reason);
        CHECK(reason.find("tied on roc_auc with 'middle' and 'fast_overconfident' (within 1e-09)")
              != std::string::npos);
        CHECK(reason.find("over 'middle' for lower log_loss (0.0300 vs 0.1000)") != std::string::npos);
        CHECK(reason.find("over 'fast_overconfident' for lower log_loss (0.0300 vs 0.2300)") != std::string::npos);
        CHECK(reason.find("close_but_lower") == std::string::npos);
        const json& tie = board.recommended.at("tie");
        CHECK(tie.at("models") == json{"calibrated", "middle", "fast_overconfident"});
        CHECK(tie.at("decided_by").at("middle") == "log_loss");
        CHECK(tie.at("decided_by").at("fast_overconfident") == "log_loss");
        CHECK(board.to_json().at("tie_breakers") == json{"log_loss", "latency", "size"});
        CHECK(board.to_json().at("tie_tolerance") == doctest::Approx(1e-9));
    }
    SUBCASE("configured tie breakers: latency first")
    {
        const ml::Leaderboard board = ml::build_leaderboard(results, "roc_auc", {"latency", "log_loss"});
        CHECK(ranked_ids(board) == std::vector<std::string>{"t1", "t3", "t2", "t4"});
        const std::string reason = board.recommended.at("reason").get<std::string>();
        CAPTURE(reason);
        CHECK(reason.find("with 'middle' and 'calibrated'") != std::string::npos);
        CHECK(reason.find("over 'calibrated' for lower latency (0.0010 vs 0.5000 ms/row)") != std::string::npos);
    }
    SUBCASE("unknown or repeated tie breakers are usage errors")
    {
        CHECK_THROWS_WITH_AS(ml::build_leaderboard(results, "roc_auc", {"log_los"}),
                             doctest::Contains("did you mean 'log_loss'"), UsageError);
        CHECK_THROWS_AS(ml::build_leaderboard(results, "roc_auc", {"size", "size"}), UsageError);
    }
}

TEST_CASE("ml::build_leaderboard names the positive class the models agree on")
{
    ml::ModelResult a = completed("a", "a", 0.8, 0.1, 1);
    ml::ModelResult b = completed("b", "b", 0.7, 0.1, 1);
    a.values["positive_class"] = "bad";
    b.values["positive_class"] = "bad";
    ml::Leaderboard board = ml::build_leaderboard({a, b}, "roc_auc");
    CHECK(board.to_json().at("positive_class") == "bad");
    CHECK(board.rows[0].at("positive_class") == "bad");
    CHECK(ml::format_leaderboard_table(board.to_json()).find("positive class 'bad'") != std::string::npos);
    b.values["positive_class"] = "good";
    CHECK(ml::build_leaderboard({a, b}, "roc_auc").to_json().at("positive_class").is_null());
}

TEST_CASE("ml::build_leaderboard ranks log_loss ascending")
{
    std::vector<ml::ModelResult> results{completed("a", "a", 0.60, 0.1, 1, "log_loss"),
                                         completed("b", "b", 0.25, 0.1, 1, "log_loss"),
                                         completed("c", "c", 0.40, 0.1, 1, "log_loss")};
    ml::Leaderboard board = ml::build_leaderboard(results, "log_loss");
    CHECK(ranked_ids(board) == std::vector<std::string>{"b", "c", "a"});
    CHECK(board.to_json().at("higher_is_better") == false);
    CHECK(board.recommended.at("reason").get<std::string>().find("lowest log_loss 0.2500") == 0);
}

TEST_CASE("ml::build_leaderboard sends failed models and missing metrics to error_models")
{
    ml::ModelResult failed = completed("f", "svm", 0, 0, 0);
    failed.status = "failed";
    failed.error = "out of memory";
    failed.error_class = "TaskFailed";
    ml::ModelResult aborted = completed("g", "knn", 0, 0, 0);
    aborted.status = "aborted";
    ml::ModelResult no_metric = completed("h", "boost", 0.9, 0, 0, "accuracy");
    no_metric.values["test"].erase("accuracy");
    ml::ModelResult null_metric = completed("i", "rf", 0.9, 0, 0);
    null_metric.values["test"]["roc_auc"] = nullptr;

    ml::Leaderboard board = ml::build_leaderboard(
        {completed("ok", "mlp", 0.8, 0.1, 1), failed, aborted, no_metric, null_metric}, "roc_auc");
    CHECK(ranked_ids(board) == std::vector<std::string>{"ok"});
    REQUIRE(board.error_models.size() == 4);
    CHECK(board.error_models[0].at("task_id") == "f");
    CHECK(board.error_models[0].at("error") == "out of memory");
    CHECK(board.error_models[0].at("error_class") == "TaskFailed");
    CHECK(board.error_models[1].at("error_class") == "Aborted");
    CHECK(board.error_models[2].at("error_class") == "MissingMetrics");
    CHECK(board.error_models[3].at("error").get<std::string>().find("roc_auc is null") != std::string::npos);
    CHECK(board.recommended.at("reason").get<std::string>().find("(4 failed)") != std::string::npos);

    SUBCASE("nothing ranked: no recommendation")
    {
        ml::Leaderboard none = ml::build_leaderboard({failed}, "roc_auc");
        CHECK(none.rows.empty());
        CHECK(none.recommended.is_null());
    }
}

TEST_CASE("ml::build_leaderboard rejects an unknown primary metric")
{
    CHECK_THROWS_WITH_AS(
        ml::build_leaderboard({}, "roc_acu"),
        "params.primary_metric: unknown metric 'roc_acu' (expected one of accuracy, precision, recall, "
        "f1, roc_auc, pr_auc, log_loss); did you mean 'roc_auc'?",
        UsageError);
}

TEST_CASE("ml::leaderboard_csv quotes names with commas and quotes")
{
    CHECK(ml::csv_escape_field("plain") == "plain");
    CHECK(ml::csv_escape_field("a,b") == "\"a,b\"");
    CHECK(ml::csv_escape_field("say \"hi\"") == "\"say \"\"hi\"\"\"");

    ml::Leaderboard board = ml::build_leaderboard(
        {completed("t1", "mlp, wide", 0.9, 0.1, 10), completed("t2", "the \"deep\" one", 0.8, 0.1, 10)}, "roc_auc");
    const auto rows = parse_csv_lines(ml::leaderboard_csv(board));
    REQUIRE(rows.size() == 3);
    const auto& header = rows[0];
    CHECK(header[0] == "rank");
    CHECK(header[4] == "roc_auc");
    for (const auto& row : rows) {
        CHECK(row.size() == header.size());
    }
    CHECK(rows[1][1] == "mlp, wide");
    CHECK(rows[2][1] == "the \"deep\" one");
    CHECK(std::stod(rows[1][4]) == doctest::Approx(0.9));

    TempDir tmp;
    ml::write_leaderboard_files(board, tmp.path);
    for (const char* name : {"leaderboard.json", "leaderboard.csv", "recommended_model.json", "error_models.json"}) {
        CHECK(fs::is_regular_file(tmp.path / name));
    }
    CHECK(json::parse(read_file(tmp.path / "recommended_model.json")).at("task_id") == "t1");
}

TEST_CASE("ml::format_leaderboard_table")
{
    ml::ModelResult failed = completed("f", "svm", 0, 0, 0);
    failed.status = "failed";
    failed.error = "boom";
    ml::Leaderboard board = ml::build_leaderboard(
        {completed("t1", "mlp", 0.123456, 0.25, 2048), completed("t2", "logreg", 0.9, 0.1, 10), failed}, "roc_auc");
    const std::string table = ml::format_leaderboard_table(board.to_json());
    CHECK(table.find("0.1235") != std::string::npos); // 4 decimals, rounded
    CHECK(table.find("0.9000") != std::string::npos);
    CHECK(table.find("roc_auc*") != std::string::npos);
    CHECK(table.find("logreg") < table.find("mlp"));
    CHECK(table.find("recommended: logreg (t2)") != std::string::npos);
    CHECK(table.find("svm (f): TaskFailed: boom") != std::string::npos);
    // Fixed width: every model line is as long as the header.
    std::vector<std::string> lines;
    for (size_t start = 0, end; start < table.size(); start = end + 1) {
        end = table.find('\n', start);
        lines.push_back(table.substr(start, end - start));
    }
    CHECK(lines[0].size() == lines[2].size() + 2); // "task" vs the 2-character ids
    CHECK(lines[2].size() == lines[3].size());
}

TEST_CASE("ml::read_predictions_csv and ml::roc_series")
{
    TempDir tmp;
    write_predictions(tmp.path / "p.csv", true);
    ml::Predictions p = ml::read_predictions_csv(tmp.path / "p.csv");
    CHECK(p.class_names == std::vector<std::string>{"no", "yes"});
    CHECK(p.label.size() == 60);
    CHECK(p.label[1] == 1);
    auto s = ml::roc_series("m", p);
    REQUIRE(s);
    CHECK(s->auc > 0.5);
    CHECK(s->fpr.front() == 0.0);
    CHECK(s->tpr.back() == doctest::Approx(1.0));

    SUBCASE("multi-class uses the micro average")
    {
        write_predictions(tmp.path / "m.csv", true, {"a", "b", "c"});
        auto m = ml::roc_series("m", ml::read_predictions_csv(tmp.path / "m.csv"));
        REQUIRE(m);
        CHECK(m->auc > 0.5);
    }
    SUBCASE("a bad probability names file, line and column")
    {
        write_file_atomic(tmp.path / "bad.csv", "id,label,predicted,prob_0,prob_1\nr1,0,0,0.9,0.1\nr2,1,1,x,0.8\n");
        CHECK_THROWS_WITH_AS(
            ml::read_predictions_csv(tmp.path / "bad.csv"),
            ((tmp.path / "bad.csv").string() + ":3: column prob_0: expected a probability, found 'x'").c_str(),
            UsageError);
    }
    SUBCASE("an unknown label is refused")
    {
        write_file_atomic(tmp.path / "bad.csv", "id,label,predicted,prob_no,prob_yes\nr1,maybe,no,0.9,0.1\n");
        CHECK_THROWS_AS(ml::read_predictions_csv(tmp.path / "bad.csv"), UsageError);
    }
}

TEST_CASE("ml plots write valid PNG files")
{
    TempDir tmp;
    ml::Leaderboard board = ml::build_leaderboard(
        {completed("t1", "mlp", 0.91, 0.1, 10), completed("t2", "logistic regression", 0.85, 0.1, 10)}, "roc_auc");
    ml::plot_leaderboard_bars(board.to_json(), tmp.path / "bars.png");
    check_png(tmp.path / "bars.png");

    write_predictions(tmp.path / "a.csv", true);
    write_predictions(tmp.path / "b.csv", false);
    std::vector<ml::RocSeries> curves{*ml::roc_series("mlp", ml::read_predictions_csv(tmp.path / "a.csv")),
                                      *ml::roc_series("logreg", ml::read_predictions_csv(tmp.path / "b.csv"))};
    ml::plot_roc_curves(curves, "", tmp.path / "roc.png");
    check_png(tmp.path / "roc.png");

    ml::plot_confusion_matrix({{50, 3}, {7, 40}}, {"died", "survived"}, "Confusion matrix: mlp", tmp.path / "cm.png");
    check_png(tmp.path / "cm.png");

    SUBCASE("empty inputs still draw a readable chart")
    {
        ml::plot_roc_curves({}, "no predictions", tmp.path / "empty_roc.png");
        check_png(tmp.path / "empty_roc.png");
        ml::plot_leaderboard_bars(json{{"primary_metric", "roc_auc"}, {"models", json::array()}},
                                  tmp.path / "empty_bars.png");
        check_png(tmp.path / "empty_bars.png");
    }
    // No temp files are left behind by the atomic writes.
    for (const auto& entry : fs::directory_iterator(tmp.path)) {
        CHECK(entry.path().string().find(".tmp.") == std::string::npos);
    }
}

TEST_CASE("ml::base64_encode and ml::html_escape")
{
    CHECK(ml::base64_encode("") == "");
    CHECK(ml::base64_encode("f") == "Zg==");
    CHECK(ml::base64_encode("fo") == "Zm8=");
    CHECK(ml::base64_encode("foo") == "Zm9v");
    CHECK(ml::base64_encode("foobar") == "Zm9vYmFy");
    CHECK(ml::base64_encode(std::string("\xff\x00\x10", 3)) == "/wAQ");
    CHECK(ml::html_escape("<a href=\"x\">R&D's</a>") == "&lt;a href=&quot;x&quot;&gt;R&amp;D&#39;s&lt;/a&gt;");
}

TEST_CASE("ml::render_report_html")
{
    TempDir tmp;
    ml::ModelResult failed = completed("f", "svm", 0, 0, 0);
    failed.status = "failed";
    failed.error = "bad <kernel>";
    ml::Leaderboard board = ml::build_leaderboard(
        {completed("t1", "mlp <wide>", 0.91, 0.1, 10), completed("t2", "logreg", 0.85, 0.1, 10), failed}, "roc_auc");
    ml::plot_leaderboard_bars(board.to_json(), tmp.path / "bars.png");
    ml::ReportInput input;
    input.title = "Model summary: titanic";
    input.leaderboard = board.to_json();
    input.plots = {{"Leaderboard", tmp.path / "bars.png"}, {"ROC curves", tmp.path / "missing.png"}};
    const std::string html = ml::render_report_html(input);

    CHECK(html.find("<td>mlp &lt;wide&gt;</td>") != std::string::npos);
    CHECK(html.find("<td>logreg</td>") != std::string::npos);
    CHECK(html.find("mlp <wide>") == std::string::npos);
    CHECK(html.find("<tr class=\"best\">") < html.find("<td>logreg</td>"));
    CHECK(html.find("bad &lt;kernel&gt;") != std::string::npos);
    CHECK(html.find(board.recommended.at("reason").get<std::string>()) != std::string::npos);
    const std::string uri = "data:image/png;base64," + ml::base64_encode(read_file(tmp.path / "bars.png"));
    CHECK(html.find(uri) != std::string::npos);
    CHECK(html.find("ROC curves: not drawn.") != std::string::npos);
    CHECK(html.find("src=\"http") == std::string::npos); // self-contained
}

TEST_CASE("kinds::run_summary end to end with a recording tracker")
{
    SummaryFixture f;

    SUBCASE("partial: ranks, plots, reports and registers the best")
    {
        kinds::run_summary(f.ctx);
        for (const char* name :
             {"leaderboard.json", "leaderboard.csv", "recommended_model.json", "error_models.json",
              "plots/leaderboard.png", "plots/roc.png", "plots/confusion_matrix.png", "report.html"}) {
            CHECK_MESSAGE(std::count(f.tracker.logged_artifacts.begin(), f.tracker.logged_artifacts.end(), name) == 1,
                          name);
        }
        for (const char* png : {"plots/leaderboard.png", "plots/roc.png", "plots/confusion_matrix.png"}) {
            check_png(f.tracker.fetch_artifact("sum1", png));
        }
        CHECK(f.tracker.values.at("best_score") == 0.91);
        CHECK(f.tracker.values.at("primary_metric") == "roc_auc");
        CHECK(f.tracker.values.at("models_ranked") == 2);
        CHECK(f.tracker.values.at("models_failed") == 1);
        const json recommended = f.tracker.values.at("recommended");
        CHECK(recommended.at("task_id") == "t_mlp");
        CHECK(recommended.at("name") == "train::mlp");
        CHECK(recommended.at("kind") == "mlp");
        CHECK(recommended.at("metric") == "roc_auc");
        CHECK(recommended.at("value") == 0.91);

        const json errors = json::parse(read_file(f.tracker.fetch_artifact("sum1", "error_models.json")));
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].at("task_id") == "t_svm");
        CHECK(errors[0].at("error") == "svm: kernel matrix is not positive definite");

        const std::string html = read_file(f.tracker.fetch_artifact("sum1", "report.html"));
        CHECK(html.find("<td>train::logreg</td>") != std::string::npos);
        CHECK(html.find("data:image/png;base64,") != std::string::npos);

        REQUIRE(f.tracker.registered.size() == 1);
        const ModelRecord& m = f.tracker.registered[0];
        CHECK(m.name == "titanic-baseline");
        CHECK(m.task_id == "t_mlp");
        CHECK(m.run_id == "run1");
        CHECK(m.source_task == "sum1");
        CHECK(m.kind == "mlp");
        CHECK(m.artifact == "model");
        CHECK(m.metrics.at("roc_auc") == 0.91);
        CHECK(m.lineage.at("preprocess_task") == "prep1");
        CHECK(m.lineage.at("data_path") == "data/titanic.csv");
        CHECK(m.lineage.at("params").at("model").at("kind") == "mlp");
        CHECK(!m.reason.empty());
        CHECK(f.tracker.values.at("registered_model").at("version") == 1);
        CHECK(std::any_of(f.log_lines.begin(), f.log_lines.end(),
                          [](const std::string& l) { return l.find("recommended: train::mlp") == 0; }));
    }
    SUBCASE("a model without predictions keeps its rank, without a ROC curve")
    {
        f.tracker.artifact_files.erase("t_log");
        f.ctx.task.params["register"] = false;
        f.ctx.task.params["model_name"] = "titanic";
        kinds::run_summary(f.ctx);
        CHECK(f.tracker.values.at("models_ranked") == 2);
        CHECK(f.tracker.registered.empty());
        const std::string html = read_file(f.tracker.fetch_artifact("sum1", "report.html"));
        CHECK(html.find("ROC skipped for train::logreg") != std::string::npos);
    }
    SUBCASE("strict: fails after writing every file, registers nothing")
    {
        f.ctx.task.params["policy"] = "strict";
        CHECK_THROWS_WITH_AS(kinds::run_summary(f.ctx),
                             "policy strict: 1 of 3 models failed: train::svm: svm: kernel matrix is not positive "
                             "definite",
                             TaskFailed);
        CHECK(f.tracker.registered.empty());
        CHECK(std::count(f.tracker.logged_artifacts.begin(), f.tracker.logged_artifacts.end(), "report.html") == 1);
        CHECK(f.tracker.values.at("models_failed") == 1);
    }
    SUBCASE("no completed model: error files, then TaskFailed")
    {
        f.ctx.task.params["inputs"] = json{{"train", {"t_svm"}}};
        CHECK_THROWS_WITH_AS(kinds::run_summary(f.ctx),
                             "no model completed: train::svm: svm: kernel matrix is not positive definite", TaskFailed);
        CHECK(json::parse(read_file(f.tracker.fetch_artifact("sum1", "error_models.json"))).size() == 1);
        CHECK(json::parse(read_file(f.tracker.fetch_artifact("sum1", "recommended_model.json"))).is_null());
        CHECK(f.tracker.registered.empty());
    }
    SUBCASE("bad params are usage errors")
    {
        f.ctx.task.params["policy"] = "lenient";
        CHECK_THROWS_WITH_AS(kinds::run_summary(f.ctx), "params.policy: expected partial or strict, found 'lenient'",
                             UsageError);
    }
    SUBCASE("no training inputs")
    {
        f.ctx.task.params["inputs"] = json{{"prep", "prep1"}};
        CHECK_THROWS_AS(kinds::run_summary(f.ctx), UsageError);
    }
}

TEST_CASE("ml::build_leaderboard chooses on validation (or the cv mean), never on test")
{
    // 'lucky' has the best test score but the worst validation score.
    ml::ModelResult lucky = completed("a", "lucky", 0.70, 0.1, 1);
    lucky.values["test"]["roc_auc"] = 0.99;
    ml::ModelResult steady = completed("b", "steady", 0.85, 0.1, 1);
    steady.values["test"]["roc_auc"] = 0.80;
    ml::Leaderboard board = ml::build_leaderboard({lucky, steady}, "roc_auc");
    CHECK(ranked_ids(board) == std::vector<std::string>{"b", "a"});
    CHECK(board.rows[0].at("score") == 0.85);
    CHECK(board.rows[0].at("test_score") == 0.80);
    CHECK(board.rows[0].at("selection") == "valid");
    const json j = board.to_json();
    CHECK(j.at("selection") == "valid");
    const std::string reason = board.recommended.at("reason").get<std::string>();
    CAPTURE(reason);
    CHECK(reason.find("highest roc_auc 0.8500 of 2 models on the validation split (test 0.8000)") == 0);
    const std::string table = ml::format_leaderboard_table(j);
    CAPTURE(table);
    CHECK(table.find("valid_roc_auc*") != std::string::npos);
    CHECK(table.find("ranked by roc_auc on the validation split (higher is better); test metrics are reported "
                     "beside it, never used to choose")
          != std::string::npos);

    SUBCASE("no validation value: not ranked")
    {
        lucky.values.erase("valid");
        ml::Leaderboard b = ml::build_leaderboard({lucky, steady}, "roc_auc");
        CHECK(ranked_ids(b) == std::vector<std::string>{"b"});
        CHECK(b.error_models[0].at("error").get<std::string>().find("never on test") != std::string::npos);
    }
    SUBCASE("the cross-validation mean ranks when present, shown with its std")
    {
        lucky.values["cv"] = {
            {"k", 5},
            {"metric", "roc_auc"},
            {"mean", 0.90},
            {"std", 0.02},
            {"folds", json::array({{{"metrics", {{"log_loss", 0.3}}}}, {{"metrics", {{"log_loss", 0.5}}}}})}};
        ml::Leaderboard b = ml::build_leaderboard({lucky, steady}, "roc_auc");
        CHECK(ranked_ids(b) == std::vector<std::string>{"a", "b"});
        CHECK(b.rows[0].at("selection") == "cv");
        CHECK(b.rows[0].at("score_std") == 0.02);
        CHECK(b.rows[0].at("selection_metrics").at("log_loss") == doctest::Approx(0.4));
        CHECK(b.to_json().at("selection") == "mixed");
        CHECK(b.recommended.at("reason").get<std::string>().find("5-fold cross-validation mean (+- 0.0200)")
              != std::string::npos);
        CHECK(ml::format_leaderboard_table(b.to_json()).find("0.9000+-0.0200") != std::string::npos);
    }
    SUBCASE("bootstrap figures: intervals, vs best, the not-distinguishable list")
    {
        ml::ModelResult third = completed("c", "third", 0.60, 0.1, 1);
        ml::Leaderboard b = ml::build_leaderboard({lucky, steady, third}, "roc_auc");
        std::vector<ml::TestUncertainty> figures(3);
        figures[0] = {"b", 0.75, 0.85, 1000, false, 0, 0, 0};
        figures[1] = {"a", 0.95, 1.0, 1000, true, -0.25, -0.1, 1000}; // better than the best on test
        figures[2] = {"c", 0.5, 0.7, 1000, true, -0.05, 0.3, 998};    // contains 0
        ml::set_test_uncertainty(b, figures, {{"resamples", 1000}, {"seed", 42}, {"level", 0.95}});
        CHECK(b.rows[0].at("test_ci").at("low") == 0.75);
        CHECK(b.rows[0].at("vs_best").is_null());
        CHECK(b.rows[1].at("vs_best").at("distinguishable") == true);
        CHECK(b.rows[2].at("vs_best").at("distinguishable") == false);
        CHECK(b.recommended.at("not_distinguishable") == json{"third"});
        CHECK(b.recommended.at("reason").get<std::string>().find("on test, 'third' is not distinguishable from it")
              != std::string::npos);
        const std::string t = ml::format_leaderboard_table(b.to_json());
        CAPTURE(t);
        CHECK(t.find("[0.7500, 0.8500]") != std::string::npos);
        CHECK(t.find("~same") != std::string::npos);
        CHECK(t.find("better") != std::string::npos);
        const auto rows = parse_csv_lines(ml::leaderboard_csv(b));
        CHECK(rows[0].back() == "distinguishable_from_best");
        CHECK(rows[3].back() == "false");
        ml::ReportInput input;
        input.leaderboard = b.to_json();
        const std::string html = ml::render_report_html(input);
        CHECK(html.find("not distinguishable") != std::string::npos);
        CHECK(html.find("never used to choose") != std::string::npos);
    }
}

TEST_CASE("kinds::run_summary: bootstrap intervals, reliability diagram, ECE column")
{
    SummaryFixture f;
    f.ctx.task.params["bootstrap"] = json{{"resamples", 200}, {"seed", 3}};
    kinds::run_summary(f.ctx);
    CHECK(std::count(f.tracker.logged_artifacts.begin(), f.tracker.logged_artifacts.end(), "plots/reliability.png")
          == 1);
    check_png(f.tracker.fetch_artifact("sum1", "plots/reliability.png"));
    const json lb = json::parse(read_file(f.tracker.fetch_artifact("sum1", "leaderboard.json")));
    CHECK(lb.at("bootstrap").at("resamples") == 200);
    CHECK(lb.at("bootstrap").at("seed") == 3);
    const json& best = lb.at("models")[0];
    REQUIRE(best.at("test_ci").is_object());
    CHECK(best.at("test_ci").at("low").get<double>() <= best.at("test_ci").at("high").get<double>());
    REQUIRE(lb.at("models")[1].at("vs_best").is_object());
    // Same seed, same leaderboard.
    SummaryFixture g;
    g.ctx.task.params["bootstrap"] = json{{"resamples", 200}, {"seed", 3}};
    kinds::run_summary(g.ctx);
    const json lb2 = json::parse(read_file(g.tracker.fetch_artifact("sum1", "leaderboard.json")));
    CHECK(lb2.at("models")[0].at("test_ci") == best.at("test_ci"));
    CHECK(lb2.at("models")[1].at("vs_best") == lb.at("models")[1].at("vs_best"));
    CHECK(f.tracker.values.at("selection") == "valid");
}
