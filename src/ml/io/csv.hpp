#pragma once
// The one CSV reader and writer (RFC 4180), built on libcsv. Readers of tables, image
// lists and prediction files go through read_csv; every CSV the tool writes goes through
// write_csv_row. No libcsv type appears here.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrun::ml {

// One field as read: quoted tells "?" (a missing value) from "\"?\"" (the text ?).
struct CsvField {
    std::string text;
    bool quoted = false;
};

// One record; line is the 1-based line where it starts (a quoted field may span lines).
struct CsvRow {
    std::vector<CsvField> fields;
    std::size_t line = 0;
};

struct CsvOptions {
    char delimiter = ',';
    std::size_t max_rows = 0; // stop after this many records; 0 = all
};

// Reads records from text: quotes doubled inside quoted fields, which may hold the
// delimiter, quotes and newlines; LF or CRLF line ends; a leading UTF-8 byte order mark
// dropped; blank lines skipped; unquoted fields trimmed of surrounding spaces and tabs; a
// quote inside an unquoted field kept as text. on_row is called once per record in order
// and returns false to stop early. Throws UsageError "<source>:<line>: <what>" for an
// unterminated quoted field or a character other than the delimiter after a closing quote.
void read_csv(std::string_view text, const std::string& source, const std::function<bool(CsvRow&&)>& on_row,
              const CsvOptions& options = {});

// All records of text (see the streaming form for the rules and errors).
std::vector<CsvRow> read_csv(std::string_view text, const std::string& source, const CsvOptions& options = {});

// All records of the file at path, named by its path in errors; UsageError when unreadable.
std::vector<CsvRow> read_csv_file(const std::filesystem::path& path, const CsvOptions& options = {});

// One field for a CSV file: as is, or quoted (quotes doubled) when it holds a comma, a
// quote, CR or LF, or starts or ends with a space or tab (read_csv trims those).
std::string csv_escape_field(std::string_view text);

// Appends fields to out as one record: escaped, comma-separated, ended by LF.
void write_csv_row(std::string& out, const std::vector<std::string>& fields);

} // namespace mlrun::ml
