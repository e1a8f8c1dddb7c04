#pragma once
// The networked adapters as on-demand plugins: libmlrun_redis.so (the Redis broker),
// libmlrun_postgres.so (the PostgreSQL store), libmlrun_mlflow.so (the MLflow mirror and
// libcurl's URL parser) and libmlrun_server.so (`mlrun server`). Each is found next to the
// executable, then in ../lib/mlrun (like libmlrun_tasks.so), and loaded the first time a
// command needs it, so control commands never load libcurl, hiredis, libpq or cpp-httplib.
// Each exports `extern "C" const void* mlrun_<name>_entry()`, the address of its entry
// struct, whose first member is k_adapter_plugin_abi (platform/plugin.hpp).
#include <string>

namespace mlrun {

// What a plugin adapts, for messages ("Redis", "PostgreSQL", "MLflow", "server").
struct AdapterPlugin {
    const char* library; // "libmlrun_redis.so"
    const char* entry;   // "mlrun_redis_entry"
    const char* what;    // "Redis"
};

// The entry struct of `plugin`, loaded once per process (thread-safe; later calls return
// the same pointer). UsageError (exit 2), one line:
// "this mlrun has no Redis adapter: libmlrun_redis.so not found next to /x/mlrun or in
// ../lib/mlrun", or the loader's error when the file is there but cannot be used (missing
// library, no entry, another build's ABI). A failed load is retried by the next call.
const void* load_adapter_plugin(const AdapterPlugin& plugin);

// load_adapter_plugin, typed.
template <class Entry>
const Entry& adapter_entry(const AdapterPlugin& plugin)
{
    return *static_cast<const Entry*>(load_adapter_plugin(plugin));
}

} // namespace mlrun
