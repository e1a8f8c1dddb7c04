#pragma once
// The one place where adapters are chosen from URIs (DESIGN §2):
//   store:    "" (MLRUN_HOME, else ./.mlrun), a path, or file://PATH
//   tracking: "" (the local store) ; http(s)://host:port (MLflow: not implemented yet)
//   queue:    "" (the local store's queues/) ; redis://host:port/db (not implemented yet)
#include <memory>
#include <string>

namespace mlrun {

class TaskStore;
class LocalStore;
class Tracker;
class Queue;

struct BackendOptions {
    std::string home;      // --home or MLRUN_HOME
    std::string tracking;  // --tracking or MLRUN_TRACKING_URI
    std::string queue;     // --queue-uri or MLRUN_QUEUE_URI
};

struct Backends {
    std::unique_ptr<LocalStore> local; // the embedded store: task records, logs, datasets
    TaskStore* store = nullptr;
    std::unique_ptr<Tracker> tracker;
    std::unique_ptr<Queue> queue;
    Backends();
    ~Backends();
    Backends(Backends&&) noexcept;
    Backends& operator=(Backends&&) noexcept;
};

// Throws UsageError for an unsupported or malformed URI (secrets redacted).
Backends open_backends(const BackendOptions& options);
// The store root after the defaults are applied (absolute).
std::string resolve_home(const std::string& home);
// "https://user:secret@host/x" -> "https://user:***@host/x".
std::string redact_uri(const std::string& uri);

} // namespace mlrun
