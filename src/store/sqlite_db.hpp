#pragma once
// A SQLite connection for the SQLite store (STYLE §10): RAII over the connection and its
// prepared statements, which are kept (one per SQL text) and reset after every use; WAL,
// synchronous=NORMAL and a busy timeout set on open. No sqlite3 type leaves sqlite_db.cpp.
// One connection is used by one thread at a time (the store serialises its calls).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mlrun {

// A SQLite call failed; the message carries SQLite's own (and the file).
class SqliteError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class SqliteDb;

// One use of a kept prepared statement: bind, step through rows, read columns. Resets the
// statement and clears its bindings when destroyed, so no read snapshot outlives it.
class SqliteQuery {
public:
    SqliteQuery(SqliteQuery&& other) noexcept;
    SqliteQuery& operator=(SqliteQuery&&) = delete;
    SqliteQuery(const SqliteQuery&) = delete;
    ~SqliteQuery();

    // Parameters are numbered from 1; text is copied by SQLite.
    SqliteQuery& bind(int index, std::string_view text);
    SqliteQuery& bind(int index, std::int64_t value);
    SqliteQuery& bind(int index, double value);
    // True while a row is available; false when done. Throws SqliteError on failure.
    bool step();
    // Runs a statement that returns no rows (or ignores them).
    void run();
    // Columns of the current row, numbered from 0. NULL reads as "", 0 or NaN.
    std::string text(int column) const;
    std::int64_t integer(int column) const;
    double real(int column) const;
    bool is_null(int column) const;

private:
    friend class SqliteDb;
    struct Handle;
    explicit SqliteQuery(Handle* handle, const SqliteDb* db) : m_handle(handle), m_db(db) {}
    Handle* m_handle;
    const SqliteDb* m_db;
};

class SqliteDb {
public:
    // Opens (creating when missing) the database file with WAL, synchronous=NORMAL and a
    // busy timeout of `busy_timeout_ms`. Throws SqliteError when it cannot be opened.
    explicit SqliteDb(const std::filesystem::path& file, int busy_timeout_ms = 30'000);
    ~SqliteDb();
    SqliteDb(const SqliteDb&) = delete;
    SqliteDb& operator=(const SqliteDb&) = delete;

    // Runs SQL text of one or more statements that return no rows.
    void exec(const std::string& sql);
    // The kept statement of `sql` (prepared on first use), ready to bind.
    SqliteQuery query(const std::string& sql);
    // Runs `fn` in one transaction (BEGIN IMMEDIATE: the write lock is taken first, so a
    // read-modify-write never loses to another writer); commits when it returns, rolls back
    // and rethrows when it throws. Not nestable.
    void transaction(const std::function<void()>& fn);
    // `PRAGMA integrity_check`: "ok" for a sound database, else SQLite's findings.
    std::string integrity_check();
    const std::filesystem::path& file() const { return m_file; }

private:
    friend class SqliteQuery;
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    std::filesystem::path m_file;
    // Throws SqliteError for a result code other than the expected ones.
    [[noreturn]] void fail(const std::string& what) const;
};

} // namespace mlrun
