#pragma once
// Last words of a process that meets an exception nobody caught, in any thread: the
// handler (installed by cli/main.cpp through std::set_terminate) prints one line, lets each
// live CrashScope record the failure where it belongs (the task, the run), and exits 1.
// Never "terminate called ...", never SIGABRT (134).
#include <functional>
#include <string>

namespace mlrun {

constexpr const char* k_error_class_crash = "crash";

// While alive, `record` is called with the fatal message if the process dies of an uncaught
// exception. `record` may throw (ignored) and must not wait on locks that the dying thread
// may hold for long: the handler gives all of them together a few seconds.
class CrashScope {
public:
    explicit CrashScope(std::function<void(const std::string& what)> record);
    ~CrashScope();
    CrashScope(const CrashScope&) = delete;
    CrashScope& operator=(const CrashScope&) = delete;

private:
    unsigned long m_id;
};

// Runs the live scopes' recorders, newest first, each guarded, all on a helper thread that
// is given `budget_ms` in total; returns when they are done or the time is up.
void record_crash(const std::string& what, int budget_ms = 3000);

// The message of the exception being handled ("unknown exception" for a non-std one), or
// "std::terminate called without an exception".
std::string current_exception_message();

// std::set_terminate: stderr "mlrun: fatal: <what>", record_crash, then _exit(1).
void install_crash_handler();

} // namespace mlrun
