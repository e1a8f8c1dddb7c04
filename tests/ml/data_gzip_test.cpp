// gzip-compressed tables (issue 11): read_table on .csv.gz / .arff.gz (and gzip without the
// suffix) gives the plain file's table, a dataset folder finds a .gz table, and a pipeline on
// titanic3.arff.gz completes with the plain file's leaderboard.
#include "../core/engine_test_util.hpp"

#include "app/pipeline_job.hpp"
#include "engine/run_record.hpp"
#include "ml/table.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <map>

using namespace mlrun;
using namespace mlrun::test;

namespace {

namespace fs = std::filesystem;

const fs::path k_examples = fs::path(MLRUN_SOURCE_DIR) / "examples";

void gzip_to(const fs::path& src, const fs::path& dst)
{
    const std::string cmd = "gzip -c -n '" + src.string() + "' > '" + dst.string() + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
}

// Two tables hold the same cells, missing flags, types and levels, column by column.
void check_same_table(const ml::Table& a, const ml::Table& b)
{
    REQUIRE(a.columns.size() == b.columns.size());
    CHECK(a.rows() == b.rows());
    for (std::size_t c = 0; c < a.columns.size(); ++c) {
        CAPTURE(a.columns[c].name);
        CHECK(a.columns[c].name == b.columns[c].name);
        CHECK(a.columns[c].type == b.columns[c].type);
        CHECK(a.columns[c].levels == b.columns[c].levels);
        CHECK(a.columns[c].text == b.columns[c].text);
        CHECK(a.columns[c].missing == b.columns[c].missing);
    }
}

// model -> its test metrics, from the run's summary leaderboard.
std::map<std::string, Json> test_metrics_of(const TempDir& dir, const std::string& run_id)
{
    Backends b = engine_backends(dir);
    const Json board = run_leaderboard(b, load_run(b.ports(), run_id));
    std::map<std::string, Json> out;
    for (const Json& m : board.at("models")) {
        out[m.at("model").get<std::string>()] = m.at("test");
    }
    return out;
}

} // namespace

TEST_CASE("gzip tables: .csv.gz, .arff.gz and gzip without the suffix read the plain file's rows")
{
    TempDir dir;
    const fs::path wine = k_examples / "wine/wine.csv";
    const fs::path titanic = k_examples / "titanic/titanic3.arff";
    gzip_to(wine, dir / "wine.csv.gz");
    gzip_to(titanic, dir / "titanic3.arff.gz");
    gzip_to(titanic, dir / "titanic3.arff"); // gzip under the plain name: the magic bytes decide
    const ml::Table plain_wine = ml::read_table(wine);
    CHECK(plain_wine.rows() == 178);
    check_same_table(ml::read_table(dir / "wine.csv.gz"), plain_wine);
    const ml::Table plain_titanic = ml::read_table(titanic);
    CHECK(plain_titanic.rows() > 1000);
    check_same_table(ml::read_table(dir / "titanic3.arff.gz"), plain_titanic);
    check_same_table(ml::read_table(dir / "titanic3.arff"), plain_titanic);
    ml::ReadOptions first;
    first.limit = 7;
    check_same_table(ml::read_table(dir / "titanic3.arff.gz", first), ml::read_table(titanic, first));

    // A dataset folder with one .gz table picks it, as a plain one would.
    fs::create_directories(dir / "ds");
    fs::copy_file(dir / "wine.csv.gz", dir / "ds/wine.csv.gz");
    CHECK(ml::is_table_file("x/wine.csv.gz"));
    CHECK(ml::find_table_file(dir / "ds") == dir / "ds/wine.csv.gz");
    const ml::DataSource src = ml::resolve_data_source(Json{{"path", (dir / "ds").string()}}, "",
                                                       [](const std::string&) { return fs::path(); });
    CHECK(src.format == "table");
    CHECK(src.path == dir / "ds/wine.csv.gz");
}

TEST_CASE("gzip tables: a pipeline on titanic3.arff.gz completes with the plain file's leaderboard")
{
    TempDir dir;
    gzip_to(k_examples / "titanic/titanic3.arff", dir / "titanic3.arff.gz");
    fs::copy_file(k_examples / "titanic/titanic3.arff", dir / "titanic3.arff");
    std::map<std::string, std::map<std::string, Json>> boards;
    for (const std::string data : {"titanic3.arff", "titanic3.arff.gz"}) {
        CAPTURE(data);
        const std::string file = write_pipeline(dir,
                                                R"(name: gz_)" + std::string(data == "titanic3.arff" ? "plain" : "gz")
                                                    + R"(
steps:
  - name: preprocess
    template: preprocess
    params:
      data.path: )" + data + R"(
      data.target: survived
      data.drop: [boat, body, home.dest, name, ticket, cabin]
      data.limit: 500
  - name: train
    template: train_model
    parents: [preprocess]
    foreach: {model.kind: [logreg, xgboost]}
    params: {seed: 42, model.epochs: 5}
  - name: summary
    template: summary
    parents: [train]
)",
                                                data + ".yaml");
        const RunResult r = run_cli(dir, {"pipeline", "run", "-q", file});
        CAPTURE(r.err);
        REQUIRE(r.code == 0);
        boards[data] = test_metrics_of(dir, run_id_of(r.out));
    }
    REQUIRE(boards["titanic3.arff"].size() == 2);
    CHECK(boards["titanic3.arff"].at("train::xgboost").at("roc_auc").get<double>() > 0.7);
    CHECK(boards["titanic3.arff.gz"] == boards["titanic3.arff"]);
}
