#pragma once
// The PostgreSQL store (DESIGN §3, §6): for agents on several machines. The records live in
// one PostgreSQL database, the same logical schema as the SQLite store:
//   tasks      one row per task: the filtered fields as columns (run, status, project, kind,
//              cache key and creation time indexed), the record and its light summary as text
//   tags       (task_id, tag), indexed by tag
//   scalars    (seq, task_id, title, series, iteration, value, timestamp_ms)
//   records    (kind, id, json): runs, datasets, models, cache
//   task_count the number of tasks, kept by a trigger (version 2)
//   schema_version, raised by the migrations in postgres_store.cpp (a newer one is refused)
// The files (logs, artifacts, work/, dataset blobs, the local queue) live under an artifact
// root that every machine mounts at the same path: ?artifacts=PATH in the URI, else
// MLRUN_ARTIFACT_ROOT (a LocalStore over it does the file half).
// update() and update_record() are one transaction each with SELECT ... FOR UPDATE; a run lock
// is pg_try_advisory_lock on a connection the lock holds; a scalar batch is one transaction.
// One connection per store handle; the handle serialises its own calls (a mutex).
#include "store/database_store.hpp"

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

namespace mlrun {

class PostgresDb;
struct PostgresTarget;

constexpr int k_postgres_schema_version = 2;

class PostgresStore final : public DatabaseStore {
public:
    // Parses `uri` (postgresql://user:password@host:port/db[?artifacts=PATH]) and connects on
    // first use. `artifact_root` is used when the URI names none. Throws UsageError (one line,
    // password masked) for a malformed URI or when there is no artifact root; on first use,
    // for a server that cannot be reached, refuses the credentials or has a newer schema.
    explicit PostgresStore(const std::string& uri, const std::filesystem::path& artifact_root = {});
    ~PostgresStore() override;

    // postgresql://user:***@host:port/db (artifacts PATH): never the password.
    std::string location() const override;
    // The URI with ?artifacts= set to the artifact root: what a child process opens (a secret).
    std::string uri() const override;
    // Connects and brings the schema to the current version (idempotent).
    void ensure_created() override;
    // pg_try_advisory_lock on a connection of its own, released when the lock (or the
    // process holding it) goes away.
    std::unique_ptr<RunLock> try_lock_run(const std::string& run_id) override;
    // Inserts the row and its tags in one transaction and makes the task's folder.
    void create(Task& task) override;
    void import_task(const Task& task, const std::vector<Scalar>& scalars) override;
    std::optional<Task> find(const std::string& id) override;
    Task update(const std::string& id, const std::function<void(Task&)>& change) override;
    // One indexed query, ordered and cut in the query; `light` reads the summaries only.
    std::vector<Task> list(const TaskFilter& filter) override;
    // The query of list(), its rows handed over as they arrive: a cursor fetched in pieces
    // (one round trip when the limit is small). The store's mutex is held and a transaction
    // open: `fn` must not call this store.
    void each(const TaskFilter& filter, const std::function<void(const Task&)>& fn) override;
    // SELECT count(*) with list()'s indexed conditions; unfiltered, the trigger's task_count.
    std::size_t count(const TaskFilter& filter) override;
    std::string resolve(const std::string& id_or_prefix) override;
    // One transaction per batch: a killed writer loses its whole last batch, never part.
    void append_scalars(const std::string& id, const std::vector<Scalar>& batch) override;
    std::vector<Scalar> read_scalars(const std::string& id) override;
    // Removes the files (as the folder store) and the task's scalars.
    void clear_outputs(const std::string& id) override;
    void put_record(const std::string& kind, const std::string& id, const Json& record) override;
    std::optional<Json> get_record(const std::string& kind, const std::string& id) override;
    std::vector<std::string> list_records(const std::string& kind) override;
    Json update_record(const std::string& kind, const std::string& id,
                       const std::function<void(Json&)>& change) override;
    // The row's text (and the task's folder) go under <artifact root>/quarantine/, as the
    // SQLite store does; the row is deleted in the same transaction.
    std::string quarantine_task(const std::string& id) override;
    std::string quarantine_record(const std::string& kind, const std::string& id) override;

    // The artifact root.
    const std::filesystem::path& root() const override { return m_root; }

private:
    std::unique_ptr<PostgresTarget> m_target;
    std::filesystem::path m_root;
    std::unique_ptr<PostgresDb> m_db;
    std::recursive_mutex m_mutex; // one call at a time on the connection (update's change may read)

    // The connection, opened and migrated on first use.
    PostgresDb& db();
    void migrate(PostgresDb& db);
    void write_row(PostgresDb& db, const Task& task, bool insert);
    // Queues the INSERTs of `batch` (in rows of k_scalar_rows) to go with the transaction's COMMIT.
    void defer_scalars(PostgresDb& db, const std::string& id, const std::vector<Scalar>& batch);
    void write_tags(PostgresDb& db, const Task& task, bool replace);
};

} // namespace mlrun
