#include "ml/io/table_header.hpp"
#include "core/util.hpp"

#include "core/error.hpp"
#include "ml/io/csv.hpp"
#include "ml/io/text_file.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>

namespace mlrun::ml {

namespace {

// A CSV header larger than this is refused rather than read on and on (a binary file).
constexpr std::size_t k_max_header_bytes = 16 * 1024 * 1024;

std::string not_a_table(const std::filesystem::path& path, const std::string& what)
{
    return path.string() + ": not a CSV, TSV or ARFF table (" + what
           + "); expected .csv, .tsv or .arff, optionally gzip-compressed (.gz)";
}

// The kind of a known non-table file from its first bytes (inflated), "" when none.
std::string binary_kind(std::string_view head)
{
    const auto starts = [&](std::string_view magic) { return head.substr(0, magic.size()) == magic; };
    if (starts("PK\x03\x04")) {
        return "a zip archive (Excel .xlsx?)";
    }
    if (starts("PAR1")) {
        return "Parquet data";
    }
    if (starts("BZh")) {
        return "bzip2-compressed";
    }
    if (starts(std::string_view("\xFD"
                                "7zXZ",
                                5))) {
        return "xz-compressed";
    }
    if (starts("\x28\xB5\x2F\xFD")) {
        return "zstd-compressed";
    }
    if (starts(std::string_view("\xD0\xCF\x11\xE0", 4))) {
        return "an Excel .xls workbook";
    }
    if (starts("\x1f\x8b")) {
        return "gzip inside gzip";
    }
    if (head.find('\0') != std::string_view::npos) {
        return "binary data";
    }
    return "";
}

// The first bytes of the (inflated) text, enough to tell formats apart.
std::string head_of(const std::filesystem::path& path)
{
    std::string head;
    read_text_chunks(
        path,
        [&](std::string_view chunk) {
            head.append(chunk);
            return false;
        },
        4096);
    return head;
}

TableHeader arff_header(const std::filesystem::path& path)
{
    TableHeader h;
    h.format = "arff";
    const std::string source = path.string();
    std::string pending; // text after the last complete line
    std::size_t line = 0;
    bool done = false;
    const auto on_line = [&](std::string_view raw) {
        ++line;
        const std::string_view s = trim_blanks(raw);
        if (s.empty() || s.front() == '%') {
            return;
        }
        const std::string where = source + ":" + std::to_string(line);
        if (s.front() != '@') {
            throw UsageError(where + ": expected @relation, @attribute or @data");
        }
        std::string_view rest = s.substr(1);
        const std::string keyword = ascii_lower(take_arff_token(rest));
        if (keyword == "relation") {
            return;
        }
        if (keyword == "data") {
            if (h.columns.empty()) {
                throw UsageError(where + ": @data before any @attribute");
            }
            done = true;
            return;
        }
        if (keyword != "attribute") {
            throw UsageError(where + ": unknown ARFF keyword '@" + keyword + "'");
        }
        HeaderColumn col;
        col.name = take_arff_token(rest);
        if (col.name.empty()) {
            throw UsageError(where + ": @attribute without a name");
        }
        rest = trim_blanks(rest);
        if (!rest.empty() && rest.front() == '{') {
            rest.remove_prefix(1);
            for (;;) {
                std::string level = take_arff_token(rest);
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
                throw UsageError(where + ": unterminated nominal type of '" + col.name + "'");
            }
        } else {
            const std::string type = ascii_lower(take_arff_token(rest));
            if (type != "numeric" && type != "real" && type != "integer" && type != "string" && type != "date") {
                throw UsageError(where + ": unknown type '" + type + "' of attribute '" + col.name
                                 + "' (expected numeric, real, integer, string, date or {levels})");
            }
        }
        h.columns.push_back(std::move(col));
    };
    read_text_chunks(path, [&](std::string_view chunk) {
        pending.append(chunk);
        std::size_t pos = 0;
        for (std::size_t end = pending.find('\n'); end != std::string::npos && !done; end = pending.find('\n', pos)) {
            on_line(std::string_view(pending).substr(pos, end - pos));
            pos = end + 1;
        }
        pending.erase(0, pos);
        return !done;
    });
    if (!done && !pending.empty()) {
        on_line(pending);
    }
    if (!done) {
        throw UsageError(source + ": no @data section (not an ARFF file?)");
    }
    return h;
}

TableHeader csv_header(const std::filesystem::path& path, const std::string& format, int header)
{
    TableHeader h;
    h.format = format;
    const std::string source = path.string();
    CsvOptions options;
    options.delimiter = format == "tsv" ? '\t' : ',';
    // The first record is complete once a second one starts (or the text ends): a quoted
    // field may span lines, so a line end alone does not tell.
    options.max_rows = 2;
    std::string text;
    std::vector<CsvRow> rows;
    bool whole = true;
    read_text_chunks(path, [&](std::string_view chunk) {
        text.append(chunk);
        try {
            rows = read_csv(text, source, options);
        } catch (const UsageError&) {
            rows.clear(); // an open quoted field: read on
        }
        if (rows.size() >= 2 || text.size() > k_max_header_bytes) {
            whole = false;
            return false;
        }
        return true;
    });
    if (whole) {
        rows = read_csv(text, source, options); // the whole text: its errors are real
    }
    if (rows.empty()) {
        throw UsageError(source + ": empty table (no rows)");
    }
    const CsvRow& first = rows.front();
    bool named = header == 1;
    if (header < 0) {
        named = std::none_of(first.fields.begin(), first.fields.end(), [](const CsvField& f) {
            double v = 0;
            return parse_number(f.text, v);
        });
    }
    for (std::size_t c = 0; c < first.fields.size(); ++c) {
        HeaderColumn col;
        col.name = named && !first.fields[c].text.empty() ? first.fields[c].text : "column_" + std::to_string(c + 1);
        h.columns.push_back(std::move(col));
    }
    return h;
}

} // namespace

std::vector<std::string> TableHeader::names() const
{
    std::vector<std::string> out;
    for (const HeaderColumn& c : columns) {
        out.push_back(c.name);
    }
    return out;
}

const HeaderColumn* TableHeader::find(std::string_view name) const
{
    for (const HeaderColumn& c : columns) {
        if (c.name == name) {
            return &c;
        }
    }
    return nullptr;
}

std::string table_format(const std::filesystem::path& path)
{
    static const std::set<std::string> k_not_tables{".json", ".jsonl",  ".xlsx", ".xls", ".parquet", ".feather",
                                                    ".pkl",  ".pickle", ".npy",  ".npz", ".h5",      ".hdf5",
                                                    ".zip",  ".bz2",    ".xz",   ".zst", ".7z",      ".tar"};
    const std::string ext = table_extension(path);
    if (k_not_tables.count(ext) != 0) {
        throw UsageError(not_a_table(path, "a " + ext + " file"));
    }
    const std::string head = head_of(path);
    const std::string kind = binary_kind(head);
    if (!kind.empty()) {
        throw UsageError(not_a_table(path, kind));
    }
    if (ext == ".arff" || ext == ".tsv" || ext == ".csv") {
        return ext.substr(1);
    }
    const std::string_view start = trim_blanks(std::string_view(head).substr(0, head.find('\n')));
    return !start.empty() && (start.front() == '@' || start.front() == '%') ? "arff" : "csv";
}

TableHeader read_table_header(const std::filesystem::path& path, int header)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        throw UsageError(path.string() + ": is a folder, not a table file");
    }
    const std::string format = table_format(path);
    TableHeader h = format == "arff" ? arff_header(path) : csv_header(path, format, header);
    h.gzip = is_gzip_file(path);
    return h;
}

bool parse_number(std::string_view text, double& out)
{
    text = trim_blanks(text);
    if (text.empty() || text.size() > 64) {
        return false;
    }
    for (char c : text) {
        // strtod also takes hex, "inf" and "nan": those are not numbers in a table.
        if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' || c == 'e'
              || c == 'E')) {
            return false;
        }
    }
    const std::string copy(text);
    char* end = nullptr;
    const double v = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() + copy.size() || !std::isfinite(v)) {
        return false;
    }
    out = v;
    return true;
}

std::string take_arff_token(std::string_view& s)
{
    s = trim_blanks(s);
    if (s.empty()) {
        return {};
    }
    std::string out;
    if (s.front() == '\'' || s.front() == '"') {
        const char q = s.front();
        std::size_t i = 1;
        while (i < s.size() && s[i] != q) {
            if (s[i] == '\\' && i + 1 < s.size()) {
                ++i;
            }
            out += s[i++];
        }
        s.remove_prefix(std::min(i + 1, s.size()));
        return out;
    }
    std::size_t i = 0;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != ',' && s[i] != '}' && s[i] != '{') {
        ++i;
    }
    out = s.substr(0, i);
    s.remove_prefix(i);
    return out;
}

} // namespace mlrun::ml
