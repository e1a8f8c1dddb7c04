#include "platform/self_path.hpp"

#include <system_error>

namespace mlrun {

std::filesystem::path self_exe()
{
    std::error_code ec;
    std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::filesystem::path("mlrun") : exe;
}

} // namespace mlrun
