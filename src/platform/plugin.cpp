#include "platform/plugin.hpp"

#include <dlfcn.h>

#include <stdexcept>
#include <utility>

namespace mlrun {

Plugin Plugin::open(const std::filesystem::path& path)
{
    dlerror(); // clear a stale error
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char* error = dlerror();
        throw std::runtime_error(error ? std::string(error) : path.string() + ": cannot be loaded");
    }
    Plugin plugin;
    plugin.m_handle = handle;
    plugin.m_path = path;
    return plugin;
}

Plugin::Plugin(Plugin&& other) noexcept
    : m_handle(std::exchange(other.m_handle, nullptr)), m_path(std::move(other.m_path))
{}

Plugin& Plugin::operator=(Plugin&& other) noexcept
{
    m_handle = std::exchange(other.m_handle, nullptr);
    m_path = std::move(other.m_path);
    return *this;
}

void* Plugin::find(const std::string& name) const
{
    return m_handle ? dlsym(m_handle, name.c_str()) : nullptr;
}

void* Plugin::require_symbol(const std::string& name) const
{
    if (!m_handle) {
        throw std::runtime_error("no library loaded (looking for " + name + ")");
    }
    dlerror();
    void* symbol = dlsym(m_handle, name.c_str());
    if (!symbol) {
        const char* error = dlerror();
        throw std::runtime_error(m_path.string() + ": no " + name + (error ? std::string(" (") + error + ")" : ""));
    }
    return symbol;
}

} // namespace mlrun
