// Issue 12 on the ML side: a leaderboard that fits the terminal (--wide for every column), the
// CSV spellings of missing and infinite values, and targets whose classes are too small for
// a stratified split (a clear error, exit 1, nothing registered).
#include "../core/engine_test_util.hpp"

#include "core/error.hpp"
#include "ml/leaderboard.hpp"
#include "ml/table.hpp"
#include "ml/transform.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>

using namespace mlrun;
using namespace mlrun::test;
namespace fs = std::filesystem;

namespace {

RunResult mlrun_cli(const TempDir& dir, std::vector<std::string> args,
                    const std::map<std::string, std::string>& env = {})
{
    args.insert(args.begin(), {"--templates", k_templates});
    return run(dir, args, env);
}

std::string usage_error_of(const std::function<void()>& fn)
{
    try {
        fn();
    } catch (const UsageError& e) {
        return e.what();
    }
    return "(no UsageError)";
}

// Characters of a UTF-8 line (continuation bytes not counted).
size_t columns_of(const std::string& line)
{
    size_t n = 0;
    for (unsigned char c : line) {
        n += (c & 0xC0) != 0x80 ? 1 : 0;
    }
    return n;
}

// A binary table of 200 rows two features separate, with some noise.
void write_binary_csv(const fs::path& path)
{
    std::string csv = "x1,x2,label\n";
    for (int i = 0; i < 200; ++i) {
        const int label = i % 2;
        const double x1 = label + ((i * 37) % 17) / 10.0;
        const double x2 = ((i * 11) % 13) / 5.0 - label;
        csv += std::to_string(x1) + "," + std::to_string(x2) + "," + (label ? "yes" : "no") + "\n";
    }
    write_text(path, csv);
}

} // namespace

TEST_CASE("leaderboard: pipeline run and show fit $COLUMNS (80 by default in a pipe); --wide prints every column")
{
    TempDir dir;
    write_binary_csv(dir / "data.csv");
    write_text(dir / "p.yaml", "name: fit\nprimary_metric: roc_auc\nsteps:\n"
                               "  - name: prep\n    template: preprocess\n    params: {data.path: "
                                   + (dir / "data.csv").string()
                                   + ", data.target: label}\n"
                                     "  - name: train\n    template: train_model\n    parents: [prep]\n"
                                     "    foreach: {model.kind: [logreg, random_forest]}\n"
                                     "  - name: summary\n    template: summary\n    parents: [train]\n");
    RunResult r = mlrun_cli(dir, {"pipeline", "run", "-q", (dir / "p.yaml").string()}, {{"COLUMNS", "80"}});
    CAPTURE(r.out);
    CAPTURE(r.err);
    REQUIRE(r.code == 0);
    const std::string run_id = run_id_of(r.out);
    REQUIRE(!run_id.empty());
    // The leaderboard's lines: from its header on (`pipeline show` prints the DAG before it).
    const auto check_fits = [](const std::string& out, size_t width) {
        bool in_table = false;
        for (const std::string& line : lines_of(out)) {
            in_table = in_table || line.rfind("  #  model", 0) == 0;
            if (in_table) {
                CHECK_MESSAGE(columns_of(line) <= width, "too wide: " << line);
            }
        }
        CHECK(in_table);
    };
    check_fits(r.out, 80);
    CHECK(r.out.find("valid_roc_auc*") != std::string::npos); // what ranked
    CHECK(r.out.find("log_loss") != std::string::npos);
    CHECK(r.out.find("random_forest") != std::string::npos);
    CHECK(r.out.find("columns hidden") != std::string::npos);
    CHECK(r.out.find("--wide shows all") != std::string::npos);
    std::string header;
    for (const std::string& line : lines_of(r.out)) {
        if (line.rfind("  #  model", 0) == 0) {
            header = line;
        }
    }
    CHECK(header.find("log_loss") != std::string::npos);
    CHECK(header.find("ms/row") == std::string::npos); // a low-priority column, hidden

    // No COLUMNS and not a terminal: 80.
    RunResult shown = mlrun_cli(dir, {"pipeline", "show", run_id}, {{"COLUMNS", ""}});
    REQUIRE(shown.code == 0);
    check_fits(shown.out, 80);
    CHECK(shown.out.find("--wide shows all") != std::string::npos);

    RunResult wide = mlrun_cli(dir, {"pipeline", "show", run_id, "--wide"}, {{"COLUMNS", "80"}});
    REQUIRE(wide.code == 0);
    CAPTURE(wide.out);
    for (const char* column : {"ms/row", "train s", "size", "task", "accuracy"}) {
        CHECK_MESSAGE(wide.out.find(column) != std::string::npos, column);
    }
    CHECK(wide.out.find("columns hidden") == std::string::npos);
    size_t widest = 0;
    for (const std::string& line : lines_of(wide.out)) {
        widest = std::max(widest, columns_of(line));
    }
    CHECK(widest > 80);

    // A wider terminal shows more, still within it.
    RunResult wider = mlrun_cli(dir, {"pipeline", "show", run_id}, {{"COLUMNS", "120"}});
    check_fits(wider.out, 120);
    CHECK(lines_of(wider.out).size() <= lines_of(shown.out).size());
}

TEST_CASE("leaderboard table: the required columns stay at any width, the model name narrowed")
{
    nlohmann::json board = {{"primary_metric", "roc_auc"},
                            {"models",
                             {{{"rank", 1},
                               {"model", "a-model-with-a-rather-long-name"},
                               {"kind", "mlp"},
                               {"task_id", "0123456789abcdef"},
                               {"score", 0.9},
                               {"selection", "valid"},
                               {"test", {{"roc_auc", 0.85}, {"log_loss", 0.3}, {"accuracy", 0.8}}}}}}};
    const std::string narrow = ml::format_leaderboard_table(board, 50);
    CAPTURE(narrow);
    const std::vector<std::string> lines = lines_of(narrow);
    REQUIRE(lines.size() >= 3);
    CHECK(lines[0].find("roc_auc") != std::string::npos);
    CHECK(lines[0].find("valid_roc_auc*") != std::string::npos);
    CHECK(lines[2].find("0.8500") != std::string::npos);
    CHECK(lines[2].find("0.9000") != std::string::npos);
    for (const std::string& line : lines) {
        CHECK_MESSAGE(line.size() <= 50, line);
    }
    CHECK(narrow.find("hidden (") != std::string::npos);
    const std::string all = ml::format_leaderboard_table(board);
    CHECK(all.find("0123456789abcdef") != std::string::npos);
    CHECK(all.find("a-model-with-a-rather-long-name") != std::string::npos);
}

TEST_CASE("parse_csv: NA, N/A, nan, NaN, NULL, ? and empty are missing; inf, -inf, Infinity missing and counted")
{
    const std::string text = "a,b,c,label\n"
                             "1.5,NA,x,yes\n"
                             "N/A,2,y,no\n"
                             "nan,inf,NULL,yes\n"
                             "NaN,-inf,?,no\n"
                             ",Infinity,\"NA\",yes\n"
                             "3,4,z,no\n";
    ml::Table t = ml::parse_csv(text, "special.csv");
    const ml::Column& a = t.column("a");
    const ml::Column& b = t.column("b");
    const ml::Column& c = t.column("c");
    CHECK(a.type == ml::ColumnType::numeric); // numbers plus missing spellings stay numeric
    CHECK(b.type == ml::ColumnType::numeric);
    CHECK(c.type == ml::ColumnType::categorical);
    CHECK(a.missing == std::vector<char>{0, 1, 1, 1, 1, 0});
    CHECK(b.missing == std::vector<char>{1, 0, 1, 1, 1, 0});
    CHECK(b.infinite == 3);
    CHECK(a.infinite == 0);
    CHECK(c.missing == std::vector<char>{0, 0, 1, 1, 0, 0}); // quoted "NA" is the text NA
    CHECK(c.text[4] == "NA");
    CHECK(a.number(0) == 1.5);
    CHECK(std::isnan(b.number(2)));
    CHECK(b.number(5) == 4.0);
    // "Na" (sodium) is text, not a missing spelling.
    CHECK(ml::parse_csv("el,n\nNa,1\nK,2\n", "x.csv").column("el").missing_count() == 0);
}

TEST_CASE("preprocess: a CSV column of numbers and NA / nan / inf is a numeric feature, not dropped as text")
{
    TempDir dir;
    std::string csv = "f,g,label\n";
    for (int i = 0; i < 60; ++i) {
        const char* f = i % 10 == 3 ? "NA" : i % 10 == 5 ? "nan" : i % 10 == 7 ? "inf" : nullptr;
        csv += (f ? std::string(f) : std::to_string(i % 7)) + "," + std::to_string(i % 5) + "," + (i % 2 ? "a" : "b")
               + "\n";
    }
    write_text(dir / "d.csv", csv);
    write_text(dir / "p.yaml", "name: na\nsteps:\n  - name: prep\n    template: preprocess\n    params: {data.path: "
                                   + (dir / "d.csv").string() + ", data.target: label}\n");
    RunResult r = mlrun_cli(dir, {"pipeline", "run", "-q", (dir / "p.yaml").string()});
    CAPTURE(r.err);
    REQUIRE(r.code == 0);
    RunResult list = mlrun_cli(dir, {"task", "list", "--json"});
    const Json tasks = Json::parse(list.out);
    REQUIRE(tasks.size() == 1);
    const std::string id = tasks[0]["id"];
    const Json transform = Json::parse(read_text(dir.home() / "tasks" / id / "artifacts" / "transform.json"));
    CAPTURE(transform.dump());
    CHECK(transform.dump().find("\"f\"") != std::string::npos);
    for (const Json& d : transform.value("dropped", Json::array())) {
        CHECK(d.dump().find("\"f\"") == std::string::npos);
    }
    const std::string log = mlrun_cli(dir, {"task", "logs", id}).out;
    CHECK(log.find("column 'f': 6 infinite values (inf, -inf, Infinity) read as missing") != std::string::npos);
}

TEST_CASE("check_stratifiable: the boundary of a 60/20/20 split, the classes named")
{
    const std::vector<std::string> names{"a", "b", "c"};
    // 4 rows a class is the least that fills every split: 2/1/1.
    std::vector<int> four{0, 0, 0, 0, 1, 1, 1, 1};
    CHECK_NOTHROW(ml::check_stratifiable(four, names, 0.6, 0.2, 0.2, "t.csv"));
    const ml::Splits s = ml::stratified_split(four, 0.6, 0.2, 0.2, 1);
    CHECK(s.valid.size() == 2);
    CHECK(s.test.size() == 2);
    std::vector<int> three{0, 0, 0, 0, 1, 1, 1};
    CHECK(usage_error_of([&] { ml::check_stratifiable(three, names, 0.6, 0.2, 0.2, "t.csv"); })
          == "t.csv: class 'b' has 3 rows; a stratified 60/20/20 train/valid/test split needs at least 4 per class");
    // Without a validation split, 2 rows (1/0/1) are enough.
    std::vector<int> two{0, 0, 1, 1, 2, 2};
    CHECK_NOTHROW(ml::check_stratifiable(two, names, 0.5, 0, 0.5, "t.csv"));
    // Many: the first five named, and how many more.
    std::vector<int> many;
    std::vector<std::string> many_names;
    for (int c = 0; c < 500; ++c) {
        many_names.push_back("c" + std::to_string(1000 + c));
        many.push_back(c);
        many.push_back(c);
    }
    const std::string e = usage_error_of([&] { ml::check_stratifiable(many, many_names, 0.6, 0.2, 0.2, "t.csv"); });
    CHECK(e
          == "t.csv: 500 classes have too few rows: 'c1000' (2 rows), 'c1001' (2 rows), 'c1002' (2 rows), "
             "'c1003' (2 rows), 'c1004' (2 rows) and 495 more; a stratified 60/20/20 train/valid/test split needs "
             "at least 4 per class");
}

TEST_CASE("preprocess: 500 classes of 2 rows fail the run (exit 1) with the classes named, nothing registered")
{
    TempDir dir;
    std::string csv = "x,y\n";
    for (int c = 0; c < 500; ++c) {
        for (int k = 0; k < 2; ++k) {
            csv += std::to_string(c * 2 + k) + ",class" + std::to_string(c) + "\n";
        }
    }
    write_text(dir / "many.csv", csv);
    write_text(dir / "p.yaml", "name: many\nsteps:\n"
                               "  - name: prep\n    template: preprocess\n    params: {data.path: "
                                   + (dir / "many.csv").string()
                                   + ", data.target: y}\n"
                                     "  - name: train\n    template: train_model\n    parents: [prep]\n"
                                     "    params: {model.kind: logreg}\n"
                                     "  - name: summary\n    template: summary\n    parents: [train]\n");
    RunResult r = mlrun_cli(dir, {"pipeline", "run", "-q", (dir / "p.yaml").string()});
    CAPTURE(r.out);
    CAPTURE(r.err);
    CHECK(r.code == 1);
    const std::string said = r.out + r.err;
    CHECK(said.find("500 classes have too few rows: 'class0' (2 rows)") != std::string::npos);
    CHECK(said.find("needs at least 4 per class") != std::string::npos);
    RunResult models = mlrun_cli(dir, {"model", "list", "--all"});
    CHECK(models.code == 0);
    CHECK(lines_of(models.out).size() <= 1); // the header only

    // The boundary through the kind: 4 rows a class pass, 3 do not.
    for (int rows : {4, 3}) {
        CAPTURE(rows);
        std::string small = "x,y\n";
        for (int c = 0; c < 3; ++c) {
            for (int k = 0; k < rows; ++k) {
                small += std::to_string(c * 10 + k) + ",k" + std::to_string(c) + "\n";
            }
        }
        write_text(dir / "small.csv", small);
        write_text(dir / "q.yaml", "name: small\nsteps:\n  - name: prep\n    template: preprocess\n    params: "
                                   "{data.path: "
                                       + (dir / "small.csv").string() + ", data.target: y}\n");
        RunResult q = mlrun_cli(dir, {"pipeline", "run", "-q", "--no-cache", (dir / "q.yaml").string()});
        CAPTURE(q.err);
        CHECK(q.code == (rows == 4 ? 0 : 1));
        if (rows == 3) {
            CHECK((q.out + q.err).find("3 classes have too few rows: 'k0' (3 rows)") != std::string::npos);
        }
    }
}
