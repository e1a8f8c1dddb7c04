#include "platform/file_lock.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <string>
#include <sys/file.h>
#include <unistd.h>

namespace mlrun {

FileLock::FileLock(const std::filesystem::path& path)
{
    m_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (m_fd < 0) {
        throw std::runtime_error("cannot open lock " + path.string() + ": " + std::strerror(errno));
    }
    while (::flock(m_fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int err = errno;
            ::close(m_fd);
            throw std::runtime_error("cannot lock " + path.string() + ": " + std::strerror(err));
        }
    }
}

FileLock::~FileLock()
{
    if (m_fd >= 0) {
        ::flock(m_fd, LOCK_UN);
        ::close(m_fd);
    }
}

} // namespace mlrun
