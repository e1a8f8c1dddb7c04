#pragma once
// Error classes and their exit codes. The CLI maps them in one place (cli/main.cpp).
#include <stdexcept>
#include <string>

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

constexpr int k_exit_ok = 0;
constexpr int k_exit_failed = 1;
constexpr int k_exit_usage = 2;
constexpr int k_exit_interrupted = 130;

} // namespace mlrun
