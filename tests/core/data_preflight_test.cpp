// Data checked before a run (issue 11): gzip-compressed tables read through zlib (by magic
// bytes), table headers read without the rows, and `pipeline run` refusing bad data names —
// exit 2, one line with a suggestion, no run record, no task, the store byte-identical.
#include "engine_test_util.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "ml/io/csv.hpp"
#include "ml/io/table_header.hpp"
#include "ml/io/text_file.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <map>

using namespace mlrun;
using mlrun::test::k_templates;
using mlrun::test::lines_of;
using mlrun::test::read_text;
using mlrun::test::run_cli;
using mlrun::test::RunResult;
using mlrun::test::TempDir;
using mlrun::test::trim;
using mlrun::test::write_pipeline;
using mlrun::test::write_text;

namespace {

namespace fs = std::filesystem;

const fs::path k_titanic = fs::path(MLRUN_SOURCE_DIR) / "examples/titanic/titanic3.arff";

// gzip -c SRC > DST (the gzip tool, not our code, makes the compressed file).
void gzip_to(const fs::path& src, const fs::path& dst)
{
    const std::string cmd = "gzip -c -n '" + src.string() + "' > '" + dst.string() + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
}

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

std::string error_of(const std::function<void()>& f)
{
    try {
        f();
    } catch (const UsageError& e) {
        return e.what();
    }
    return "";
}

// A preprocess step on `data` (relative to the pipeline's folder) with extra params.
std::string pipeline_on(const std::string& data, const std::string& params)
{
    return "name: preflight_probe\nsteps:\n  - name: prep\n    template: preprocess\n    params: {data.path: " + data
           + ", " + params
           + "}\n  - name: train\n    template: train_model\n    parents: [prep]\n    params: {model.kind: logreg}\n";
}

// `pipeline run ARGS` refused: exit 2, one `mlrun: error:` line holding every part of
// `wanted`, nothing on stdout, no run, and the whole folder (store included) unchanged.
void check_refused(const TempDir& dir, std::vector<std::string> args, const std::vector<std::string>& wanted)
{
    const auto before = snapshot(dir.path());
    REQUIRE(before.count(".mlrun/store.db") == 1);
    args.insert(args.begin(), {"pipeline", "run"});
    const RunResult r = run_cli(dir, args);
    CAPTURE(r.err);
    CHECK(r.code == 2);
    const std::vector<std::string> lines = lines_of(r.err);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].rfind("mlrun: error: ", 0) == 0);
    for (const std::string& w : wanted) {
        CHECK_MESSAGE(lines[0].find(w) != std::string::npos, w);
    }
    CHECK(r.out.empty());
    CHECK(snapshot(dir.path()) == before);
    const RunResult list = run_cli(dir, {"pipeline", "list"});
    CHECK(list.out.find("preflight_probe") == std::string::npos);
}

// A store that exists (one draft task), so "unchanged" compares a real one.
void seed_store(const TempDir& dir)
{
    REQUIRE(run_cli(dir, {"task", "create", "exec", "--set", "command=true"}).code == 0);
}

} // namespace

TEST_CASE("text_file: a gzip table reads as the plain one, by magic bytes whatever its name")
{
    TempDir dir;
    const std::string csv = "a,b,label\n1,\"x, y\",yes\n2,\"multi\nline\",no\n3,z,yes\n";
    write_text(dir / "t.csv", csv);
    gzip_to(dir / "t.csv", dir / "t.csv.gz");
    fs::copy_file(dir / "t.csv.gz", dir / "renamed.csv"); // gzip without the suffix
    CHECK_FALSE(ml::is_gzip_file(dir / "t.csv"));
    CHECK(ml::is_gzip_file(dir / "t.csv.gz"));
    CHECK(ml::is_gzip_file(dir / "renamed.csv"));
    CHECK(read_text(dir / "t.csv.gz") != csv); // really compressed
    CHECK(ml::read_text_file(dir / "t.csv.gz") == csv);
    CHECK(ml::read_text_file(dir / "renamed.csv") == csv);
    const auto rows_of = [](const std::vector<ml::CsvRow>& rows) {
        std::vector<std::vector<std::string>> out;
        for (const ml::CsvRow& r : rows) {
            out.emplace_back();
            for (const ml::CsvField& f : r.fields) {
                out.back().push_back(f.text);
            }
        }
        return out;
    };
    const auto plain = rows_of(ml::read_csv_file(dir / "t.csv"));
    CHECK(plain.size() == 4);
    CHECK(rows_of(ml::read_csv_file(dir / "t.csv.gz")) == plain);
    CHECK(rows_of(ml::read_csv_file(dir / "renamed.csv")) == plain);

    // The whole Titanic ARFF, inflated in chunks, is the file byte for byte.
    gzip_to(k_titanic, dir / "titanic3.arff.gz");
    CHECK(ml::read_text_file(dir / "titanic3.arff.gz") == read_text(k_titanic));
    std::string joined;
    std::size_t chunks = 0;
    ml::read_text_chunks(
        dir / "titanic3.arff.gz",
        [&](std::string_view c) {
            CHECK(c.size() <= 1000);
            joined.append(c);
            ++chunks;
            return true;
        },
        1000);
    CHECK(joined == read_text(k_titanic));
    CHECK(chunks > 10);
    // Stopping early reads no further.
    chunks = 0;
    ml::read_text_chunks(
        dir / "titanic3.arff.gz", [&](std::string_view) { return ++chunks < 2; }, 1000);
    CHECK(chunks == 2);

    CHECK(ml::table_extension("x/T.ARFF.gz") == ".arff");
    CHECK(ml::table_extension("t.csv") == ".csv");
    CHECK(ml::table_extension("t.gz") == "");
}

TEST_CASE("text_file: truncated or corrupt gzip and missing files are UsageErrors naming the file")
{
    TempDir dir;
    gzip_to(k_titanic, dir / "full.arff.gz");
    const std::string bytes = read_text(dir / "full.arff.gz");
    write_text(dir / "cut.arff.gz", bytes.substr(0, bytes.size() / 2));
    std::string bad = bytes;
    for (std::size_t i = 20; i < 200; ++i) {
        bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    }
    write_text(dir / "bad.arff.gz", bad);
    const std::string cut = error_of([&] { ml::read_text_file(dir / "cut.arff.gz"); });
    CHECK(cut.find("cut.arff.gz: corrupt gzip data") != std::string::npos);
    const std::string corrupt = error_of([&] { ml::read_text_file(dir / "bad.arff.gz"); });
    CHECK(corrupt.find("bad.arff.gz: corrupt gzip data") != std::string::npos);
    const std::string missing = error_of([&] { ml::read_text_file(dir / "none.csv.gz"); });
    CHECK(missing.find("cannot read " + (dir / "none.csv.gz").string()) != std::string::npos);
}

TEST_CASE("table_header: CSV, TSV and ARFF headers, plain and gzip, and formats that are not tables")
{
    TempDir dir;
    write_text(dir / "q.csv", "\xEF\xBB\xBF\"first, name\",\"two\nlines\",age\n\"a\",\"b\",3\n");
    const ml::TableHeader q = ml::read_table_header(dir / "q.csv");
    CHECK(q.format == "csv");
    CHECK(q.names() == std::vector<std::string>{"first, name", "two\nlines", "age"});
    write_text(dir / "n.csv", "1,2,3\n4,5,6\n");
    CHECK(ml::read_table_header(dir / "n.csv").names() == std::vector<std::string>{"column_1", "column_2", "column_3"});
    CHECK(ml::read_table_header(dir / "q.csv", 0).names()
          == std::vector<std::string>{"column_1", "column_2", "column_3"});
    write_text(dir / "t.tsv", "x y\tz\n1\t2\n");
    CHECK(ml::read_table_header(dir / "t.tsv").names() == std::vector<std::string>{"x y", "z"});

    gzip_to(k_titanic, dir / "titanic3.arff.gz");
    gzip_to(k_titanic, dir / "titanic_no_suffix");
    for (const std::string name : {"titanic3.arff.gz", "titanic_no_suffix"}) {
        CAPTURE(name);
        const ml::TableHeader h = ml::read_table_header(dir / name);
        CHECK(h.format == "arff");
        CHECK(h.gzip);
        REQUIRE(h.columns.size() == 14);
        CHECK(h.columns[1].name == "survived");
        CHECK(h.columns[1].levels == std::vector<std::string>{"0", "1"});
        CHECK(h.columns[2].levels.empty()); // name: string
        CHECK(h.columns[3].levels == std::vector<std::string>{"female", "male"});
        CHECK(h.columns[13].name == "home.dest");
    }
    CHECK(ml::read_table_header(k_titanic).names() == ml::read_table_header(dir / "titanic3.arff.gz").names());

    write_text(dir / "book.xlsx", "PK\x03\x04 rest");
    CHECK(error_of([&] { ml::read_table_header(dir / "book.xlsx"); }).find("not a CSV, TSV or ARFF table")
          != std::string::npos);
    write_text(dir / "data.bin", std::string("ab\0cd", 5));
    CHECK(error_of([&] { ml::read_table_header(dir / "data.bin"); }).find("binary data") != std::string::npos);
    write_text(dir / "empty.csv", "");
    CHECK(error_of([&] { ml::read_table_header(dir / "empty.csv"); }).find("empty table") != std::string::npos);
    write_text(dir / "nodata.arff", "@relation r\n@attribute a numeric\n");
    CHECK(error_of([&] { ml::read_table_header(dir / "nodata.arff"); }).find("no @data section") != std::string::npos);
}

TEST_CASE("preflight: wrong target, missing column, missing or unreadable file, unknown format exit 2, nothing written")
{
    TempDir dir;
    seed_store(dir);
    fs::copy_file(k_titanic, dir / "titanic3.arff");
    write_text(dir / "people.csv", "Name,Age,Class\nann,3,a\nbob,4,b\n");
    const auto file = [&](const std::string& data, const std::string& params) {
        return write_pipeline(dir, pipeline_on(data, params));
    };

    check_refused(dir, {file("people.csv", "data.target: class")},
                  {R"(step "prep": target "class" is not a column of people.csv; did you mean "Class"?)"});
    check_refused(dir, {file("titanic3.arff", "data.target: survivd")},
                  {R"(target "survivd" is not a column of titanic3.arff; did you mean "survived"?)"});
    check_refused(dir, {file("titanic3.arff", "data.target: survived, data.drop: [boat, bdy]")},
                  {R"(data.drop "bdy" is not a column of titanic3.arff; did you mean "body"?)"});
    check_refused(dir, {file("titanic3.arff", "data.target: survived, data.id_column: zzzzzzzz")},
                  {R"(data.id_column "zzzzzzzz" is not a column of titanic3.arff; its columns: pclass, survived)"});
    check_refused(dir, {file("titanic3.arff", "data.target: survived, data.positive_class: maybe")},
                  {R"(data.positive_class "maybe" is not a class of target "survived")", "its classes: 0, 1"});
    check_refused(dir, {file("titanic.arff", "data.target: survived")},
                  {R"(data.path "titanic.arff": no such file or folder)", R"(did you mean "titanic3.arff"?)"});
    // Unreadable: gzip magic, then garbage.
    write_text(dir / "broken.csv.gz", std::string("\x1f\x8b\x08\x00garbage-garbage-garbage", 27));
    check_refused(dir, {file("broken.csv.gz", "data.target: Class")}, {"broken.csv.gz: corrupt gzip data"});
    write_text(dir / "sheet.xlsx", "PK\x03\x04...");
    check_refused(dir, {file("sheet.xlsx", "data.target: Class")},
                  {"sheet.xlsx: not a CSV, TSV or ARFF table", "optionally gzip-compressed"});
    check_refused(dir, {file("people.csv", "data.target: \"\"")}, {"data.target is not set", "Name, Age, Class"});
    // The same through --set, on a dry run, and before an agent run makes its datasets.
    const std::string good = file("people.csv", "data.target: Class");
    check_refused(dir, {good, "--set", "prep.data.target=Klass"}, {R"(did you mean "Class"?)"});
    check_refused(dir, {good, "--dry-run", "--set", "prep.data.numeric=[age]"},
                  {R"(data.numeric "age" is not a column of people.csv; did you mean "Age"?)"});
    REQUIRE(run_cli(dir, {"queue", "create", "cpu"}).code == 0);
    check_refused(dir, {good, "--queue", "cpu", "--set", "prep.data.drop=[nme]"}, {R"(did you mean "Name"?)"});
    // An inference step's own data is checked too (that it reads; it needs no target).
    write_text(dir / "new_people.csv", "Name,Age\ncy,5\n");
    const std::string with_inference = pipeline_on("people.csv", "data.target: Class")
                                       + "  - name: score\n    template: inference\n    parents: [train]\n"
                                         "    params: {data.path: new_peple.csv}\n";
    check_refused(
        dir, {write_pipeline(dir, with_inference, "inf.yaml")},
        {R"(step "score": data.path "new_peple.csv": no such file or folder)", R"(did you mean "new_people.csv"?)"});
    // An image folder needs class subfolders.
    fs::create_directories(dir / "images");
    check_refused(dir, {file("images", "data.target: y")}, {"no table file and no class subfolders"});
}

TEST_CASE("preflight: good data passes, gzip included, and a param error is still reported first")
{
    TempDir dir;
    seed_store(dir);
    write_text(dir / "people.csv", "Name,Age,Class\nann,3,a\nbob,4,b\n");
    gzip_to(dir / "people.csv", dir / "people.csv.gz");
    for (const char* data : {"people.csv", "people.csv.gz"}) {
        CAPTURE(data);
        const std::string f = write_pipeline(dir, pipeline_on(data, "data.target: Class, data.drop: [Name]"));
        const RunResult r = run_cli(dir, {"pipeline", "run", f, "--dry-run"});
        CAPTURE(r.err);
        CHECK(r.code == 0);
    }
    // A dataset version of the .gz file: its one table is found and checked in the store.
    const RunResult ds = run_cli(dir, {"dataset", "create", "--name", "people", "people.csv.gz"});
    REQUIRE(ds.code == 0);
    const std::string id = trim(ds.out);
    const std::string by_id = write_pipeline(
        dir,
        "name: by_id\nsteps:\n  - name: prep\n    template: preprocess\n    params: {data.dataset_id: " + id
            + ", data.target: Class}\n",
        "by_id.yaml");
    const RunResult dry = run_cli(dir, {"pipeline", "run", by_id, "--dry-run"});
    CAPTURE(dry.err);
    CHECK(dry.code == 0);
    const RunResult wrong = run_cli(dir, {"pipeline", "run", by_id, "--set", "prep.data.target=age"});
    CHECK(wrong.code == 2);
    CHECK(wrong.err.find(R"(target "age" is not a column of people.csv.gz; did you mean "Age"?)") != std::string::npos);
    // The engine's param checks come before the data's: the same message as without data.
    const std::string f = write_pipeline(dir, pipeline_on("missing.csv", "data.target: y"));
    const RunResult r = run_cli(dir, {"pipeline", "run", f, "--set", "prep.split.train=1.5"});
    CHECK(r.code == 2);
    CHECK(r.err.find(R"(param "split.train": expected a number in 0..1, found 1.5)") != std::string::npos);
}
