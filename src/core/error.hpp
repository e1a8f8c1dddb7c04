#pragma once
// Error classes and their exit codes. The CLI maps them in one place (cli/main.cpp).
#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace mlrun {

// Something the user gave us is wrong (bad name, bad file, unknown id): exit code 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A task ran and failed; the error is also kept on the task: exit code 1.
class TaskFailed : public std::runtime_error {
public:
    explicit TaskFailed(const std::string& what, int exit_code = 0) : std::runtime_error(what), m_exit_code(exit_code)
    {}
    // The exit code of the command that failed (exec tasks), else 0.
    int exit_code() const { return m_exit_code; }

private:
    int m_exit_code;
};

// Raised inside a task when the user asked it to stop: exit code 130.
class Aborted : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The disk or the store's database refused a read or a write (ENOSPC, EIO, EROFS, EDQUOT):
// recorded on the task with the error class "io" (k_error_class_io); exit code 1.
class IoError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

constexpr const char* k_error_class_io = "io";

// A stored record exists but cannot be read or decoded (truncated, not JSON, wrong fields).
// The cache and listings treat it as absent (with a warning); `mlrun store check` finds it
// and --repair quarantines it. Exit code 2 (as a bad record given to a command).
class CorruptRecord : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// An errno that says the storage failed rather than the request being wrong.
inline bool is_io_errno(int code)
{
    return code == ENOSPC || code == EIO || code == EROFS || code == EDQUOT || code == EFBIG || code == ENOMEM;
}

// True for IoError, and for std::filesystem / std::system_error errors whose errno is one of
// is_io_errno: what fails a step with the error class "io".
inline bool is_io_error(const std::exception& e)
{
    if (dynamic_cast<const IoError*>(&e)) {
        return true;
    }
    if (const auto* fe = dynamic_cast<const std::filesystem::filesystem_error*>(&e)) {
        return fe->code().category() == std::generic_category() || fe->code().category() == std::system_category()
                   ? is_io_errno(fe->code().value())
                   : false;
    }
    if (const auto* se = dynamic_cast<const std::system_error*>(&e)) {
        return (se->code().category() == std::generic_category() || se->code().category() == std::system_category())
               && is_io_errno(se->code().value());
    }
    return false;
}

constexpr int k_exit_ok = 0;
constexpr int k_exit_failed = 1;
constexpr int k_exit_usage = 2;
constexpr int k_exit_interrupted = 130;

} // namespace mlrun
