#include "store/sqlite_db.hpp"

#include "core/error.hpp"

#include <sqlite3.h>

#include <cmath>
#include <limits>
#include <unordered_map>

namespace mlrun {

namespace {

struct ConnectionClose {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

struct StatementFinalize {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

// The disk refused (full, read-only, failing): IoError, so that the step fails with class "io".
[[noreturn]] void throw_sqlite(sqlite3* db, const std::string& what)
{
    const int code = db ? (sqlite3_errcode(db) & 0xff) : SQLITE_ERROR;
    if (code == SQLITE_FULL || code == SQLITE_IOERR || code == SQLITE_READONLY || code == SQLITE_CANTOPEN) {
        throw IoError(what);
    }
    throw SqliteError(what);
}

} // namespace

struct SqliteQuery::Handle {
    std::unique_ptr<sqlite3_stmt, StatementFinalize> stmt;
};

struct SqliteDb::Impl {
    std::unique_ptr<sqlite3, ConnectionClose> db;
    // Kept statements by SQL text; the handles' addresses stay put (node-based map).
    std::unordered_map<std::string, SqliteQuery::Handle> statements;
};

void SqliteDb::fail(const std::string& what) const
{
    throw_sqlite(m_impl->db.get(), "sqlite " + m_file.string() + ": " + what + ": " + sqlite3_errmsg(m_impl->db.get()));
}

SqliteDb::SqliteDb(const std::filesystem::path& file, int busy_timeout_ms)
    : m_impl(std::make_unique<Impl>()), m_file(file)
{
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    m_impl->db.reset(raw); // closed even when the open failed
    if (rc != SQLITE_OK) {
        throw SqliteError("sqlite " + file.string()
                          + ": cannot open: " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    }
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, busy_timeout_ms);
    // WAL: readers never block the writer; NORMAL: a commit is durable once the WAL is
    // synced at checkpoint, and a crash never corrupts the database.
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
}

SqliteDb::~SqliteDb()
{
    m_impl->statements.clear(); // finalized before the connection closes
}

void SqliteDb::exec(const std::string& sql)
{
    char* err = nullptr;
    if (sqlite3_exec(m_impl->db.get(), sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errmsg(m_impl->db.get());
        sqlite3_free(err);
        throw_sqlite(m_impl->db.get(), "sqlite " + m_file.string() + ": " + msg + " (in: " + sql.substr(0, 80) + ")");
    }
}

SqliteQuery SqliteDb::query(const std::string& sql)
{
    auto it = m_impl->statements.find(sql);
    if (it == m_impl->statements.end()) {
        sqlite3_stmt* raw = nullptr;
        if (sqlite3_prepare_v3(m_impl->db.get(), sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                               &raw, nullptr)
            != SQLITE_OK) {
            fail("cannot prepare \"" + sql.substr(0, 80) + "\"");
        }
        it = m_impl->statements.emplace(sql, SqliteQuery::Handle{}).first;
        it->second.stmt.reset(raw);
    }
    return SqliteQuery(&it->second, this);
}

void SqliteDb::transaction(const std::function<void()>& fn)
{
    exec("BEGIN IMMEDIATE");
    try {
        fn();
    } catch (...) {
        char* err = nullptr;
        sqlite3_exec(m_impl->db.get(), "ROLLBACK", nullptr, nullptr, &err);
        sqlite3_free(err);
        throw;
    }
    try {
        exec("COMMIT");
    } catch (...) {
        if (!sqlite3_get_autocommit(m_impl->db.get())) {
            sqlite3_exec(m_impl->db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        }
        throw;
    }
}

std::string SqliteDb::integrity_check()
{
    SqliteQuery q = query("PRAGMA integrity_check");
    std::string out;
    while (q.step()) {
        out += (out.empty() ? "" : "\n") + q.text(0);
    }
    return out;
}

SqliteQuery::SqliteQuery(SqliteQuery&& other) noexcept : m_handle(other.m_handle), m_db(other.m_db)
{
    other.m_handle = nullptr;
}

SqliteQuery::~SqliteQuery()
{
    if (m_handle) {
        sqlite3_reset(m_handle->stmt.get());
        sqlite3_clear_bindings(m_handle->stmt.get());
    }
}

SqliteQuery& SqliteQuery::bind(int index, std::string_view text)
{
    if (sqlite3_bind_text(m_handle->stmt.get(), index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT)
        != SQLITE_OK) {
        m_db->fail("cannot bind parameter " + std::to_string(index));
    }
    return *this;
}

SqliteQuery& SqliteQuery::bind(int index, std::int64_t value)
{
    if (sqlite3_bind_int64(m_handle->stmt.get(), index, value) != SQLITE_OK) {
        m_db->fail("cannot bind parameter " + std::to_string(index));
    }
    return *this;
}

SqliteQuery& SqliteQuery::bind(int index, double value)
{
    if (sqlite3_bind_double(m_handle->stmt.get(), index, value) != SQLITE_OK) {
        m_db->fail("cannot bind parameter " + std::to_string(index));
    }
    return *this;
}

bool SqliteQuery::step()
{
    int rc = sqlite3_step(m_handle->stmt.get());
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    m_db->fail("cannot run \"" + std::string(sqlite3_sql(m_handle->stmt.get())).substr(0, 80) + "\"");
}

void SqliteQuery::run()
{
    while (step()) {
    }
}

std::string SqliteQuery::text(int column) const
{
    const unsigned char* p = sqlite3_column_text(m_handle->stmt.get(), column);
    int n = sqlite3_column_bytes(m_handle->stmt.get(), column);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

std::int64_t SqliteQuery::integer(int column) const
{
    return sqlite3_column_int64(m_handle->stmt.get(), column);
}

double SqliteQuery::real(int column) const
{
    if (is_null(column)) {
        return std::numeric_limits<double>::quiet_NaN(); // SQLite stores NaN as NULL
    }
    return sqlite3_column_double(m_handle->stmt.get(), column);
}

bool SqliteQuery::is_null(int column) const
{
    return sqlite3_column_type(m_handle->stmt.get(), column) == SQLITE_NULL;
}

} // namespace mlrun
