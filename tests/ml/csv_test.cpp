// The one CSV reader and writer (ml/io/csv): quoting, line numbers, errors, round trips.
#include "core/error.hpp"
#include "ml/io/csv.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace mlrun;
using namespace mlrun::ml;

namespace {

std::vector<std::string> texts(const CsvRow& row)
{
    std::vector<std::string> out;
    for (const CsvField& f : row.fields) {
        out.push_back(f.text);
    }
    return out;
}

std::string error_of(const std::string& text, const CsvOptions& options = {})
{
    try {
        read_csv(text, "t.csv", options);
    } catch (const UsageError& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("read_csv: quoting, CRLF, BOM, blank lines and the line each record starts on")
{
    const auto rows = read_csv("\xEF\xBB\xBFid,name\r\n"
                               "\r\n"
                               "1,\"two\r\nlines, \"\"quoted\"\"\"\r\n"
                               "   \n"
                               " 2 ,  \"padded\"  \r\n"
                               "3,\"?\",?",
                               "t.csv");
    REQUIRE(rows.size() == 4);
    CHECK(texts(rows[0]) == std::vector<std::string>{"id", "name"});
    CHECK(rows[0].line == 1);
    CHECK(texts(rows[1]) == std::vector<std::string>{"1", "two\r\nlines, \"quoted\""});
    CHECK(rows[1].line == 3);
    CHECK(rows[1].fields[1].quoted);
    CHECK_FALSE(rows[1].fields[0].quoted);
    CHECK(texts(rows[2]) == std::vector<std::string>{"2", "padded"});
    CHECK(rows[2].line == 6);
    // No final newline; a quoted ? is text, an unquoted one is not quoted.
    CHECK(texts(rows[3]) == std::vector<std::string>{"3", "?", "?"});
    CHECK(rows[3].line == 7);
    CHECK(rows[3].fields[1].quoted);
    CHECK_FALSE(rows[3].fields[2].quoted);
}

TEST_CASE("read_csv: empty fields, a quote inside an unquoted field, tab-separated text")
{
    const auto rows = read_csv(",\n5'10\",x\n", "t.csv");
    REQUIRE(rows.size() == 2);
    CHECK(texts(rows[0]) == std::vector<std::string>{"", ""});
    CHECK(texts(rows[1]) == std::vector<std::string>{"5'10\"", "x"});
    CsvOptions tsv;
    tsv.delimiter = '\t';
    const auto tabbed = read_csv("a\t\tb c\n\t\"x\ty\"\t\n", "t.tsv", tsv);
    REQUIRE(tabbed.size() == 2);
    CHECK(texts(tabbed[0]) == std::vector<std::string>{"a", "", "b c"});
    CHECK(texts(tabbed[1]) == std::vector<std::string>{"", "x\ty", ""});
}

TEST_CASE("read_csv: errors name the line; max_rows and the callback stop early")
{
    // The quote opens on line 3, inside a record that starts on line 2.
    CHECK(error_of("a,b\n\"x\ny\",\"open\n\n") == "t.csv:3: unterminated quoted field");
    CHECK(error_of("a,b\n1,\"x\" y\n") == "t.csv:2: unexpected character 'y' after a closing quote");
    CHECK(error_of("a\n\"x\"\"\" \"\n") == "t.csv:2: unexpected character '\"' after a closing quote");
    CsvOptions two;
    two.max_rows = 2;
    CHECK(read_csv("a\nb\nc\n\"open", "t.csv", two).size() == 2); // never reads the bad tail
    std::size_t seen = 0;
    read_csv("a\nb\nc\n", "t.csv", [&](CsvRow&& row) { return ++seen < 2 && !row.fields.empty(); });
    CHECK(seen == 2);
}

TEST_CASE("write_csv_row: fields read back as written")
{
    const std::vector<std::string> fields{"plain", "a,b", "say \"hi\"", "two\nlines", "cr\r", " padded ", "", "1e-05"};
    std::string out;
    write_csv_row(out, fields);
    write_csv_row(out, {"x"});
    CHECK(out.rfind("plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",", 0) == 0);
    CHECK(csv_escape_field("1e-05") == "1e-05");
    CHECK(csv_escape_field(" padded ") == "\" padded \"");
    const auto rows = read_csv(out, "w.csv");
    REQUIRE(rows.size() == 2);
    CHECK(texts(rows[0]) == fields);
    CHECK(texts(rows[1]) == std::vector<std::string>{"x"});
    CHECK(rows[1].line == 3);
}
