#pragma once
// The entry of libmlrun_postgres.so (app/adapter_plugin.hpp): the PostgreSQL store, the code
// that needs libpq. Opened by src/app/wiring.cpp for postgresql:// and postgres:// homes.
#include "store/folder_store.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace mlrun {

struct PostgresEntry {
    std::uint32_t abi; // k_adapter_plugin_abi
    // A PostgresStore on `uri` with files under ?artifacts= or else `artifact_root`; it
    // connects on first use. UsageError as PostgresStore's constructor (password masked).
    std::unique_ptr<FolderStore> (*open_store)(const std::string& uri, const std::filesystem::path& artifact_root);
};

} // namespace mlrun

extern "C" const void* mlrun_postgres_entry();
