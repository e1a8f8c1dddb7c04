#include "core/kinds.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "core/core_kinds.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

namespace mlrun {

namespace {

const std::vector<std::string> k_plugin_kinds{"preprocess", "train_model", "summary", "inference"};

} // namespace

struct KindRegistry::Impl {
    std::mutex mutex;
    std::map<std::string, KindFn> kinds;
    void* plugin = nullptr;
    int threads = 0;
};

KindRegistry& KindRegistry::instance()
{
    static KindRegistry registry;
    return registry;
}

KindRegistry::KindRegistry() : m_impl(new Impl)
{
    m_impl->kinds["exec"] = kinds::run_exec;
    m_impl->kinds["noop"] = kinds::run_noop;
}

void KindRegistry::add(const std::string& name, KindFn fn)
{
    // Called under the registry mutex while the plugin registers: no locking here.
    m_impl->kinds[name] = std::move(fn);
}

bool is_plugin_kind(const std::string& kind)
{
    return std::find(k_plugin_kinds.begin(), k_plugin_kinds.end(), kind) != k_plugin_kinds.end();
}

const std::vector<std::string>& KindRegistry::known_kinds()
{
    static const std::vector<std::string> all{"preprocess", "train_model", "summary", "inference", "exec", "noop"};
    return all;
}

const KindFn& KindRegistry::get(const std::string& name)
{
    std::lock_guard<std::mutex> lock(m_impl->mutex);
    auto it = m_impl->kinds.find(name);
    if (it != m_impl->kinds.end()) {
        return it->second;
    }
    if (!is_plugin_kind(name)) {
        throw UsageError("unknown task kind \"" + name
                         + "\" (known: preprocess, train_model, summary, inference, exec, noop)");
    }
    if (!m_impl->plugin) {
        // OPENBLAS_NUM_THREADS=1 is set by main() before any thread starts (setenv is not
        // thread-safe); torch intra-op threads are the step's share (set_threads).
        std::vector<std::filesystem::path> candidates;
        if (const char* env = std::getenv("MLRUN_TASKS_LIB"); env && *env) {
            candidates.emplace_back(env);
        }
        candidates.push_back(self_exe().parent_path() / "libmlrun_tasks.so");
        candidates.push_back(self_exe().parent_path() / ".." / "lib" / "mlrun" / "libmlrun_tasks.so");
        std::string errors;
        for (const auto& path : candidates) {
            if (!std::filesystem::exists(path)) {
                continue;
            }
            void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (!handle) {
                errors += std::string(" ") + dlerror();
                continue;
            }
            auto entry = reinterpret_cast<void (*)(KindRegistry&)>(dlsym(handle, "mlrun_register_kinds"));
            if (!entry) {
                errors += " " + path.string() + ": no mlrun_register_kinds";
                continue;
            }
            entry(*this);
            m_impl->plugin = handle;
            break;
        }
        if (!m_impl->plugin) {
            throw UsageError("task kind \"" + name + "\" needs libmlrun_tasks.so, which could not be loaded"
                             + (errors.empty() ? std::string(" (not found next to mlrun or in ../lib/mlrun)") : ":" + errors));
        }
        if (m_impl->threads > 0) {
            if (auto set = reinterpret_cast<void (*)(int)>(dlsym(m_impl->plugin, "mlrun_set_threads"))) {
                set(m_impl->threads);
            }
        }
    }
    it = m_impl->kinds.find(name);
    if (it == m_impl->kinds.end()) {
        throw UsageError("task kind \"" + name + "\" is not in the loaded task plugin");
    }
    return it->second;
}

void KindRegistry::set_threads(int threads)
{
    std::lock_guard<std::mutex> lock(m_impl->mutex);
    m_impl->threads = threads;
    if (m_impl->plugin) {
        if (auto set = reinterpret_cast<void (*)(int)>(dlsym(m_impl->plugin, "mlrun_set_threads"))) {
            set(threads);
        }
    }
}

void TaskContext::check_cancel() const
{
    if (cancelled()) {
        throw Aborted("aborted");
    }
}

} // namespace mlrun
