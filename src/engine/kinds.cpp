#include "engine/kinds.hpp"

#include "core/error.hpp"
#include "platform/plugin.hpp"
#include "platform/self_path.hpp"
#include "tasks/core/core_kinds.hpp"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

namespace mlrun {

namespace {

using RegisterFn = void(KindSet&);
using SetThreadsFn = void(int);
using VersionsFn = const char*();

} // namespace

struct KindRegistry::Impl {
    std::mutex mutex;
    std::map<std::string, KindFn> kinds;
    Plugin plugin;
    SetThreadsFn* set_threads = nullptr; // the plugin's, when it has one
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
    if (!m_impl->plugin.loaded()) {
        // OPENBLAS_NUM_THREADS=1 is set by main() before any thread starts (setenv is not
        // thread-safe); torch intra-op threads are the step's share (set_threads).
        std::vector<std::filesystem::path> candidates;
        if (const char* env = std::getenv("MLRUN_TASKS_LIB"); env && *env) {
            candidates.emplace_back(env);
        }
        const std::filesystem::path exe_dir = self_exe().parent_path();
        candidates.push_back(exe_dir / "libmlrun_tasks.so");
        candidates.push_back(exe_dir / ".." / "lib" / "mlrun" / "libmlrun_tasks.so");
        std::string errors;
        for (const auto& path : candidates) {
            if (!std::filesystem::exists(path)) {
                continue;
            }
            try {
                Plugin plugin = Plugin::open(path);
                RegisterFn* entry = plugin.require<RegisterFn>("mlrun_register_kinds");
                entry(*this);
                m_impl->set_threads = reinterpret_cast<SetThreadsFn*>(plugin.find("mlrun_set_threads"));
                m_impl->plugin = std::move(plugin);
                break;
            } catch (const std::runtime_error& e) {
                errors += std::string(" ") + e.what();
            }
        }
        if (!m_impl->plugin.loaded()) {
            throw UsageError(
                "task kind \"" + name + "\" needs libmlrun_tasks.so, which could not be loaded"
                + (errors.empty() ? std::string(" (not found next to mlrun or in ../lib/mlrun)") : ":" + errors));
        }
        if (m_impl->threads > 0 && m_impl->set_threads) {
            m_impl->set_threads(m_impl->threads);
        }
    }
    it = m_impl->kinds.find(name);
    if (it == m_impl->kinds.end()) {
        throw UsageError("task kind \"" + name + "\" is not in the loaded task plugin");
    }
    return it->second;
}

Json KindRegistry::library_versions(const std::string& kind)
{
    (void)get(kind); // loads the plugin
    std::lock_guard<std::mutex> lock(m_impl->mutex);
    auto* fn = m_impl->plugin.loaded() ? reinterpret_cast<VersionsFn*>(m_impl->plugin.find("mlrun_library_versions"))
                                       : nullptr;
    Json out = fn ? Json::parse(fn(), nullptr, false) : Json::object();
    return out.is_object() ? out : Json::object();
}

void KindRegistry::set_threads(int threads)
{
    std::lock_guard<std::mutex> lock(m_impl->mutex);
    m_impl->threads = threads;
    if (m_impl->set_threads) {
        m_impl->set_threads(threads);
    }
}

bool kind_writes_files(const std::string& kind)
{
    return kind != "noop";
}

} // namespace mlrun
