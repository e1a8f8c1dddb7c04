#include "ml/table.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "ml/io/csv.hpp"
#include "ml/io/table_header.hpp"
#include "ml/io/text_file.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <limits>

namespace mlrun::ml {

namespace {

// CSV records come from the one CSV reader; ARFF data lines are parsed into the same shape.
using Field = CsvField;
using Record = CsvRow;

bool is_missing(const Field& f)
{
    return f.text.empty() || (!f.quoted && f.text == "?");
}

// The spellings CSV writers use for a missing value (pandas' and R's, case as they write
// them: "Na" stays text). Quoted, they are text, as "?" is.
bool is_missing_spelling(std::string_view text)
{
    static const char* const k_spellings[] = {"NA",  "N/A", "n/a",  "#N/A", "NULL", "null",
                                              "NaN", "nan", "-NaN", "-nan", "NAN",  "<NA>"};
    return std::find(std::begin(k_spellings), std::end(k_spellings), text) != std::end(k_spellings);
}

// inf, -inf, +inf, Infinity (any case): a number, but not a finite one.
bool is_infinity_spelling(std::string_view text)
{
    if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
        text.remove_prefix(1);
    }
    const std::string l = ascii_lower(text);
    return l == "inf" || l == "infinity";
}

std::string where(const std::string& source, std::size_t line)
{
    return source + ":" + std::to_string(line);
}

// One ARFF data line: ' or " quotes with backslash escapes; fields trimmed.
Record parse_arff_line(std::string_view line_text, const std::string& source, std::size_t line)
{
    Record rec;
    rec.line = line;
    std::size_t i = 0;
    const std::size_t n = line_text.size();
    for (;;) {
        while (i < n && (line_text[i] == ' ' || line_text[i] == '\t')) {
            ++i;
        }
        Field field;
        if (i < n && (line_text[i] == '\'' || line_text[i] == '"')) {
            const char q = line_text[i++];
            field.quoted = true;
            bool closed = false;
            while (i < n) {
                const char c = line_text[i];
                if (c == '\\' && i + 1 < n) {
                    field.text += line_text[i + 1];
                    i += 2;
                    continue;
                }
                if (c == q) {
                    closed = true;
                    ++i;
                    break;
                }
                field.text += c;
                ++i;
            }
            if (!closed) {
                throw UsageError(where(source, line) + ": unterminated quoted value");
            }
            while (i < n && (line_text[i] == ' ' || line_text[i] == '\t' || line_text[i] == '\r')) {
                ++i;
            }
            if (i < n && line_text[i] != ',') {
                throw UsageError(where(source, line) + ": unexpected character '" + std::string(1, line_text[i])
                                 + "' after a closing quote");
            }
        } else {
            const std::size_t start = i;
            while (i < n && line_text[i] != ',') {
                ++i;
            }
            field.text = std::string(trim_blanks(line_text.substr(start, i - start)));
        }
        rec.fields.push_back(std::move(field));
        if (i < n && line_text[i] == ',') {
            ++i;
            continue;
        }
        break;
    }
    return rec;
}

// An ARFF name or nominal level: quoted with ' or ", or up to whitespace / ',' / '}'.
std::string take_token(std::string_view& s)
{
    return take_arff_token(s);
}

// csv: the CSV spellings of a missing value and of an infinity are missing too (ARFF has "?").
void add_record(Table& table, const Record& rec, bool csv = false)
{
    if (rec.fields.size() != table.columns.size()) {
        throw UsageError(where(table.source, rec.line) + ": expected " + std::to_string(table.columns.size())
                         + " fields, found " + std::to_string(rec.fields.size()));
    }
    for (std::size_t c = 0; c < rec.fields.size(); ++c) {
        Column& col = table.columns[c];
        const Field& f = rec.fields[c];
        bool miss = is_missing(f);
        if (!miss && csv && !f.quoted) {
            if (is_infinity_spelling(f.text)) {
                miss = true;
                ++col.infinite;
            } else {
                miss = is_missing_spelling(f.text);
            }
        }
        col.text.push_back(miss ? std::string() : f.text);
        col.missing.push_back(miss ? 1 : 0);
    }
}

void check_not_empty(const Table& table)
{
    if (table.columns.empty()) {
        throw UsageError(table.source + ": empty table (no columns)");
    }
    if (table.rows() == 0) {
        throw UsageError(table.source + ": empty table (no data rows)");
    }
}

void check_unique_names(const Table& table, std::size_t line)
{
    for (std::size_t a = 0; a < table.columns.size(); ++a) {
        for (std::size_t b = a + 1; b < table.columns.size(); ++b) {
            if (table.columns[a].name == table.columns[b].name) {
                throw UsageError(where(table.source, line) + ": duplicate column name '" + table.columns[a].name + "'");
            }
        }
    }
}

} // namespace

const char* to_string(ColumnType type)
{
    return type == ColumnType::numeric ? "numeric" : "categorical";
}

double Column::number(std::size_t row) const
{
    double v = 0;
    if (missing[row] || !parse_number(text[row], v)) {
        return std::numeric_limits<double>::quiet_NaN();
    }
    return v;
}

std::size_t Column::missing_count() const
{
    return static_cast<std::size_t>(std::count(missing.begin(), missing.end(), 1));
}

int Table::index_of(std::string_view name) const
{
    for (std::size_t i = 0; i < columns.size(); ++i) {
        if (columns[i].name == name) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

std::vector<std::string> Table::names() const
{
    std::vector<std::string> out;
    for (const Column& c : columns) {
        out.push_back(c.name);
    }
    return out;
}

const Column& Table::column(std::string_view name, std::string_view role) const
{
    const int i = index_of(name);
    if (i < 0) {
        std::string list;
        for (const Column& c : columns) {
            list += (list.empty() ? "" : ", ") + c.name;
        }
        throw UsageError(source + ": no " + std::string(role) + " '" + std::string(name) + "' (columns: " + list + ")");
    }
    return columns[static_cast<std::size_t>(i)];
}

Column& Table::column(std::string_view name, std::string_view role)
{
    return const_cast<Column&>(static_cast<const Table&>(*this).column(name, role));
}

Table Table::select_rows(const std::vector<std::size_t>& rows) const
{
    Table out;
    out.source = source;
    for (const Column& c : columns) {
        Column nc;
        nc.name = c.name;
        nc.type = c.type;
        nc.levels = c.levels;
        nc.declared = c.declared;
        nc.text.reserve(rows.size());
        nc.missing.reserve(rows.size());
        for (std::size_t r : rows) {
            nc.text.push_back(c.text[r]);
            nc.missing.push_back(c.missing[r]);
        }
        out.columns.push_back(std::move(nc));
    }
    return out;
}

Table parse_csv(std::string_view text, const std::string& source, const ReadOptions& options)
{
    CsvOptions csv;
    csv.delimiter = options.delimiter;
    csv.max_rows = options.limit == 0 ? 0 : options.limit + 1;
    std::vector<Record> records = read_csv(text, source, csv);
    Table table;
    table.source = source;
    if (records.empty()) {
        throw UsageError(source + ": empty table (no rows)");
    }
    bool header = options.header == 1;
    if (options.header < 0) {
        header = true;
        for (const Field& f : records.front().fields) {
            double v = 0;
            if (parse_number(f.text, v)) {
                header = false;
            }
        }
    }
    const Record& first = records.front();
    for (std::size_t c = 0; c < first.fields.size(); ++c) {
        Column col;
        col.name = header && !first.fields[c].text.empty() ? first.fields[c].text : "column_" + std::to_string(c + 1);
        table.columns.push_back(std::move(col));
    }
    check_unique_names(table, first.line);
    std::size_t taken = 0;
    for (std::size_t r = header ? 1 : 0; r < records.size(); ++r) {
        if (options.limit != 0 && taken == options.limit) {
            break;
        }
        add_record(table, records[r], true);
        ++taken;
    }
    check_not_empty(table);
    infer_types(table);
    return table;
}

Table parse_arff(std::string_view text, const std::string& source, const ReadOptions& options)
{
    Table table;
    table.source = source;
    bool in_data = false;
    std::size_t line = 0;
    std::size_t pos = 0;
    std::size_t taken = 0;
    while (pos <= text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        const std::string_view raw = text.substr(pos, end - pos);
        pos = end + 1;
        ++line;
        std::string_view s = trim_blanks(raw);
        if (s.empty() || s.front() == '%') {
            if (end == text.size()) {
                break;
            }
            continue;
        }
        if (!in_data) {
            if (s.front() != '@') {
                throw UsageError(where(source, line) + ": expected @relation, @attribute or @data");
            }
            std::string_view rest = s.substr(1);
            const std::string keyword = ascii_lower(take_token(rest));
            if (keyword == "relation") {
                // name only
            } else if (keyword == "attribute") {
                Column col;
                col.name = take_token(rest);
                if (col.name.empty()) {
                    throw UsageError(where(source, line) + ": @attribute without a name");
                }
                rest = trim_blanks(rest);
                col.declared = true;
                if (!rest.empty() && rest.front() == '{') {
                    rest.remove_prefix(1);
                    col.type = ColumnType::categorical;
                    for (;;) {
                        std::string level = take_token(rest);
                        rest = trim_blanks(rest);
                        if (!level.empty()) {
                            col.levels.push_back(level);
                        }
                        if (!rest.empty() && rest.front() == ',') {
                            rest.remove_prefix(1);
                            continue;
                        }
                        if (!rest.empty() && rest.front() == '}') {
                            break;
                        }
                        throw UsageError(where(source, line) + ": unterminated nominal type of '" + col.name + "'");
                    }
                } else {
                    const std::string type = ascii_lower(take_token(rest));
                    if (type == "numeric" || type == "real" || type == "integer") {
                        col.type = ColumnType::numeric;
                    } else if (type == "string" || type == "date") {
                        col.type = ColumnType::categorical;
                    } else {
                        throw UsageError(where(source, line) + ": unknown type '" + type + "' of attribute '" + col.name
                                         + "' (expected numeric, real, integer, string, date or {levels})");
                    }
                }
                table.columns.push_back(std::move(col));
            } else if (keyword == "data") {
                if (table.columns.empty()) {
                    throw UsageError(where(source, line) + ": @data before any @attribute");
                }
                check_unique_names(table, line);
                in_data = true;
            } else {
                throw UsageError(where(source, line) + ": unknown ARFF keyword '@" + keyword + "'");
            }
        } else {
            if (options.limit != 0 && taken == options.limit) {
                break;
            }
            if (s.front() == '{') {
                throw UsageError(where(source, line) + ": sparse ARFF rows are not supported");
            }
            add_record(table, parse_arff_line(s, source, line));
            ++taken;
        }
        if (end == text.size()) {
            break;
        }
    }
    if (!in_data) {
        throw UsageError(source + ": no @data section (not an ARFF file?)");
    }
    check_not_empty(table);
    // Declared numeric columns must hold numbers.
    for (const Column& col : table.columns) {
        if (col.type != ColumnType::numeric) {
            continue;
        }
        for (std::size_t r = 0; r < col.text.size(); ++r) {
            double v = 0;
            if (!col.missing[r] && !parse_number(col.text[r], v)) {
                throw UsageError(source + ": numeric attribute '" + col.name + "' has '" + col.text[r]
                                 + "' in data row " + std::to_string(r + 1));
            }
        }
    }
    return table;
}

Table read_table(const std::filesystem::path& path, const ReadOptions& options)
{
    if (std::filesystem::is_directory(path)) {
        throw UsageError(path.string() + ": is a folder, not a table file");
    }
    // gzip (by its magic bytes, whatever the name) is inflated here, below the parsers.
    const std::string format = table_format(path);
    const std::string text = read_text_file(path);
    if (format == "arff") {
        return parse_arff(text, path.string(), options);
    }
    ReadOptions opts = options;
    if (format == "tsv") {
        opts.delimiter = '\t';
    }
    return parse_csv(text, path.string(), opts);
}

void infer_types(Table& table)
{
    for (Column& col : table.columns) {
        if (col.declared) {
            continue;
        }
        bool numeric = true;
        bool any = false;
        for (std::size_t r = 0; r < col.text.size() && numeric; ++r) {
            if (col.missing[r]) {
                continue;
            }
            any = true;
            double v = 0;
            numeric = parse_number(col.text[r], v);
        }
        col.type = numeric && any ? ColumnType::numeric : ColumnType::categorical;
    }
}

void set_type(Table& table, std::string_view name, ColumnType type)
{
    Column& col = table.column(name, type == ColumnType::numeric ? "numeric column" : "categorical column");
    if (type == ColumnType::numeric) {
        for (std::size_t r = 0; r < col.text.size(); ++r) {
            double v = 0;
            if (!col.missing[r] && !parse_number(col.text[r], v)) {
                throw UsageError(table.source + ": column '" + col.name + "' is declared numeric but data row "
                                 + std::to_string(r + 1) + " holds '" + col.text[r] + "'");
            }
        }
    }
    col.type = type;
    col.declared = true;
}

std::filesystem::path resolve_data_path(const std::string& path, const std::string& base_dir)
{
    if (path.empty()) {
        throw UsageError("data.path is empty");
    }
    std::filesystem::path p(path);
    if (std::filesystem::exists(p)) {
        return p;
    }
    if (!base_dir.empty() && p.is_relative()) {
        std::filesystem::path q = std::filesystem::path(base_dir) / p;
        if (std::filesystem::exists(q)) {
            return q;
        }
        throw UsageError("data.path '" + path + "': no such file (also tried " + q.string() + ")");
    }
    throw UsageError("data.path '" + path + "': no such file");
}

bool is_table_file(const std::filesystem::path& path)
{
    const std::string ext = table_extension(path); // "t.csv.gz" -> ".csv"
    return ext == ".csv" || ext == ".arff" || ext == ".tsv";
}

std::filesystem::path find_table_file(const std::filesystem::path& folder, const std::string& file)
{
    if (!file.empty()) {
        std::filesystem::path p = folder / file;
        if (!std::filesystem::is_regular_file(p)) {
            throw UsageError(folder.string() + ": no file '" + file + "'");
        }
        return p;
    }
    std::vector<std::filesystem::path> found;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
        if (entry.is_regular_file() && is_table_file(entry.path())) {
            found.push_back(entry.path());
        }
    }
    std::sort(found.begin(), found.end());
    if (found.empty()) {
        throw UsageError(folder.string() + ": no .csv, .tsv or .arff table (or .gz of one) in it");
    }
    if (found.size() > 1) {
        std::string list;
        for (const auto& p : found) {
            list += (list.empty() ? "" : ", ") + p.filename().string();
        }
        throw UsageError(folder.string() + ": several tables (" + list + "); pick one with data.file");
    }
    return found.front();
}

DataSource resolve_data_source(const nlohmann::json& data, const std::string& base_dir,
                               const std::function<std::filesystem::path(const std::string&)>& fetch_dataset)
{
    if (!data.is_object()) {
        throw UsageError("params.data: expected an object with path or dataset_id");
    }
    auto text = [&](const char* key) {
        const auto it = data.find(key);
        if (it == data.end() || it->is_null()) {
            return std::string();
        }
        if (!it->is_string()) {
            throw UsageError(std::string("params.data.") + key + ": expected a string");
        }
        return it->get<std::string>();
    };
    const std::string dataset_id = text("dataset_id");
    const std::string path = text("path");
    const std::string file = text("file");
    DataSource src;
    if (!dataset_id.empty()) {
        const std::filesystem::path folder = fetch_dataset(dataset_id);
        src.path = path.empty() ? folder : folder / path;
        if (!std::filesystem::exists(src.path)) {
            throw UsageError("dataset " + dataset_id + ": no '" + path + "' in it");
        }
    } else if (!path.empty()) {
        src.path = resolve_data_path(path, base_dir);
    } else {
        throw UsageError("params.data: set data.path or data.dataset_id");
    }
    src.format = text("format");
    const bool has_grid = data.contains("grid") && data["grid"].is_object();
    if (src.format.empty()) {
        if (has_grid) {
            src.format = "grid";
        } else if (std::filesystem::is_directory(src.path)) {
            bool has_table = !file.empty();
            for (const auto& entry : std::filesystem::directory_iterator(src.path)) {
                has_table = has_table || (entry.is_regular_file() && is_table_file(entry.path()));
            }
            src.format = has_table ? "table" : "folder";
        } else {
            std::string ext = src.path.extension().string();
            std::transform(ext.begin(), ext.end(), ext.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp") {
                throw UsageError(src.path.string()
                                 + ": an image file needs data.grid {cell, classes} to be cut into samples");
            }
            src.format = ext == ".lst" ? "list" : "table";
        }
    }
    if (src.format != "table" && src.format != "folder" && src.format != "list" && src.format != "grid") {
        throw UsageError("params.data.format: '" + src.format + "' is not one of table, folder, list, grid");
    }
    if (src.format == "table" && std::filesystem::is_directory(src.path)) {
        src.path = find_table_file(src.path, file);
    }
    return src;
}

} // namespace mlrun::ml
