#include "app/adapter_plugin.hpp"

#include "core/error.hpp"
#include "platform/plugin.hpp"
#include "platform/self_path.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <vector>

namespace mlrun {

namespace {

struct Loaded {
    std::mutex mutex;
    std::map<std::string, const void*> entries; // library -> entry struct
    std::vector<Plugin> plugins;                // kept loaded until the process exits
};

Loaded& loaded()
{
    static Loaded* k = new Loaded; // never destroyed: plugin code may run during exit
    return *k;
}

} // namespace

const void* load_adapter_plugin(const AdapterPlugin& plugin)
{
    Loaded& l = loaded();
    std::lock_guard<std::mutex> lock(l.mutex);
    if (auto it = l.entries.find(plugin.library); it != l.entries.end()) {
        return it->second;
    }
    const std::filesystem::path exe = self_exe();
    const std::filesystem::path candidates[] = {exe.parent_path() / plugin.library,
                                                exe.parent_path() / ".." / "lib" / "mlrun" / plugin.library};
    const std::string no_adapter = "this mlrun has no " + std::string(plugin.what) + " adapter: ";
    for (const std::filesystem::path& path : candidates) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) {
            continue;
        }
        try {
            Plugin p = Plugin::open(path);
            using EntryFn = const void*();
            const void* entry = p.require<EntryFn>(plugin.entry)();
            if (!entry || *static_cast<const std::uint32_t*>(entry) != k_adapter_plugin_abi) {
                throw std::runtime_error(path.string() + " was built for another mlrun (plugin ABI differs)");
            }
            l.plugins.push_back(std::move(p));
            l.entries.emplace(plugin.library, entry);
            return entry;
        } catch (const std::runtime_error& e) {
            throw UsageError(no_adapter + e.what());
        }
    }
    throw UsageError(no_adapter + plugin.library + " not found next to " + exe.string() + " or in ../lib/mlrun");
}

} // namespace mlrun
