#pragma once
// Internal to the local queue adapters: an exclusive flock(2) on a lock file, held for the
// object's lifetime. flock belongs to the open file, so two threads of one process exclude
// each other like two processes do. Throws std::runtime_error with the path on failure.
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <sys/file.h>
#include <unistd.h>

namespace mlrun {

class FolderLock {
public:
    explicit FolderLock(const std::filesystem::path& path)
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
    ~FolderLock()
    {
        ::flock(m_fd, LOCK_UN);
        ::close(m_fd);
    }
    FolderLock(const FolderLock&) = delete;
    FolderLock& operator=(const FolderLock&) = delete;

private:
    int m_fd = -1;
};

} // namespace mlrun
