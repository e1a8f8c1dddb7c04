// Tables (CSV, ARFF), image sets and split files.
#include "core/error.hpp"
#include "core/util.hpp"
#include "ml/images.hpp"
#include "ml/split_io.hpp"
#include "ml/table.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>

namespace fs = std::filesystem;
using namespace mlrun::ml;

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

struct TempDir {
    fs::path path;
    TempDir() : path(fs::temp_directory_path() / ("mlrun_data_test_" + mlrun::new_id()))
    {
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
};

} // namespace

TEST_CASE("parse_csv: quoted fields keep commas, quotes and newlines")
{
    const Table t = parse_csv("name,age,city\n"
                              "\"Smith, John\",42,\"He said \"\"hi\"\"\"\n"
                              "\"two\nlines\",,Paris\n"
                              "Ann,?,\"\"\n",
                              "people.csv");
    REQUIRE(t.rows() == 3);
    REQUIRE(t.names() == std::vector<std::string>{"name", "age", "city"});
    CHECK(t.columns[0].text[0] == "Smith, John");
    CHECK(t.columns[2].text[0] == "He said \"hi\"");
    CHECK(t.columns[0].text[1] == "two\nlines");
    CHECK(t.column("age").type == ColumnType::numeric);
    CHECK(t.column("age").missing_count() == 2); // empty and "?"
    CHECK(t.column("city").missing[2] == 1);     // quoted empty is missing too
    CHECK(t.column("name").type == ColumnType::categorical);
    CHECK(t.column("age").number(0) == 42.0);
}

TEST_CASE("parse_csv: header detection and limit")
{
    const Table no_header = parse_csv("1,a\n2,b\n3,c\n", "n.csv");
    CHECK(no_header.rows() == 3);
    CHECK(no_header.names() == std::vector<std::string>{"column_1", "column_2"});
    ReadOptions opt;
    opt.limit = 2;
    const Table limited = parse_csv("x,y\n1,a\n2,b\n3,c\n", "l.csv", opt);
    CHECK(limited.rows() == 2);
    CHECK(limited.names() == std::vector<std::string>{"x", "y"});
}

TEST_CASE("parse_csv: malformed input names the file and line")
{
    // The ragged record is on line 4 (the quoted field spans lines 2-3).
    CHECK(error_of([] { parse_csv("a,b\n\"x\ny\",1\n3,4,5\n", "bad.csv"); })
          == "bad.csv:4: expected 2 fields, found 3");
    CHECK(error_of([] { parse_csv("a,b\n1,\"open\n", "q.csv"); }) == "q.csv:2: unterminated quoted field");
    CHECK(error_of([] { parse_csv("", "empty.csv"); }) == "empty.csv: empty table (no rows)");
    CHECK(error_of([] { parse_csv("a,b\n", "hdr.csv"); }) == "hdr.csv: empty table (no data rows)");
    CHECK(error_of([] { parse_csv("a,a\n1,2\n", "dup.csv"); }) == "dup.csv:1: duplicate column name 'a'");
}

TEST_CASE("Table::column: a missing column names the ones available")
{
    const Table t = parse_csv("a,b\n1,2\n", "t.csv");
    CHECK(error_of([&] { t.column("label", "target column"); }) == "t.csv: no target column 'label' (columns: a, b)");
}

TEST_CASE("set_type: overrides, and refuses text in a numeric column")
{
    Table t = parse_csv("k,v\n1,x\n2,y\n", "o.csv");
    CHECK(t.column("k").type == ColumnType::numeric);
    set_type(t, "k", ColumnType::categorical);
    CHECK(t.column("k").type == ColumnType::categorical);
    CHECK(error_of([&] { set_type(t, "v", ColumnType::numeric); })
          == "o.csv: column 'v' is declared numeric but data row 1 holds 'x'");
}

TEST_CASE("parse_arff: attribute types, quotes, comments")
{
    const Table t = parse_arff("% comment\n@relation 'r'\n@attribute 'x y' numeric\n@attribute c {'a b',c}\n"
                               "@attribute s string\n@data\n1.5,'a b','it\\'s'\n?,c,\"q, r\"\n",
                               "t.arff");
    REQUIRE(t.rows() == 2);
    CHECK(t.columns[0].name == "x y");
    CHECK(t.columns[0].type == ColumnType::numeric);
    CHECK(t.columns[1].levels == std::vector<std::string>{"a b", "c"});
    CHECK(t.columns[2].text[0] == "it's");
    CHECK(t.columns[2].text[1] == "q, r");
    CHECK(t.columns[0].missing[1] == 1);
    CHECK(error_of([] { parse_arff("@relation r\n@attribute a numeric\n@data\n1\n2,3\n", "r.arff"); })
          == "r.arff:5: expected 1 fields, found 2");
}

TEST_CASE("read_table: the real titanic3.arff")
{
    const Table t = read_table(k_repo / "examples/titanic/titanic3.arff");
    CHECK(t.rows() == 1309);
    CHECK(t.columns.size() == 14);
    CHECK(t.column("age").missing_count() == 263);
    CHECK(t.column("fare").missing_count() == 1);
    CHECK(t.column("embarked").missing_count() == 2);
    CHECK(t.column("cabin").missing_count() == 1014);
    CHECK(t.column("home.dest").missing_count() == 564);
    CHECK(t.column("age").type == ColumnType::numeric);
    CHECK(t.column("sex").type == ColumnType::categorical);
    CHECK(t.column("name").text[0] == "Allen, Miss. Elisabeth Walton");
    long survived = 0;
    for (const auto& v : t.column("survived").text) {
        survived += v == "1" ? 1 : 0;
    }
    CHECK(survived == 500);
}

TEST_CASE("read_table: the hand-made new passengers CSV")
{
    const Table t = read_table(k_repo / "examples/titanic/new_passengers.csv");
    CHECK(t.columns.size() == 14);
    CHECK(t.rows() == 20);
    CHECK(t.column("name").text[2] == "O'Leary, Mr. Patrick \"Paddy\"");
    CHECK(t.column("age").missing_count() >= 3);
}

TEST_CASE("load_image_grid: digits.png")
{
    const ImageSet set = load_image_grid(k_repo / "examples/digits/digits.png", 20, 10, 0);
    REQUIRE(set.labels.size() == 5000);
    CHECK(set.x.rows == 5000);
    CHECK(set.x.cols == 400);
    CHECK(set.shape.height == 20);
    CHECK(set.labels[0] == "0");
    CHECK(set.labels[499] == "0");
    CHECK(set.labels[500] == "1");
    CHECK(set.labels[4999] == "9");
    CHECK(set.ids[4999] == "cell_4999");
    float max = 0;
    for (float v : set.x.data) {
        max = std::max(max, v);
    }
    CHECK(max > 200.0f); // raw 0..255 pixels, ink present
    // A limited load keeps every class (evenly spaced cells) and resizes.
    const ImageSet small = load_image_grid(k_repo / "examples/digits/digits.png", 20, 10, 8, 50);
    CHECK(small.x.rows == 50);
    CHECK(small.x.cols == 64);
    CHECK(small.labels.front() == "0");
    CHECK(small.labels.back() == "9");
}

TEST_CASE("images: folders, lists and unreadable files")
{
    TempDir tmp;
    const fs::path root = tmp.path / "set";
    fs::create_directories(root / "cat");
    fs::create_directories(root / "dog");
    fs::copy_file(k_repo / "examples/digits/digits.png", root / "cat" / "a.png");
    fs::copy_file(k_repo / "examples/digits/digits.png", root / "dog" / "b.png");
    const ImageSet folder = load_image_folder(root, 16);
    CHECK(folder.labels == std::vector<std::string>{"cat", "dog"});
    CHECK(folder.x.cols == 256);
    CHECK(folder.ids[1] == "dog/b.png");

    mlrun::write_file_atomic(tmp.path / "list.csv", "path,label\nset/cat/a.png,x\nset/dog/b.png,y\n");
    const ImageSet list = load_image_list(tmp.path / "list.csv", 10);
    CHECK(list.labels == std::vector<std::string>{"x", "y"});

    mlrun::write_file_atomic(root / "dog" / "broken.png", "not a png");
    const std::string broken = (root / "dog" / "broken.png").string();
    CHECK(error_of([&] { load_image_folder(root, 16); }) == broken + ": unreadable image");
}

TEST_CASE("split_io: round trip, and clear errors for bad files")
{
    TempDir tmp;
    LabeledSet set;
    set.x = Matrix(3, 2);
    set.x.data = {1.5f, -2.0f, 0.0f, 3.25f, 1e-3f, 7.0f};
    set.y = {0, 1, 1};
    set.ids = {"a", "b,c", ""};
    set.feature_names = {"f1", "f2"};
    set.class_names = {"no", "yes"};
    const fs::path p = tmp.path / "train.bin";
    save_split(p, set);
    const LabeledSet back = load_split(p);
    CHECK(back.x.rows == 3);
    CHECK(back.x.cols == 2);
    CHECK(back.x.data == set.x.data);
    CHECK(back.y == set.y);
    CHECK(back.ids == set.ids);
    CHECK(back.feature_names == set.feature_names);
    CHECK(back.class_names == set.class_names);
    CHECK_FALSE(back.shape.is_image());

    const std::string full = mlrun::read_file(p);
    mlrun::write_file_atomic(p, full.substr(0, full.size() - 5));
    CHECK(error_of([&] { load_split(p); }).find("truncated split file") != std::string::npos);
    mlrun::write_file_atomic(p, "hello\n");
    CHECK(error_of([&] { load_split(p); }) == p.string() + ": not a split file (bad header)");
    CHECK(error_of([&] { load_split(tmp.path / "none.bin"); })
          == (tmp.path / "none.bin").string() + ": no such split file");
}
