#pragma once
// The SQLite store (DESIGN §3): the records in one database, <root>/store.db (WAL), and
// the files where the folder store keeps them (a LocalStore over the same root does the
// file half: tasks/<id>/ logs, artifacts and work/, datasets/, blobs/, queues/, agents/).
//   tasks      one row per task: the filtered fields as columns, the record (task codec)
//              and its light summary (no params, values, artifacts) as JSON text
//   tags       (task_id, tag), indexed by tag
//   scalars    (seq, task_id, title, series, iteration, value, timestamp_ms)
//   records    (kind, id, json): runs, datasets, models, cache
//   task_count the number of tasks, kept by triggers (version 2)
//   schema_version, raised by the migrations in sqlite_store.cpp
// Every state change is one transaction; update() and update_record() are BEGIN IMMEDIATE
// read-modify-writes, so concurrent updates from threads or processes are never lost.
// One handle serialises its own calls (a mutex); processes share the file.
#include "store/database_store.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

namespace mlrun {

class SqliteDb;

constexpr int k_sqlite_schema_version = 2;

class SqliteStore final : public DatabaseStore {
public:
    // Opens nothing until first used; a store.db of a newer schema is a UsageError then.
    explicit SqliteStore(std::filesystem::path root);
    ~SqliteStore() override;

    // "sqlite:<root>"
    std::string location() const override;
    // "sqlite:<root>": what MLRUN_HOME of a child process names.
    std::string uri() const override;
    // Creates the folder and store.db with the current schema (idempotent).
    void ensure_created() override;
    // An flock(2) on records/runs/.<run>.lock, as the folder store.
    std::unique_ptr<RunLock> try_lock_run(const std::string& run_id) override;
    // Inserts the row and its tags in one transaction (the task's folder comes with its first file).
    void create(Task& task) override;
    std::optional<Task> find(const std::string& id) override;
    Task update(const std::string& id, const std::function<void(Task&)>& change) override;
    // One indexed query, ordered by id; `light` reads the summaries only. A page (a limit) of a
    // project with subprojects is a union of one index walk per project (see each()).
    std::vector<Task> list(const TaskFilter& filter) override;
    // The query of list(), each row handed over as it is stepped (the store's mutex held:
    // `fn` must not call this store).
    void each(const TaskFilter& filter, const std::function<void(const Task&)>& fn) override;
    // SELECT count(*) with list()'s indexed conditions; unfiltered, the triggers' task_count.
    std::size_t count(const TaskFilter& filter) override;
    std::string resolve(const std::string& id_or_prefix) override;
    // One transaction per batch: a killed writer loses its whole last batch, never part.
    void append_scalars(const std::string& id, const std::vector<Scalar>& batch) override;
    std::vector<Scalar> read_scalars(const std::string& id) override;
    // Removes the files (as the folder store) and the task's scalars.
    void clear_outputs(const std::string& id) override;
    void put_record(const std::string& kind, const std::string& id, const Json& record) override;
    // Kept in memory and written with this handle's next write transaction (or when it closes).
    void put_record_soon(const std::string& kind, const std::string& id, const Json& record) override;
    std::optional<Json> get_record(const std::string& kind, const std::string& id) override;
    std::vector<std::string> list_records(const std::string& kind) override;
    Json update_record(const std::string& kind, const std::string& id,
                       const std::function<void(Json&)>& change) override;
    // The row's bytes (and the task's folder) go under quarantine/; the row is deleted.
    std::string quarantine_task(const std::string& id) override;
    std::string quarantine_record(const std::string& kind, const std::string& id) override;
    // integrity_check() when it is not "ok".
    std::vector<std::string> integrity_problems() override;

    const std::filesystem::path& root() const override { return m_root; }
    // The row (INSERT or UPDATE) and the task's scalars replaced, in one transaction.
    void import_task(const Task& task, const std::vector<Scalar>& scalars) override;
    // The EXPLAIN QUERY PLAN details of the query each(filter) (count: count(filter)) runs, one
    // line per step ("SEARCH tasks USING INDEX ..."): for tests and benchmarks of the plans.
    std::vector<std::string> query_plan(const TaskFilter& filter, bool count = false);
    // `PRAGMA integrity_check` of store.db: "ok" when sound (also when there is none yet).
    std::string integrity_check();
    // The database file: <root>/store.db.
    std::filesystem::path db_file() const { return m_root / "store.db"; }

private:
    std::filesystem::path m_root;
    std::unique_ptr<SqliteDb> m_db;
    std::recursive_mutex m_mutex; // one call at a time on the connection (update's change may read)
    // put_record_soon's records not yet written: (kind, id) -> JSON text.
    std::map<std::pair<std::string, std::string>, std::string> m_soon;

    // The open database; nullptr when `create` is false and there is no store.db yet.
    SqliteDb* db(bool create);
    void migrate(SqliteDb& db);
    void write_row(SqliteDb& db, const Task& task, bool insert);
    // UPDATE of the row from `before` to `task`, setting only the columns that changed.
    void update_row(SqliteDb& db, const Task& before, const Task& task);
    // Writes m_soon inside the caller's transaction; the caller clears it once that commits.
    void write_soon(SqliteDb& db);
    // Runs `fn` in one write transaction that also stores m_soon, and clears m_soon after the commit.
    void write_transaction(SqliteDb& db, const std::function<void()>& fn);
    // Inside a transaction of the caller.
    void insert_scalars(SqliteDb& db, const std::string& id, const std::vector<Scalar>& batch);
};

} // namespace mlrun
