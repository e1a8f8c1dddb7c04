#include "store/postgres_db.hpp"

#include "core/error.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace mlrun {

namespace {

struct ConnectionClose {
    void operator()(PGconn* conn) const { PQfinish(conn); }
};

struct ResultClear {
    void operator()(PGresult* result) const { PQclear(result); }
};

void drop_notice(void*, const char*)
{}

constexpr std::string_view k_schemes[] = {"postgresql://", "postgres://"};

bool starts_with(std::string_view text, std::string_view prefix)
{
    return text.compare(0, prefix.size(), prefix) == 0;
}

int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// %XX decoded; a malformed escape is kept as written.
std::string percent_decode(std::string_view text)
{
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            int hi = hex_value(text[i + 1]);
            int lo = hex_value(text[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

// The scheme's length when `text` is a PostgreSQL URI, else 0.
std::size_t scheme_length(std::string_view text)
{
    for (std::string_view s : k_schemes) {
        if (starts_with(text, s)) {
            return s.size();
        }
    }
    return 0;
}

// The raw password of the URI's user info ("" when none): what to mask before libpq parsed it.
std::string userinfo_password(std::string_view text)
{
    std::size_t start = scheme_length(text);
    std::size_t end = text.find_first_of("/?#", start);
    std::string_view authority = text.substr(start, end == std::string_view::npos ? text.npos : end - start);
    std::size_t at = authority.rfind('@');
    if (at == std::string_view::npos) {
        return "";
    }
    std::size_t colon = authority.substr(0, at).find(':');
    return colon == std::string_view::npos ? "" : std::string(authority.substr(colon + 1, at - colon - 1));
}

// `text` with every occurrence of each secret (3 characters or more) replaced by ***.
std::string mask(std::string text, const std::vector<std::string>& secrets)
{
    for (const std::string& secret : secrets) {
        if (secret.size() < 3) {
            continue;
        }
        for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
            text.replace(at, secret.size(), "***");
        }
    }
    return text;
}

// libpq's multi-line message as one line, secrets masked.
std::string one_line(const std::string& message, const std::vector<std::string>& secrets)
{
    std::string out;
    for (char c : message) {
        const bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
        if (space) {
            if (!out.empty() && out.back() != ' ') {
                out += ' ';
            }
        } else {
            out += c;
        }
    }
    while (!out.empty() && out.back() == ' ') {
        out.pop_back();
    }
    return mask(out, secrets);
}

// The URI as written with the user info's password replaced by ***.
std::string mask_uri_text(const std::string& text)
{
    std::string raw = userinfo_password(text);
    return mask(text, {raw, percent_decode(raw)});
}

} // namespace

PostgresTarget parse_postgres_uri(const std::string& text)
{
    if (scheme_length(text) == 0) {
        throw UsageError("not a PostgreSQL URI: \"" + mask_uri_text(text)
                         + "\" (expected postgresql://user:password@host:port/db)");
    }
    PostgresTarget t;
    const std::string raw_password = userinfo_password(text);
    const std::vector<std::string> secrets{raw_password, percent_decode(raw_password)};
    std::string base = text;
    std::string kept;
    std::size_t q = text.find('?');
    if (q != std::string::npos) {
        base = text.substr(0, q);
        std::string_view query = std::string_view(text).substr(q + 1);
        while (!query.empty()) {
            std::size_t amp = query.find('&');
            std::string_view part = query.substr(0, amp);
            query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
            if (part.empty()) {
                continue;
            }
            std::size_t eq = part.find('=');
            if (part.substr(0, eq) == "artifacts") {
                t.artifacts = eq == std::string_view::npos ? "" : percent_decode(part.substr(eq + 1));
                continue;
            }
            kept += (kept.empty() ? "" : "&") + std::string(part);
        }
    }
    t.conninfo = base + (kept.empty() ? "" : "?" + kept);
    char* err = nullptr;
    PQconninfoOption* options = PQconninfoParse(t.conninfo.c_str(), &err);
    if (!options) {
        std::string why = err ? err : "cannot be parsed";
        PQfreemem(err);
        throw UsageError("bad PostgreSQL URI \"" + mask_uri_text(text) + "\": " + one_line(why, secrets));
    }
    std::string user, host, port, dbname;
    for (PQconninfoOption* o = options; o->keyword; ++o) {
        const std::string key = o->keyword;
        const std::string value = o->val ? o->val : "";
        if (key == "user") {
            user = value;
        } else if (key == "password") {
            t.password = value;
        } else if (key == "host" || (key == "hostaddr" && host.empty())) {
            host = value.empty() ? host : value;
        } else if (key == "port") {
            port = value;
        } else if (key == "dbname") {
            dbname = value;
        }
    }
    PQconninfoFree(options);
    t.location = "postgresql://";
    if (!user.empty()) {
        t.location += user + (t.password.empty() ? "" : ":***") + "@";
    } else if (!t.password.empty()) {
        t.location += ":***@";
    }
    t.location += host + (port.empty() ? "" : ":" + port) + "/" + dbname;
    return t;
}

PostgresParams& PostgresParams::text(std::string_view value)
{
    m_values.emplace_back(value);
    return *this;
}

PostgresParams& PostgresParams::integer(std::int64_t value)
{
    m_values.push_back(std::to_string(value));
    return *this;
}

PostgresParams& PostgresParams::real(double value)
{
    if (std::isnan(value)) {
        m_values.emplace_back("NaN");
    } else if (std::isinf(value)) {
        m_values.emplace_back(value > 0 ? "Infinity" : "-Infinity");
    } else {
        char buf[64];
        std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, value); // shortest exact, no locale
        m_values.emplace_back(buf, r.ptr);
    }
    return *this;
}

struct PostgresResult::Impl {
    std::unique_ptr<PGresult, ResultClear> result;
};

PostgresResult::PostgresResult() : m_impl(std::make_unique<Impl>())
{}
PostgresResult::PostgresResult(PostgresResult&& other) noexcept = default;
PostgresResult& PostgresResult::operator=(PostgresResult&& other) noexcept = default;
PostgresResult::~PostgresResult() = default;

int PostgresResult::rows() const
{
    return m_impl && m_impl->result ? PQntuples(m_impl->result.get()) : 0;
}

std::string PostgresResult::text(int row, int column) const
{
    const char* p = PQgetvalue(m_impl->result.get(), row, column);
    return p ? std::string(p, static_cast<std::size_t>(PQgetlength(m_impl->result.get(), row, column))) : "";
}

std::int64_t PostgresResult::integer(int row, int column) const
{
    return is_null(row, column) ? 0 : std::strtoll(PQgetvalue(m_impl->result.get(), row, column), nullptr, 10);
}

double PostgresResult::real(int row, int column) const
{
    if (is_null(row, column)) {
        return std::numeric_limits<double>::quiet_NaN();
    }
    // strtod reads "NaN", "Infinity" and "-Infinity" as PostgreSQL writes them.
    return std::strtod(PQgetvalue(m_impl->result.get(), row, column), nullptr);
}

bool PostgresResult::is_null(int row, int column) const
{
    return PQgetisnull(m_impl->result.get(), row, column) != 0;
}

std::int64_t PostgresResult::affected() const
{
    const char* n = m_impl && m_impl->result ? PQcmdTuples(m_impl->result.get()) : nullptr;
    return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

struct PostgresDb::Impl {
    std::unique_ptr<PGconn, ConnectionClose> conn;
};

PostgresDb::PostgresDb(const PostgresTarget& target)
    : m_impl(std::make_unique<Impl>()), m_location(target.location), m_password(target.password)
{
    // Defaults first: what the URI itself sets (dbname is expanded) wins over them.
    const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"10", "mlrun", target.conninfo.c_str(), nullptr};
    m_impl->conn.reset(PQconnectdbParams(keys, values, 1));
    PGconn* conn = m_impl->conn.get();
    if (!conn) {
        throw UsageError("cannot connect to the PostgreSQL store " + m_location + ": out of memory");
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        throw UsageError("cannot connect to the PostgreSQL store " + m_location + ": "
                         + one_line(PQerrorMessage(conn), {m_password}));
    }
    PQsetNoticeProcessor(conn, drop_notice, nullptr);
}

PostgresDb::~PostgresDb() = default;

namespace {

std::string sqlstate_of(const PGresult* r)
{
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    return state ? state : "";
}

std::vector<const char*> values_of(const PostgresParams& params)
{
    std::vector<const char*> values(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
        values[i] = params[i].c_str();
    }
    return values;
}

bool ok_status(ExecStatusType status)
{
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

} // namespace

void PostgresDb::fail(const std::string& what, const std::string& sql, const std::string& sqlstate) const
{
    throw PostgresError("postgresql " + m_location + ": " + one_line(what, {m_password}) + " (in: " + sql.substr(0, 80)
                            + ")",
                        sqlstate);
}

void PostgresDb::reconnect_if_broken()
{
    PGconn* conn = m_impl->conn.get();
    // Safe only when the server holds no transaction of ours (none, or its BEGIN unsent).
    if ((m_in_transaction && !m_begin_pending) || PQstatus(conn) == CONNECTION_OK) {
        return;
    }
    PQreset(conn);
    if (PQstatus(conn) != CONNECTION_OK) {
        throw PostgresError("lost the connection to the PostgreSQL store " + m_location + ": "
                            + one_line(PQerrorMessage(conn), {m_password}));
    }
    PQsetNoticeProcessor(conn, drop_notice, nullptr);
}

std::vector<PostgresResult> PostgresDb::pipeline(const std::vector<const Statement*>& statements)
{
    PGconn* conn = m_impl->conn.get();
    if (PQenterPipelineMode(conn) != 1) {
        fail(PQerrorMessage(conn), statements.front()->sql, "");
    }
    std::string error, error_sql, error_state;
    bool sent = true;
    for (const Statement* s : statements) {
        std::vector<const char*> values = values_of(s->params);
        if (PQsendQueryParams(conn, s->sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                              nullptr, 0)
            != 1) {
            error = PQerrorMessage(conn);
            error_sql = s->sql;
            sent = false;
            break;
        }
    }
    if (sent && PQpipelineSync(conn) != 1) {
        error = PQerrorMessage(conn);
        error_sql = statements.back()->sql;
        sent = false;
    }
    std::vector<PostgresResult> results;
    if (sent) {
        for (const Statement* s : statements) {
            PostgresResult out;
            out.m_impl->result.reset(PQgetResult(conn));
            PGresult* r = out.m_impl->result.get();
            if (r) {
                while (PGresult* rest = PQgetResult(conn)) { // up to the NULL that ends this statement
                    PQclear(rest);
                }
            }
            const ExecStatusType status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
            if (!ok_status(status) && error.empty()) {
                error = r && status != PGRES_PIPELINE_ABORTED ? PQresultErrorMessage(r) : PQerrorMessage(conn);
                error_sql = s->sql;
                error_state = sqlstate_of(r);
            }
            results.push_back(std::move(out));
        }
        // The sync point's own result ends the pipeline.
        for (int guard = 0; guard < 4; ++guard) {
            PGresult* r = PQgetResult(conn);
            const bool sync = r && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
            PQclear(r);
            if (sync || !r) {
                break;
            }
        }
    }
    if (PQexitPipelineMode(conn) != 1) {
        PQclear(PQgetResult(conn));
        PQexitPipelineMode(conn);
    }
    if (!error.empty()) {
        fail(error, error_sql, error_state);
    }
    return results;
}

PostgresResult PostgresDb::send_pending(const Statement* last)
{
    reconnect_if_broken();
    const Statement begin{"BEGIN", {}};
    std::vector<const Statement*> batch;
    if (m_begin_pending) {
        batch.push_back(&begin);
    }
    for (const Statement& d : m_deferred) {
        batch.push_back(&d);
    }
    if (last) {
        batch.push_back(last);
    }
    // Sent (or failed) either way: the server now has our transaction, to commit or roll back.
    m_begin_pending = false;
    std::vector<Statement> deferred = std::move(m_deferred);
    m_deferred.clear();
    std::vector<PostgresResult> results = pipeline(batch);
    return std::move(results.back());
}

PostgresResult PostgresDb::exec(const std::string& sql, const PostgresParams& params)
{
    if (m_in_transaction && (m_begin_pending || !m_deferred.empty())) {
        const Statement self{sql, params};
        return send_pending(&self);
    }
    reconnect_if_broken();
    std::vector<const char*> values = values_of(params);
    PGconn* conn = m_impl->conn.get();
    PostgresResult out;
    out.m_impl->result.reset(
        PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0));
    PGresult* r = out.m_impl->result.get();
    const ExecStatusType status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (!ok_status(status)) {
        fail(r ? PQresultErrorMessage(r) : PQerrorMessage(conn), sql, sqlstate_of(r));
    }
    return out;
}

void PostgresDb::defer(const std::string& sql, const PostgresParams& params)
{
    if (!m_in_transaction) {
        exec(sql, params);
        return;
    }
    m_deferred.push_back(Statement{sql, params});
}

void PostgresDb::exec_script(const std::string& sql)
{
    if (m_in_transaction && (m_begin_pending || !m_deferred.empty())) {
        send_pending(nullptr);
    }
    reconnect_if_broken();
    PGconn* conn = m_impl->conn.get();
    std::unique_ptr<PGresult, ResultClear> r(PQexec(conn, sql.c_str()));
    const ExecStatusType status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (!ok_status(status)) {
        fail(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn), sql, sqlstate_of(r.get()));
    }
}

void PostgresDb::transaction(const std::function<void()>& fn)
{
    if (m_in_transaction) {
        fn();
        return;
    }
    m_in_transaction = true;
    m_begin_pending = true;
    m_deferred.clear();
    auto abandon = [this] {
        const bool sent = !m_begin_pending;
        m_in_transaction = false;
        m_begin_pending = false;
        m_deferred.clear();
        if (sent) {
            // A dead connection rolled back already; the caller's error is the one that counts.
            std::unique_ptr<PGresult, ResultClear> r(PQexec(m_impl->conn.get(), "ROLLBACK"));
        }
    };
    try {
        fn();
    } catch (...) {
        abandon();
        throw;
    }
    if (m_begin_pending && m_deferred.empty()) {
        m_in_transaction = false; // nothing was sent: nothing to commit
        m_begin_pending = false;
        return;
    }
    PostgresResult commit;
    try {
        commit = exec("COMMIT"); // with the pending BEGIN and deferred writes, one round trip
    } catch (...) {
        abandon();
        throw;
    }
    m_in_transaction = false;
    const char* tag = PQcmdStatus(commit.m_impl->result.get());
    if (!tag || std::string_view(tag) != "COMMIT") {
        // A statement of `fn` failed and was swallowed: the server rolled everything back.
        throw PostgresError("postgresql " + m_location + ": the transaction was rolled back");
    }
}

} // namespace mlrun
