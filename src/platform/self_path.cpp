#include "platform/self_path.hpp"

#include <system_error>

namespace mlrun {

std::filesystem::path self_exe()
{
    // Read once: every task of a pipeline asks (its children's MLRUN_BIN).
    static const std::filesystem::path exe = [] {
        std::error_code ec;
        std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
        return ec ? std::filesystem::path("mlrun") : p;
    }();
    return exe;
}

} // namespace mlrun
