#pragma once
// TaskStore port: where task records, logs and run/dataset/model records live.
// Adapters: the local folder store (store/local_store.hpp); chosen from a URI in
// app/wiring.cpp. The engine and the app see only this port, never an adapter.
#include "core/results.hpp"
#include "core/task.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlrun {

struct TaskFilter {
    std::string project; // exact, or a parent project ("a" matches "a/b")
    std::optional<Status> status;
    std::string tag;
    std::string run_id;
    std::string kind;
    // Records without params, values and artifacts: what a listing shows, read much faster.
    bool light = false;
    // Order and size of the answer: newest first (descending id) when set; at most `limit`
    // records (0: all). Adapters apply both in the query, never after reading everything.
    bool newest_first = false;
    std::size_t limit = 0;
    // Also list records that cannot be read, as a Task with only `id` and `corrupt` set
    // (listed unless the adapter can tell they do not match): `task list` and `store check`
    // show them. Off: they are skipped.
    bool include_corrupt = false;
};

// Held while a process drives a pipeline run; released when destroyed.
class RunLock {
public:
    virtual ~RunLock() = default;
};

class TaskStore {
public:
    virtual ~TaskStore() = default;

    // Where the store is, with any secret redacted: for messages.
    virtual std::string location() const = 0;
    // The store as a URI or path that another mlrun process opens (MLRUN_HOME of a child):
    // may hold a secret, never print it.
    virtual std::string uri() const = 0;
    // Creates what the store needs before its first write (idempotent).
    virtual void ensure_created() = 0;
    // The folder of a task's files (log, artifacts, scratch `work/`); it exists once the task
    // is created (the runner creates `work/` in it).
    virtual std::filesystem::path task_dir(const std::string& id) = 0;
    // The exclusive right to drive run `run_id`; nullptr when another process holds it.
    virtual std::unique_ptr<RunLock> try_lock_run(const std::string& run_id) = 0;

    // Assigns id (when empty), created/updated times, and writes the new record.
    virtual void create(Task& task) = 0;
    // nullopt when absent; throws CorruptRecord when the record exists but cannot be decoded.
    virtual std::optional<Task> find(const std::string& id) = 0;
    // Throws UsageError "unknown task ID" (with a suggestion when one is close).
    Task get(const std::string& id);
    // Read-modify-write under the task's lock: concurrent updates are never lost.
    // `change` may throw; then nothing is written. Returns the record as written.
    virtual Task update(const std::string& id, const std::function<void(Task&)>& change) = 0;
    // Sorted by id (= creation order), or newest first; cut at filter.limit.
    virtual std::vector<Task> list(const TaskFilter& filter) = 0;
    // Calls `fn` with each record list(filter) returns, in the same order, as it is read (a
    // listing streams). The default goes through list().
    virtual void each(const TaskFilter& filter, const std::function<void(const Task&)>& fn);
    // How many tasks match `filter`, ignoring its limit. The default goes through list().
    virtual std::size_t count(const TaskFilter& filter);
    // A full id or a unique prefix of one; throws UsageError for none or several.
    virtual std::string resolve(const std::string& id_or_prefix) = 0;

    virtual void append_log(const std::string& id, std::string_view text) = 0;
    // The log from byte `offset` on ("" when there is none yet).
    virtual std::string read_log(const std::string& id, std::uint64_t offset = 0) = 0;
    // At most `max_bytes` (0: all) of the log from `offset`: what `task logs` streams with,
    // so a large log is never held whole. Default: read_log cut to size.
    virtual std::string read_log_part(const std::string& id, std::uint64_t offset, std::size_t max_bytes);
    // Scalars of a task: appended in order (one write per batch), read back in order; a torn
    // last batch of a killed writer costs that batch only.
    virtual void append_scalars(const std::string& id, const std::vector<Scalar>& batch) = 0;
    virtual std::vector<Scalar> read_scalars(const std::string& id) = 0;
    // Copies a file or a folder (every file in it, as name/relative) into the task's
    // artifacts atomically; returns size, sha256, content type and uri. Does not touch the
    // task record (the caller keeps the returned record on it).
    virtual ArtifactRecord put_artifact(const std::string& id, const std::string& name,
                                        const std::filesystem::path& source) = 0;
    // A local path to a stored artifact (file or folder); nullopt when absent.
    virtual std::optional<std::filesystem::path> artifact_path(const std::string& id, const std::string& name) = 0;
    // Removes outputs (artifacts, scalars, log) of a task being reset.
    virtual void clear_outputs(const std::string& id) = 0;

    // Small JSON records of other kinds: "runs", "datasets", "models". Atomic writes.
    virtual void put_record(const std::string& kind, const std::string& id, const Json& record) = 0;
    // A record that may wait for this handle's next write (or its destruction) and be stored
    // in the same transaction: one commit less per step for records nobody waits on (a
    // task's environment, a cache entry). Reads through this handle see it at once; a crash
    // before that next write loses it (as if it had never been written), never tears it.
    virtual void put_record_soon(const std::string& kind, const std::string& id, const Json& record)
    {
        put_record(kind, id, record);
    }
    virtual std::optional<Json> get_record(const std::string& kind, const std::string& id) = 0;
    virtual std::vector<std::string> list_records(const std::string& kind) = 0;
    // Read-modify-write of a record under a lock (creates it from null when absent).
    virtual Json update_record(const std::string& kind, const std::string& id,
                               const std::function<void(Json&)>& change) = 0;

    // `store check --repair`: moves a record that cannot be read out of the way, keeping its
    // bytes (and a task's folder) under the store's `quarantine/`; returns where it went.
    // Default: throws std::runtime_error (an adapter without quarantine).
    virtual std::string quarantine_task(const std::string& id);
    virtual std::string quarantine_record(const std::string& kind, const std::string& id);
    // Problems the adapter's own storage reports about itself (SQLite's integrity_check), one
    // line each; empty when healthy. Default: none.
    virtual std::vector<std::string> integrity_problems() { return {}; }
};

// Task type matches a filter.
bool matches(const Task& task, const TaskFilter& filter);

} // namespace mlrun
