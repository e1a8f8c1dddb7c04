#pragma once
// The one place where adapters are chosen from URIs (DESIGN §2), through a small
// scheme -> factory table per port (like ccache's storage.cpp):
//   store:    "" (MLRUN_HOME, else ./.mlrun), a path, file://PATH or sqlite:PATH: the SQLite
//             store (PATH/store.db, files beside it); folder:PATH: the folder store of old
//             (kept for `store migrate` and tests). A folder store found where an SQLite
//             store is expected is refused with a hint to run `mlrun store migrate`;
//             postgresql:// or postgres://user:pass@host:port/db[?artifacts=PATH]: the PostgreSQL
//             store (files under PATH, else $MLRUN_ARTIFACT_ROOT)
//   tracking: "" or "local" (the local store only); http(s)://host:port: the MLflow mirror
//             (app/sync.hpp) after the local sink, opened only for commands that run tasks
//   queue:    "" or "local" (the store's queues/ and agents/); redis://[user:pass@]host:port/db
//             (a Redis broker: RedisQueue + RedisAgentRegistry under one key prefix)
// Backends owns the adapters; the engine and the app use them through ports() only.
#include "ports/ports.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace mlrun {

class FolderStore;

struct BackendOptions {
    std::string home;     // --home or MLRUN_HOME
    std::string tracking; // --tracking, else MLRUN_TRACKING_URI, else MLFLOW_TRACKING_URI
    // Open the tracking mirror (commands that run tasks): the server is checked first.
    // Other commands only check the URI's scheme and never connect.
    bool mirror = false;
    std::string queue;              // --broker (alias --queue-uri), else MLRUN_BROKER, else MLRUN_QUEUE_URI
    std::int64_t lease_ms = 60'000; // of the queue's claims (agents set it from --lease)
};

struct Backends {
    std::unique_ptr<FolderStore> local; // task records, logs, datasets (folder or SQLite store)
    TaskStore* store = nullptr;         // = local, as the port
    std::unique_ptr<Inputs> inputs;
    std::vector<std::unique_ptr<ResultSink>> sinks; // [0] the local sink; mirrors after it
    std::unique_ptr<Queue> queue;
    std::unique_ptr<AgentRegistry> agents; // who serves which queue

    Backends();
    ~Backends();
    Backends(Backends&&) noexcept;
    Backends& operator=(Backends&&) noexcept;

    // Views of the adapters above, valid while this object lives.
    Ports ports() const;
};

// Throws UsageError for an unsupported or malformed URI (secrets redacted).
Backends open_backends(const BackendOptions& options);
// The tracking URI in effect: given, else $MLRUN_TRACKING_URI, else $MLFLOW_TRACKING_URI.
std::string resolve_tracking_uri(const std::string& given);
// The broker URI after the defaults: --broker, else $MLRUN_BROKER, else $MLRUN_QUEUE_URI;
// "" = the local queue. Agents pass it on to their children.
std::string resolve_broker(const BackendOptions& options);
// The store root after the defaults are applied (absolute; without a scheme prefix).
std::string resolve_home(const std::string& home);

// Which store adapter a --home names, and its folder (absolute).
struct StoreLocation {
    enum class Kind { sqlite, folder };
    Kind kind = Kind::sqlite;
    std::string root;
};
// --home (else MLRUN_HOME, else ./.mlrun) parsed; UsageError for an unsupported URI.
StoreLocation resolve_store(const std::string& home);
// True when `root` holds a folder store not (fully) migrated to SQLite: a store.json, or
// task folders without a store.db.
bool is_unmigrated_folder_store(const std::filesystem::path& root);
// The store adapter at `where`. With `refuse_unmigrated`, an SQLite location that holds an
// unmigrated folder store is a UsageError telling to run `mlrun store migrate`.
std::unique_ptr<FolderStore> open_store(const StoreLocation& where, bool refuse_unmigrated);

} // namespace mlrun
