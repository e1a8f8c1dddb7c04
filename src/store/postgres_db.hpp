#pragma once
// A PostgreSQL connection for the PostgreSQL store (STYLE §10): RAII over libpq's connection
// and results, parameters sent as text ($1, $2, ...), notices dropped. No libpq type leaves
// postgres_db.cpp. One connection is used by one thread at a time (the store serialises its
// calls). Messages name the server by its masked location, never the password.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mlrun {

// A statement failed (or the connection was lost during one); the message carries the
// server's own reason and the masked location.
class PostgresError : public std::runtime_error {
public:
    explicit PostgresError(const std::string& what, std::string sqlstate = "")
        : std::runtime_error(what), m_sqlstate(std::move(sqlstate))
    {}
    // The server's SQLSTATE code ("42P01": no such table); "" when the server sent none.
    const std::string& sqlstate() const { return m_sqlstate; }

private:
    std::string m_sqlstate;
};

// A postgresql:// (or postgres://) URI taken apart.
struct PostgresTarget {
    std::string conninfo;  // what libpq connects with: the URI without mlrun's own parameters (a secret)
    std::string location;  // postgresql://user:***@host:port/db, for messages
    std::string artifacts; // the decoded ?artifacts= value ("" when absent)
    std::string password;  // from the URI (masked in every message); "" when none
};

// Splits off ?artifacts= and checks the rest with libpq's own parser. Throws UsageError,
// one line with the password masked, for a malformed URI or one of another scheme.
PostgresTarget parse_postgres_uri(const std::string& text);

// Values of $1, $2, ... in order, sent as text.
class PostgresParams {
public:
    PostgresParams& text(std::string_view value);
    PostgresParams& integer(std::int64_t value);
    // NaN and the infinities as PostgreSQL spells them; finite values round-trip exactly.
    PostgresParams& real(double value);
    std::size_t size() const { return m_values.size(); }
    const std::string& operator[](std::size_t i) const { return m_values[i]; }

private:
    std::vector<std::string> m_values;
};

// The rows of one statement (text format).
class PostgresResult {
public:
    PostgresResult();
    PostgresResult(PostgresResult&& other) noexcept;
    PostgresResult& operator=(PostgresResult&& other) noexcept;
    PostgresResult(const PostgresResult&) = delete;
    PostgresResult& operator=(const PostgresResult&) = delete;
    ~PostgresResult();

    int rows() const;
    // Columns numbered from 0. NULL reads as "", 0 or NaN.
    std::string text(int row, int column) const;
    std::int64_t integer(int row, int column) const;
    double real(int row, int column) const;
    bool is_null(int row, int column) const;
    // Rows an INSERT, UPDATE or DELETE touched.
    std::int64_t affected() const;

private:
    friend class PostgresDb;
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

class PostgresDb {
public:
    // Connects (connect_timeout 10 s unless the URI sets another). Throws UsageError, one line
    // naming target.location, when the server is unreachable or refuses the credentials.
    explicit PostgresDb(const PostgresTarget& target);
    ~PostgresDb();
    PostgresDb(const PostgresDb&) = delete;
    PostgresDb& operator=(const PostgresDb&) = delete;

    // Runs one statement; throws PostgresError when it fails. A connection found broken
    // outside a transaction is re-established first. In a transaction, a pending BEGIN and
    // deferred statements go first, in the same round trip (libpq's pipeline mode).
    PostgresResult exec(const std::string& sql, const PostgresParams& params = {});
    // In a transaction: sent with the next statement or the COMMIT (fewer round trips); its
    // failure is thrown from there and rolls the transaction back. Outside one: exec().
    void defer(const std::string& sql, const PostgresParams& params = {});
    // Runs SQL text of one or more statements without parameters (a migration).
    void exec_script(const std::string& sql);
    // Runs `fn` in one transaction: commits when it returns, rolls back and rethrows when it
    // throws. A call inside `fn` joins the outer transaction. BEGIN travels with the first
    // statement, deferred writes with the COMMIT.
    void transaction(const std::function<void()>& fn);
    bool in_transaction() const { return m_in_transaction; }
    const std::string& location() const { return m_location; }

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    std::string m_location;
    std::string m_password;
    bool m_in_transaction = false;
    bool m_begin_pending = false; // BEGIN not sent yet
    struct Statement {
        std::string sql;
        PostgresParams params;
    };
    std::vector<Statement> m_deferred;

    [[noreturn]] void fail(const std::string& what, const std::string& sql, const std::string& sqlstate) const;
    // Sends the statements in one pipeline and returns their results; throws PostgresError
    // for the first that failed (the server skipped the rest).
    std::vector<PostgresResult> pipeline(const std::vector<const Statement*>& statements);
    // Sends the pending BEGIN and deferred statements, then `last` (when given), in one pipeline;
    // the result of the last one sent.
    PostgresResult send_pending(const Statement* last);
    void reconnect_if_broken();
};

} // namespace mlrun
