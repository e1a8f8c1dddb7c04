#include "engine/run_lock.hpp"

#include "core/error.hpp"
#include "store/local_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

namespace mlrun {

RunLock::RunLock(LocalStore& local, const std::string& run_id)
{
    local.ensure_created();
    std::filesystem::create_directories(local.root() / "records" / "runs");
    m_fd = ::open((local.root() / "records" / "runs" / ("." + run_id + ".lock")).c_str(), O_RDWR | O_CREAT | O_CLOEXEC,
                  0644);
    if (m_fd < 0 || ::flock(m_fd, LOCK_EX | LOCK_NB) != 0) {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
        throw UsageError("run " + run_id + " is still running in another mlrun process; wait for it or stop it first");
    }
}

RunLock::~RunLock()
{
    ::close(m_fd);
}

} // namespace mlrun
