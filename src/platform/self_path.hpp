#pragma once
// Where the running executable is, for files that travel with it (templates, the task plugin).
#include <filesystem>

namespace mlrun {

// Absolute path of the running executable (/proc/self/exe), or "mlrun" if unknown.
std::filesystem::path self_exe();

} // namespace mlrun
