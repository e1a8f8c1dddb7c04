#pragma once
// The header of a table file without its rows: the column names of a CSV/TSV's first record
// or an ARFF's @attribute lines (with nominal levels), plain or gzip-compressed. For checks
// that must not read a whole table (the pipeline preflight, src/app/data_preflight.hpp).
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mlrun::ml {

struct HeaderColumn {
    std::string name;
    std::vector<std::string> levels; // ARFF nominal levels; empty for CSV and other ARFF types
};

struct TableHeader {
    std::string format; // "csv", "tsv" or "arff"
    bool gzip = false;
    std::vector<HeaderColumn> columns;

    std::vector<std::string> names() const;
    // nullptr when absent.
    const HeaderColumn* find(std::string_view name) const;
};

// How a table file is read: ".arff" -> "arff", ".tsv" -> "tsv", ".csv" -> "csv" (one ".gz"
// set aside); another name by its first bytes (inflated when gzip): "@" or "%" -> "arff",
// else "csv". UsageError "<path>: not a CSV, TSV or ARFF table (...)" for a name or content
// of a known non-table format (JSON, Excel, Parquet, zip, bzip2, xz, zstd, binary data).
std::string table_format(const std::filesystem::path& path);

// The header of the table at path. header: 1 = the first CSV record names the columns, 0 =
// it is data (columns "column_1".."column_N"), -1 = detect as the table reader does (a header
// when no field is a number). Reads only as far as the header ends. UsageError naming the
// path when it is unreadable, empty, of an unknown format, or its header is malformed.
TableHeader read_table_header(const std::filesystem::path& path, int header = -1);

// Parses a number the way the table does: the whole text (trimmed), decimal, finite. False
// otherwise (hex, "inf" and "nan" are text).
bool parse_number(std::string_view text, double& out);

// One ARFF name or nominal level taken off the front of s (s is advanced past it): quoted
// with ' or " (backslash escapes), or up to whitespace, ',', '{' or '}'. "" when s is blank.
std::string take_arff_token(std::string_view& s);

} // namespace mlrun::ml
