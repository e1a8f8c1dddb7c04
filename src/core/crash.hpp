#pragma once
// Last words of a process that meets an exception nobody caught, in any thread: the
// handler (installed by cli/main.cpp through std::set_terminate) prints one line, lets each
// live CrashScope record the failure where it belongs (the task, the run), and exits 1.
// Never "terminate called ...", never SIGABRT (134).
#include "core/error.hpp"

#include <functional>
#include <string>

namespace mlrun {

constexpr const char* k_error_class_crash = "crash";

// A task failed because a process it ran died of a signal (SIGSEGV, SIGKILL from the OOM
// killer): recorded like TaskFailed, with the error class "crash".
class Crashed : public TaskFailed {
public:
    using TaskFailed::TaskFailed;
};

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

// std::set_terminate: stderr "mlrun: fatal: <what>", record_crash, then _exit(1). Also
// install_fatal_signal_handlers().
void install_crash_handler();

// SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT (on an alternate stack, so a stack overflow
// is caught too): one line on stderr, "mlrun: internal error: SIGSEGV" (plus, once a run is
// named by set_crash_run_hint, "; the run is marked dead and `mlrun pipeline run --resume
// RUN` continues it"), then the same signal again with its default action, so the exit
// status still says it (139 for SIGSEGV) and the parent records it. Async-signal-safe:
// write(2) and raise(3) only, no allocation, no lock; nothing is recorded in the store (a
// parent watching the process records the failure; a run's lock dies with its driver).
void install_fatal_signal_handlers();

// The run the fatal-signal line names; copied into a fixed buffer (cut at 127 bytes).
void set_crash_run_hint(const std::string& run_id);

} // namespace mlrun
