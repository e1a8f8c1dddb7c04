#pragma once
// Tables read from CSV or ARFF files: cells kept as text with a missing flag, column types
// inferred (numeric when every present cell is a number, so a column of numbers and NA /
// nan / inf stays numeric) and overridable. Every malformed
// input throws UsageError naming the file (and the 1-based line where there is one).
#include "ml/io/table_header.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrun::ml {

enum class ColumnType { numeric, categorical };

const char* to_string(ColumnType type);

struct Column {
    std::string name;
    ColumnType type = ColumnType::categorical;
    std::vector<std::string> text; // cell text as read, unquoted ("" when missing)
    // 1 where the cell is missing: empty or "?"; in CSV also NA, N/A, n/a, #N/A, NULL, null,
    // NaN, nan, NAN, <NA> and the infinities (inf, -inf, Infinity, any case), unless quoted.
    std::vector<char> missing;
    // How many cells as read were an infinity (counted in `missing`: a feature has no use
    // for one; the preprocess log says how many); not kept by select_rows.
    std::size_t infinite = 0;
    std::vector<std::string> levels; // ARFF nominal levels when declared
    bool declared = false;           // type declared by an ARFF header (not inferred)

    // The cell as a number; NaN when missing or not a number.
    double number(std::size_t row) const;
    std::size_t missing_count() const;
};

struct Table {
    std::string source; // file name used in messages
    std::vector<Column> columns;

    std::size_t rows() const { return columns.empty() ? 0 : columns.front().text.size(); }
    // -1 when absent.
    int index_of(std::string_view name) const;
    // UsageError "<source>: no column 'x' (columns: a, b, c)" when absent; `role` names
    // why it was needed ("target column").
    const Column& column(std::string_view name, std::string_view role = "column") const;
    Column& column(std::string_view name, std::string_view role = "column");
    std::vector<std::string> names() const;
    // Keeps only the given rows, in that order.
    Table select_rows(const std::vector<std::size_t>& rows) const;
};

struct ReadOptions {
    std::size_t limit = 0; // first N data rows; 0 = all
    int header = -1;       // CSV: 1 = first row is a header, 0 = none, -1 = detect
    char delimiter = ',';  // CSV
};

// parse_number (the one number rule of tables and their headers) is in ml/io/table_header.hpp.

// CSV (RFC 4180 quoting, "" inside quotes, newlines inside quotes). A header is detected
// when no field of the first record is a number. Columns are typed by infer_types.
Table parse_csv(std::string_view text, const std::string& source, const ReadOptions& options = {});
// ARFF: @relation/@attribute/@data, % comments, ' or " quoted names and values,
// nominal {a,b} and string attributes are categorical, numeric/real/integer numeric.
Table parse_arff(std::string_view text, const std::string& source, const ReadOptions& options = {});
// By table_format (ml/io/table_header.hpp): .arff -> ARFF, .tsv -> TSV, else CSV, a ".gz"
// aside; gzip content (magic bytes 1f 8b, any name) is inflated first. UsageError when
// unreadable, of a known non-table format, corrupt gzip, or empty.
Table read_table(const std::filesystem::path& path, const ReadOptions& options = {});

// Numeric when every present cell parses as a number (and the type was not declared).
void infer_types(Table& table);
// User override; UsageError naming the column when absent, or when a numeric override
// meets a cell that is not a number (with its 1-based data row).
void set_type(Table& table, std::string_view name, ColumnType type);

// Resolves a user path: as given (relative to the current directory) when it exists,
// else relative to base_dir when that is set. UsageError naming both when neither exists.
std::filesystem::path resolve_data_path(const std::string& path, const std::string& base_dir);
// In a dataset folder: the one table file (.csv/.arff/.tsv, or one of them + .gz) at its top, or `file` when
// given. UsageError when there are none or several.
std::filesystem::path find_table_file(const std::filesystem::path& folder, const std::string& file = "");
bool is_table_file(const std::filesystem::path& path);

// Where a task's data is and how to read it.
struct DataSource {
    std::filesystem::path path;
    std::string format; // table | folder (a folder per class) | list (path,label file) | grid
};
// From params `data` ({path, dataset_id, file, format, grid}): dataset_id -> the dataset
// folder (via fetch_dataset), data.path relative to it or to base_dir; the format from
// data.format, else data.grid -> grid, a folder without a table -> folder, else table.
// UsageError when neither path nor dataset_id is set, or the format is unknown.
DataSource resolve_data_source(const nlohmann::json& data, const std::string& base_dir,
                               const std::function<std::filesystem::path(const std::string&)>& fetch_dataset);

} // namespace mlrun::ml
