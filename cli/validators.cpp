#include "cli.hpp"

#include <cerrno>
#include <cstdlib>

namespace mlrun::cli {

CLI::Validator whole_number_at_least(long min)
{
    return CLI::Validator(
        [min](std::string& text) -> std::string {
            errno = 0;
            char* end = nullptr;
            long v = std::strtol(text.c_str(), &end, 10);
            if (text.empty() || *end != '\0' || errno == ERANGE || v < min) {
                return "must be a whole number >= " + std::to_string(min) + " (got \"" + text.substr(0, 40) + "\")";
            }
            return "";
        },
        "INT>=" + std::to_string(min));
}

} // namespace mlrun::cli
