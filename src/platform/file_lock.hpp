#pragma once
// An exclusive flock(2) on a lock file, held for the object's lifetime. flock belongs to the
// open file, so two threads of one process exclude each other as two processes do, and the
// lock goes with a process that dies. Throws std::runtime_error naming the path on failure.
#include <filesystem>

namespace mlrun {

class FileLock {
public:
    explicit FileLock(const std::filesystem::path& path);
    ~FileLock();
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

private:
    int m_fd = -1;
};

} // namespace mlrun
