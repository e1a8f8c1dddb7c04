#include "ml/io/csv.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "ml/io/text_file.hpp"

#include <csv.h>

#include <exception>
#include <stdexcept>

namespace mlrun::ml {

namespace {

constexpr char k_quote = '"';
constexpr std::string_view k_bom = "\xEF\xBB\xBF";

// Spaces around unquoted fields and after a closing quote; CR so that CRLF ends a line.
int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' ? 1 : 0;
}

// The same without the tab, for tab-separated text: libcsv tests for a space before it
// tests for the delimiter.
int is_space_not_tab(unsigned char c)
{
    return c == ' ' || c == '\r' ? 1 : 0;
}

// Only LF ends a record: a lone CR is trimmed like a space, as the readers before libcsv did.
int is_term(unsigned char c)
{
    return c == '\n' ? 1 : 0;
}

// What libcsv's callbacks fill in. They run inside C code, so they never let an exception out.
struct Collector {
    CsvRow row;
    bool field_quoted = false;
    bool row_done = false;
    std::exception_ptr error;
};

void on_field(void* data, std::size_t len, void* user)
{
    auto& c = *static_cast<Collector*>(user);
    try {
        const char* text = static_cast<const char*>(data);
        c.row.fields.push_back({len == 0 ? std::string() : std::string(text, len), c.field_quoted});
    } catch (...) {
        c.error = std::current_exception();
    }
}

void on_record(int /*terminator*/, void* user)
{
    static_cast<Collector*>(user)->row_done = true;
}

// Owns a libcsv parser in strict mode (strict: a character after a closing quote is an error).
class Parser {
public:
    explicit Parser(char delimiter)
    {
        if (csv_init(&m_parser, CSV_STRICT) != 0) {
            throw std::runtime_error("libcsv: cannot initialise a parser");
        }
        csv_set_delim(&m_parser, static_cast<unsigned char>(delimiter));
        csv_set_quote(&m_parser, static_cast<unsigned char>(k_quote));
        csv_set_space_func(&m_parser, delimiter == '\t' ? is_space_not_tab : is_space);
        csv_set_term_func(&m_parser, is_term);
    }
    ~Parser() { csv_free(&m_parser); }
    Parser(const Parser&) = delete;
    Parser& operator=(const Parser&) = delete;

    // Inside a quoted field that has not closed yet (libcsv's own state, public in csv.h).
    bool in_quoted_field() const { return m_parser.quoted != 0; }

    // Feeds chunk; a quote inside an unquoted field is kept as text (libcsv's lenient rule,
    // applied to that one byte). Throws UsageError for a character after a closing quote.
    void feed(std::string_view chunk, Collector& out, const std::string& source, std::size_t line)
    {
        while (!chunk.empty()) {
            const std::size_t used = csv_parse(&m_parser, chunk.data(), chunk.size(), on_field, on_record, &out);
            if (out.error) {
                std::rethrow_exception(out.error);
            }
            if (used == chunk.size()) {
                return;
            }
            if (csv_error(&m_parser) != CSV_EPARSE) {
                throw std::runtime_error(source + ": " + csv_strerror(csv_error(&m_parser)));
            }
            if (m_parser.quoted != 0) {
                throw UsageError(source + ":" + std::to_string(line) + ": unexpected character '"
                                 + std::string(1, chunk[used]) + "' after a closing quote");
            }
            csv_set_opts(&m_parser, 0);
            csv_parse(&m_parser, chunk.data() + used, 1, on_field, on_record, &out);
            csv_set_opts(&m_parser, CSV_STRICT);
            chunk.remove_prefix(used + 1);
        }
    }

private:
    csv_parser m_parser{};
};

// The first byte of chunk that is not a space (as the parser counts spaces), or '\0'.
char first_non_space(std::string_view chunk, char delimiter)
{
    for (char c : chunk) {
        const auto u = static_cast<unsigned char>(c);
        if ((delimiter == '\t' ? is_space_not_tab(u) : is_space(u)) == 0) {
            return c;
        }
    }
    return '\0';
}

} // namespace

void read_csv(std::string_view text, const std::string& source, const std::function<bool(CsvRow&&)>& on_row,
              const CsvOptions& options)
{
    if (text.substr(0, k_bom.size()) == k_bom) {
        text.remove_prefix(k_bom.size());
    }
    Parser parser(options.delimiter);
    Collector out;
    std::size_t line = 1;       // line of the next chunk
    std::size_t field_line = 1; // line where the field being read began
    bool open = false;          // a record has begun and not ended
    std::size_t rows = 0;
    // The text goes to libcsv in chunks that end after each delimiter or LF: a chunk then
    // holds at most one field end and one record end, so each field's quoting and each
    // record's first line are known without a second tokenizer. A final LF is supplied.
    std::size_t pos = 0;
    bool final_lf = !text.empty() && text.back() != '\n';
    while (pos < text.size() || final_lf) {
        std::string_view chunk;
        if (pos < text.size()) {
            std::size_t end = pos;
            while (end < text.size() && text[end] != options.delimiter && text[end] != '\n') {
                ++end;
            }
            end = end < text.size() ? end + 1 : end;
            chunk = text.substr(pos, end - pos);
            pos = end;
        } else {
            chunk = "\n";
            final_lf = false;
        }
        const char first = first_non_space(chunk, options.delimiter);
        if (!open && first != '\0' && first != '\n') {
            open = true;
            out.row.line = line;
        }
        if (!parser.in_quoted_field()) {
            out.field_quoted = first == k_quote;
            field_line = line;
        }
        parser.feed(chunk, out, source, line);
        if (chunk.back() == '\n') {
            ++line;
        }
        if (out.row_done) {
            open = false;
            out.row_done = false;
            CsvRow row = std::move(out.row);
            out.row = CsvRow{};
            ++rows;
            if (!on_row(std::move(row)) || (options.max_rows != 0 && rows == options.max_rows)) {
                return;
            }
        }
    }
    if (open) {
        throw UsageError(source + ":" + std::to_string(field_line) + ": unterminated quoted field");
    }
}

std::vector<CsvRow> read_csv(std::string_view text, const std::string& source, const CsvOptions& options)
{
    std::vector<CsvRow> rows;
    read_csv(
        text, source,
        [&](CsvRow&& row) {
            rows.push_back(std::move(row));
            return true;
        },
        options);
    return rows;
}

std::vector<CsvRow> read_csv_file(const std::filesystem::path& path, const CsvOptions& options)
{
    return read_csv(read_text_file(path), path.string(), options); // gzip inflated (ml/io/text_file.hpp)
}

std::string csv_escape_field(std::string_view text)
{
    // Spaces at either end are quoted too, or read_csv would trim them away.
    const auto space = [](char c) { return is_space(static_cast<unsigned char>(c)) != 0; };
    const bool padded = !text.empty() && (space(text.front()) || space(text.back()));
    if (!padded && text.find_first_of(",\"\r\n") == std::string_view::npos) {
        return std::string(text);
    }
    std::string out(csv_write(nullptr, 0, text.data(), text.size()), '\0');
    csv_write(out.data(), out.size(), text.data(), text.size());
    return out;
}

void write_csv_row(std::string& out, const std::vector<std::string>& fields)
{
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (i != 0) {
            out += ',';
        }
        out += csv_escape_field(fields[i]);
    }
    out += '\n';
}

} // namespace mlrun::ml
