#include "tasks/core/core_kinds.hpp"

#include "core/error.hpp"
#include "ports/reporter.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

namespace mlrun::kinds {

void run_noop(TaskContext& ctx)
{
    const Json& p = ctx.task.params;
    int sleep_ms = p.value("sleep_ms", 0);
    int stages = std::max(1, p.value("stages", 1));
    for (int i = 1; i <= stages; ++i) {
        ctx.check_cancel();
        if (sleep_ms > 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms / stages));
        }
        if (ctx.progress && stages > 1) {
            ctx.progress("stage", i, stages);
        }
    }
    // Test hooks of the crash handlers (core/crash.hpp): MLRUN_TEST_CRASH=thread throws in a
    // thread of its own, which nothing catches; =segv raises SIGSEGV.
    if (const char* crash = std::getenv("MLRUN_TEST_CRASH"); crash && std::string(crash) == "thread") {
        std::thread([] { throw std::runtime_error("injected crash (MLRUN_TEST_CRASH=thread)"); }).join();
    } else if (crash && std::string(crash) == "segv") {
        std::raise(SIGSEGV);
    }
    if (p.value("fail", false)) {
        throw TaskFailed("noop asked to fail");
    }
    if (p.contains("value")) {
        ctx.report().log_value("value", p["value"]);
    }
}

} // namespace mlrun::kinds
