#include "core/crash.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>

namespace mlrun {

namespace {

struct Registry {
    std::mutex mutex;
    unsigned long next = 1;
    std::map<unsigned long, std::function<void(const std::string&)>> scopes;
};

Registry& registry()
{
    static Registry* r = new Registry; // never destroyed: a crash may come during exit
    return *r;
}

std::atomic<bool> g_crashing{false};

[[noreturn]] void on_terminate()
{
    std::string what = current_exception_message();
    if (g_crashing.exchange(true)) {
        _exit(1); // a second thread dying meanwhile: the first one records
    }
    std::fprintf(stderr, "mlrun: fatal: %s\n", what.c_str());
    std::fflush(stderr);
    record_crash(what);
    _exit(1);
}

// The run named in the fatal-signal line: written before a run starts, read by the handler.
char g_run_hint[128] = {0};
std::atomic<bool> g_run_hint_set{false};

// The alternate signal stack of the thread that installed the handlers.
alignas(16) char g_alt_stack[64 * 1024];

void write_all(const char* text)
{
    std::size_t len = 0;
    while (text[len] != '\0') {
        ++len;
    }
    while (len > 0) {
        const ssize_t n = ::write(STDERR_FILENO, text, len);
        if (n <= 0) {
            return; // nothing to do about it in a signal handler
        }
        text += n;
        len -= static_cast<std::size_t>(n);
    }
}

const char* fatal_signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "a fatal signal";
    }
}

// Async-signal-safe only (see install_fatal_signal_handlers). SA_RESETHAND has put the
// default action back, so the raise ends the process by the same signal once this returns.
extern "C" void on_fatal_signal(int sig)
{
    const int saved = errno;
    write_all("mlrun: internal error: ");
    write_all(fatal_signal_name(sig));
    if (g_run_hint_set.load()) {
        write_all("; the run is marked dead and `mlrun pipeline run --resume ");
        write_all(g_run_hint);
        write_all("` continues it");
    }
    write_all("\n");
    errno = saved;
    ::raise(sig);
}

} // namespace

void install_fatal_signal_handlers()
{
    stack_t ss{};
    ss.ss_sp = g_alt_stack;
    ss.ss_size = sizeof g_alt_stack;
    ss.ss_flags = 0;
    ::sigaltstack(&ss, nullptr);
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_ONSTACK;
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
        ::sigaction(sig, &sa, nullptr);
    }
}

void set_crash_run_hint(const std::string& run_id)
{
    g_run_hint_set = false;
    const std::size_t n = std::min(run_id.size(), sizeof g_run_hint - 1);
    std::memcpy(g_run_hint, run_id.data(), n);
    g_run_hint[n] = '\0';
    g_run_hint_set = !run_id.empty();
}

CrashScope::CrashScope(std::function<void(const std::string&)> record)
{
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    m_id = r.next++;
    r.scopes.emplace(m_id, std::move(record));
}

CrashScope::~CrashScope()
{
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    r.scopes.erase(m_id);
}

void record_crash(const std::string& what, int budget_ms)
{
    std::vector<std::function<void(const std::string&)>> recorders;
    {
        Registry& r = registry();
        std::lock_guard<std::mutex> lock(r.mutex);
        for (auto it = r.scopes.rbegin(); it != r.scopes.rend(); ++it) {
            recorders.push_back(it->second);
        }
    }
    // On a helper thread: the dying thread may hold a lock a recorder needs; then the time
    // budget ends the wait and the process exits without that record.
    struct State {
        std::mutex mutex;
        std::condition_variable done_cv;
        bool done = false;
    };
    auto state = std::make_shared<State>();
    std::thread helper([state, recorders = std::move(recorders), what] {
        for (const auto& record : recorders) {
            try {
                record(what);
            } catch (...) {
                // best effort: the next one still gets its turn
            }
        }
        std::lock_guard<std::mutex> lock(state->mutex);
        state->done = true;
        state->done_cv.notify_all();
    });
    {
        std::unique_lock<std::mutex> lock(state->mutex);
        state->done_cv.wait_for(lock, std::chrono::milliseconds(budget_ms), [&] { return state->done; });
    }
    helper.detach();
}

std::string current_exception_message()
{
    std::exception_ptr e = std::current_exception();
    if (!e) {
        return "std::terminate called without an exception";
    }
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return std::string("uncaught exception: ") + ex.what();
    } catch (...) {
        return "uncaught exception of an unknown type";
    }
}

void install_crash_handler()
{
    std::set_terminate(on_terminate);
    install_fatal_signal_handlers();
}

} // namespace mlrun
