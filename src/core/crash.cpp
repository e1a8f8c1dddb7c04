#include "core/crash.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
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

} // namespace

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
}

} // namespace mlrun
