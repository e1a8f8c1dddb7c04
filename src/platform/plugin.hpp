#pragma once
// A shared library loaded at run time (dlopen), and the symbols looked up in it.
#include <cstdint>
#include <filesystem>
#include <string>

namespace mlrun {

// The shape of the adapter plugins' entry structs (libmlrun_redis.so, libmlrun_postgres.so,
// libmlrun_mlflow.so, libmlrun_server.so): each struct starts with this number, and a plugin
// whose number differs (another build's) is refused. Bump it when an entry struct changes.
constexpr std::uint32_t k_adapter_plugin_abi = 1;

class Plugin {
public:
    // Loads `path` (RTLD_NOW | RTLD_LOCAL). Throws std::runtime_error with dlerror's text.
    static Plugin open(const std::filesystem::path& path);

    Plugin() = default;
    Plugin(Plugin&& other) noexcept;
    Plugin& operator=(Plugin&& other) noexcept;
    Plugin(const Plugin&) = delete;
    Plugin& operator=(const Plugin&) = delete;
    // Keeps the library loaded: code from it (registered functions, static destructors)
    // may still run until the process exits, so it is never dlclose'd.
    ~Plugin() = default;

    bool loaded() const { return m_handle != nullptr; }
    const std::filesystem::path& path() const { return m_path; }
    // The address of `name`, or nullptr when the library has no such symbol.
    void* find(const std::string& name) const;
    // Like find, typed; throws std::runtime_error naming the library and the symbol when absent.
    template <typename Fn>
    Fn* require(const std::string& name) const
    {
        return reinterpret_cast<Fn*>(require_symbol(name));
    }

private:
    void* require_symbol(const std::string& name) const;

    void* m_handle = nullptr;
    std::filesystem::path m_path;
};

} // namespace mlrun
