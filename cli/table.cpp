#include "cli.hpp"

#include "core/util.hpp"
#include "platform/terminal.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <unistd.h>

namespace mlrun::cli {

std::size_t output_width()
{
    if (const char* env = std::getenv("COLUMNS"); env && *env) {
        char* end = nullptr;
        const long v = std::strtol(env, &end, 10);
        if (end && *end == '\0' && v > 0 && v < 100000) {
            return static_cast<std::size_t>(v);
        }
    }
    const int tty = terminal_columns(STDOUT_FILENO);
    return tty > 0 ? static_cast<std::size_t>(tty) : 80;
}

void print_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows)
{
    std::vector<size_t> width(headers.size());
    for (size_t i = 0; i < headers.size(); ++i) {
        width[i] = headers[i].size();
    }
    for (const auto& row : rows) {
        for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
            width[i] = std::max(width[i], row[i].size());
        }
    }
    std::string out;
    auto line = [&](const std::vector<std::string>& cells) {
        std::string l;
        for (size_t i = 0; i < headers.size(); ++i) {
            std::string cell = i < cells.size() ? cells[i] : "";
            l += cell;
            if (i + 1 < headers.size()) {
                l += std::string(width[i] - cell.size() + 2, ' ');
            }
        }
        out += l + "\n";
    };
    line(headers);
    for (const auto& row : rows) {
        line(row);
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
}

std::string age(std::int64_t ms)
{
    if (ms <= 0) {
        return "-";
    }
    std::int64_t s = (now_ms() - ms) / 1000;
    if (s < 60) return std::to_string(std::max<std::int64_t>(s, 0)) + " s ago";
    if (s < 3600) return std::to_string(s / 60) + " min ago";
    if (s < 86400) return std::to_string(s / 3600) + " h ago";
    return format_time_ms(ms).substr(0, 10);
}

} // namespace mlrun::cli
