// The store suite against the PostgreSQL store on a throwaway cluster (pg_server.hpp), and
// what only that store has to show: 8 processes x 500 updates of one task, its schema
// version, its URI (artifact root, masked password), its one-line connection errors and the
// wiring that opens it.
#include "pg_server.hpp"
#include "store_suite.hpp"
#include "test_util.hpp"

#include "app/wiring.hpp"
#include "core/error.hpp"
#include "ports/inputs.hpp"
#include "store/datasets.hpp"
#include "store/postgres_db.hpp"
#include "store/postgres_store.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <limits>

using namespace mlrun;
using mlrun::test::PgDatabase;
using mlrun::test::PgServer;
using mlrun::test::StoreFixture;

namespace {

// "ok" when every task row holds a record that parses, under its own id.
std::string rows_sound(const std::string& uri)
{
    PostgresDb db(parse_postgres_uri(uri));
    PostgresResult r = db.exec("SELECT id, record, summary FROM tasks");
    for (int i = 0; i < r.rows(); ++i) {
        Json record = Json::parse(r.text(i, 1), nullptr, false);
        Json summary = Json::parse(r.text(i, 2), nullptr, false);
        if (record.is_discarded() || summary.is_discarded() || record.value("id", "") != r.text(i, 0)) {
            return "task row " + r.text(i, 0) + " is torn";
        }
    }
    return "ok";
}

StoreFixture postgres_fixture()
{
    auto db = std::make_shared<PgDatabase>();
    StoreFixture f;
    f.open = [uri = db->socket_uri()] { return std::make_unique<PostgresStore>(uri); };
    f.integrity = [uri = db->plain_uri()] { return rows_sound(uri); };
    // As a torn write or a disk fault would leave a row: SQL behind the store's back.
    f.corrupt_task = [uri = db->plain_uri()](const std::string& id, const std::string& text) {
        PostgresDb conn(parse_postgres_uri(uri));
        conn.exec("UPDATE tasks SET record = $1, summary = $1 WHERE id = $2", PostgresParams().text(text).text(id));
    };
    f.corrupt_record = [uri = db->plain_uri()](const std::string& kind, const std::string& id,
                                               const std::string& text) {
        PostgresDb conn(parse_postgres_uri(uri));
        conn.exec("UPDATE records SET json = $1 WHERE kind = $2 AND id = $3",
                  PostgresParams().text(text).text(kind).text(id));
    };
    f.scratch = db->dir().path();
    f.owner = db;
    return f;
}

std::string usage_message(const std::function<void()>& fn)
{
    try {
        fn();
    } catch (const UsageError& e) {
        return e.what();
    }
    return "";
}

} // namespace

MLRUN_STORE_SUITE("store suite: postgres", postgres_fixture)

TEST_CASE("postgres store: 8 processes x 500 concurrent updates of one task give exactly 4,000")
{
    constexpr int k_procs = 8;
    constexpr int k_updates = 500;
    PgDatabase db;
    Task t;
    t.kind = "noop";
    t.values["counter"] = 0;
    PostgresStore(db.uri()).create(t);
    std::vector<pid_t> pids;
    for (int p = 0; p < k_procs; ++p) {
        pids.push_back(mlrun::test::store_detail::fork_child([&] {
            PostgresStore store(db.uri());
            for (int i = 0; i < k_updates; ++i) {
                store.update(t.id, [&](Task& rec) {
                    rec.values["counter"] = rec.values["counter"].get<int>() + 1;
                    rec.values["by_" + std::to_string(p)] = i + 1;
                });
            }
            return 0;
        }));
    }
    for (pid_t pid : pids) {
        CHECK(mlrun::test::store_detail::wait_child(pid) == 0);
    }
    Task final_rec = PostgresStore(db.uri()).get(t.id);
    CHECK(final_rec.values["counter"] == k_procs * k_updates);
    for (int p = 0; p < k_procs; ++p) {
        CHECK(final_rec.values["by_" + std::to_string(p)] == k_updates);
    }
}

TEST_CASE("postgres store: the schema is versioned; a database of a newer schema version is refused")
{
    PgDatabase db;
    PostgresStore(db.uri()).ensure_created();
    PostgresStore(db.uri()).ensure_created(); // idempotent: migrated once
    {
        PostgresDb conn(parse_postgres_uri(db.plain_uri()));
        PostgresResult v = conn.exec("SELECT count(*), max(version) FROM schema_version");
        CHECK(v.integer(0, 0) == k_postgres_schema_version); // each migration once
        CHECK(v.integer(0, 1) == k_postgres_schema_version);
        // The filtered columns are indexed.
        PostgresResult idx = conn.exec("SELECT indexname FROM pg_indexes WHERE tablename = 'tasks' ORDER BY 1");
        std::vector<std::string> names;
        for (int i = 0; i < idx.rows(); ++i) {
            names.push_back(idx.text(i, 0));
        }
        for (const char* want :
             {"tasks_cache_key", "tasks_created", "tasks_kind", "tasks_project", "tasks_run", "tasks_status"}) {
            CHECK_MESSAGE(std::find(names.begin(), names.end(), want) != names.end(), want);
        }
        conn.exec("INSERT INTO schema_version(version) VALUES (99)");
    }
    std::string msg = usage_message([&] { PostgresStore(db.uri()).list(TaskFilter{}); });
    CHECK(msg.find("schema version 99") != std::string::npos);
    CHECK(msg.find(PgServer::k_password) == std::string::npos);
}

TEST_CASE("postgres store: location masks the password; uri carries the artifact root; one is required")
{
    PgDatabase db;
    const fs::path root = db.dir() / "shared";
    PostgresStore store(db.plain_uri(), root);
    CHECK(store.root() == root);
    CHECK(store.location().find(PgServer::k_password) == std::string::npos);
    CHECK(store.location().find("postgres:***@127.0.0.1:" + std::to_string(db.server().port())) != std::string::npos);
    CHECK(store.location().find(db.name()) != std::string::npos);
    // A child opens the same store from uri() alone: the artifact root travels in it.
    PostgresStore child(store.uri());
    CHECK(child.root() == root);
    Task t;
    t.kind = "noop";
    store.create(t);
    CHECK(child.get(t.id).id == t.id);
    CHECK(fs::is_directory(root / "tasks" / t.id));
    // ?artifacts= wins over the fallback; a path with odd characters survives the round trip.
    const fs::path odd = db.dir() / "with space&amp";
    PostgresStore given(db.plain_uri() + "?connect_timeout=5&artifacts=" + (db.dir() / "given").string(), root);
    CHECK(given.root() == db.dir() / "given");
    CHECK(PostgresStore(PostgresStore(db.plain_uri(), odd).uri()).root() == odd);
    // None at all: one clear line, no password.
    std::string msg = usage_message([&] { PostgresStore bare(db.plain_uri()); });
    CHECK(msg.find("artifact root") != std::string::npos);
    CHECK(msg.find("MLRUN_ARTIFACT_ROOT") != std::string::npos);
    CHECK(msg.find(PgServer::k_password) == std::string::npos);
}

TEST_CASE("postgres store: unreachable server, wrong password, bad URI are one-line usage errors, password masked")
{
    PgDatabase db;
    const std::string artifacts = "?artifacts=" + db.artifacts().string();
    auto check = [&](const std::string& uri, const std::string& must_contain) {
        CAPTURE(uri);
        std::string msg = usage_message([&] { PostgresStore(uri).list(TaskFilter{}); });
        CAPTURE(msg);
        CHECK_FALSE(msg.empty());
        CHECK(msg.find('\n') == std::string::npos);
        CHECK(msg.find("wrongpw") == std::string::npos);
        CHECK(msg.find(PgServer::k_password) == std::string::npos);
        CHECK(msg.find(must_contain) != std::string::npos);
    };
    check(db.plain_uri("wrongpw") + artifacts, "password authentication failed");
    check("postgresql://postgres:wrongpw@127.0.0.1:1/x" + artifacts, "postgresql://postgres:***@127.0.0.1:1/x");
    check("postgresql://postgres:wrongpw@127.0.0.1:notaport/x" + artifacts, "\"notaport\"");
    check("postgresql://postgres:wrongpw@127.0.0.1/x?sslmode=bogus&artifacts=/tmp", "sslmode");
    check("postgresql://postgres:wrongpw@[::1/x" + artifacts, "bad PostgreSQL URI");
    check("postgresql://postgres:wrongpw@127.0.0.1/x?nosuchoption=1&artifacts=/tmp", "nosuchoption");
    CHECK(PostgresStore(db.uri()).list(TaskFilter{}).empty()); // the right one works
}

TEST_CASE("wiring: --home postgresql:// opens the PostgreSQL store; datasets and inputs use the artifact root")
{
    PgDatabase db;
    BackendOptions options;
    options.home = db.uri();
    options.tracking = "local";
    options.queue = "local";
    Backends b = open_backends(options);
    REQUIRE(dynamic_cast<PostgresStore*>(b.store));
    CHECK(b.local->root() == db.artifacts());
    // What a child process is given opens the same store.
    BackendOptions child;
    child.home = b.store->uri();
    child.tracking = "local";
    child.queue = "local";
    Backends again = open_backends(child);
    REQUIRE(dynamic_cast<PostgresStore*>(again.store));
    mlrun::test::write_text(db.dir() / "data" / "a.txt", "alpha");
    DatasetRequest req;
    req.name = "ds";
    req.paths = {db.dir() / "data"};
    Json rec = create_dataset(*b.local, req);
    const std::string id = rec["id"].get<std::string>();
    CHECK(again.store->list_records("datasets") == std::vector<std::string>{id}); // in the database
    CHECK_FALSE(fs::exists(db.artifacts() / "records" / "datasets"));
    CHECK(mlrun::test::read_text(again.inputs->fetch_dataset(id) / "data" / "a.txt") == "alpha");
    // postgres:// too, and the artifact root from MLRUN_ARTIFACT_ROOT when the URI has none.
    std::string plain = db.plain_uri();
    plain.replace(0, std::string("postgresql://").size(), "postgres://");
    ::setenv("MLRUN_ARTIFACT_ROOT", db.artifacts().c_str(), 1);
    BackendOptions env_root;
    env_root.home = plain;
    env_root.tracking = "local";
    env_root.queue = "local";
    Backends from_env = open_backends(env_root);
    ::unsetenv("MLRUN_ARTIFACT_ROOT");
    REQUIRE(dynamic_cast<PostgresStore*>(from_env.store));
    CHECK(from_env.local->root() == db.artifacts());
    CHECK(from_env.store->list_records("datasets") == std::vector<std::string>{id});
    CHECK_THROWS_AS(open_backends(env_root), UsageError); // no artifact root now
}

TEST_CASE("postgres db: a failed statement is a PostgresError with its SQLSTATE; a failed transaction leaves nothing")
{
    PgDatabase db;
    PostgresDb conn(parse_postgres_uri(db.plain_uri()));
    conn.exec("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)");
    conn.exec("INSERT INTO t(v) VALUES ($1)", PostgresParams().integer(1));
    std::string state;
    try {
        conn.exec("INSERT INTO t(v) VALUES ($1)", PostgresParams().integer(1));
    } catch (const PostgresError& e) {
        state = e.sqlstate();
        CHECK(std::string(e.what()).find("duplicate key") != std::string::npos);
        CHECK(std::string(e.what()).find(PgServer::k_password) == std::string::npos);
    }
    CHECK(state == "23505");
    // A deferred write that fails is thrown from the commit, and rolls back what came before it.
    CHECK_THROWS_AS(conn.transaction([&] {
        conn.exec("INSERT INTO t(v) VALUES ($1)", PostgresParams().integer(2));
        conn.defer("INSERT INTO t(v) VALUES ($1)", PostgresParams().integer(3));
        conn.defer("INSERT INTO t(v) VALUES ($1)", PostgresParams().integer(1)); // duplicate
    }),
                    PostgresError);
    // A change that throws rolls back too; the connection goes on working afterwards.
    CHECK_THROWS_AS(conn.transaction([&] {
        conn.defer("INSERT INTO t(v) VALUES ($1)", PostgresParams().integer(4));
        conn.exec("SELECT 1");
        throw UsageError("refused");
    }),
                    UsageError);
    conn.transaction([&] { conn.defer("INSERT INTO t(v) VALUES ($1)", PostgresParams().integer(5)); });
    PostgresResult rows = conn.exec("SELECT v FROM t ORDER BY v");
    REQUIRE(rows.rows() == 2);
    CHECK(rows.integer(0, 0) == 1);
    CHECK(rows.integer(1, 0) == 5);
    // Doubles round-trip exactly, NaN and the infinities included.
    conn.exec("CREATE TABLE d (x DOUBLE PRECISION)");
    const std::vector<double> xs{0.1, -1e-300, 1.0 / 3, std::numeric_limits<double>::infinity(),
                                 -std::numeric_limits<double>::infinity()};
    for (double x : xs) {
        conn.exec("INSERT INTO d(x) VALUES ($1)", PostgresParams().real(x));
    }
    conn.exec("INSERT INTO d(x) VALUES ($1)", PostgresParams().real(std::nan("")));
    PostgresResult back = conn.exec("SELECT x FROM d");
    REQUIRE(back.rows() == 6);
    for (int i = 0; i < 5; ++i) {
        CHECK(back.real(i, 0) == xs[static_cast<std::size_t>(i)]);
    }
    CHECK(std::isnan(back.real(5, 0)));
}
