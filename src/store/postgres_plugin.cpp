// The entry of libmlrun_postgres.so (store/postgres_plugin.hpp).
#include "store/postgres_plugin.hpp"

#include "platform/plugin.hpp"
#include "store/postgres_store.hpp"

namespace mlrun::plugin_impl {

namespace {

std::unique_ptr<FolderStore> open_postgres_store(const std::string& uri, const std::filesystem::path& artifact_root)
{
    return std::make_unique<PostgresStore>(uri, artifact_root);
}

} // namespace

} // namespace mlrun::plugin_impl

extern "C" const void* mlrun_postgres_entry()
{
    static const mlrun::PostgresEntry k_entry{mlrun::k_adapter_plugin_abi, &mlrun::plugin_impl::open_postgres_store};
    return &k_entry;
}
