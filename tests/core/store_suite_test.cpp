// The store suite against the folder store and the SQLite store, and what only the SQLite
// store has to show: its file, its schema version, its URI and the wiring that opens it.
#include "store_suite.hpp"
#include "test_util.hpp"

#include "app/wiring.hpp"
#include "core/error.hpp"
#include "ports/inputs.hpp"
#include "store/datasets.hpp"
#include "store/local_store.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_store.hpp"

#include <doctest/doctest.h>

#include <cstdlib>

using namespace mlrun;
using mlrun::test::StoreFixture;
using mlrun::test::TempDir;

namespace {

StoreFixture local_fixture()
{
    auto dir = std::make_shared<TempDir>();
    StoreFixture f;
    f.open = [home = dir->home()] { return std::make_unique<LocalStore>(home); };
    f.scratch = dir->path();
    f.owner = dir;
    return f;
}

StoreFixture sqlite_fixture()
{
    auto dir = std::make_shared<TempDir>();
    StoreFixture f;
    f.open = [home = dir->home()] { return std::make_unique<SqliteStore>(home); };
    f.integrity = [home = dir->home()] { return SqliteStore(home).integrity_check(); };
    f.scratch = dir->path();
    f.owner = dir;
    return f;
}

} // namespace

MLRUN_STORE_SUITE("store suite: local", local_fixture)
MLRUN_STORE_SUITE("store suite: sqlite", sqlite_fixture)

TEST_CASE("sqlite store: one store.db in the folder, created on the first write, sqlite: URI")
{
    TempDir dir;
    SqliteStore store(dir.home());
    CHECK(store.list(TaskFilter{}).empty());
    CHECK_FALSE(store.find("abc"));
    CHECK_FALSE(fs::exists(dir.home() / "store.db")); // reads create nothing
    Task t;
    t.kind = "noop";
    store.create(t);
    CHECK(fs::exists(dir.home() / "store.db"));
    CHECK_FALSE(fs::exists(dir.home() / "store.json")); // not mistaken for a folder store
    CHECK_FALSE(fs::exists(dir.home() / "tasks" / t.id / "task.json"));
    CHECK(store.uri() == "sqlite:" + dir.home().string());
    CHECK(store.integrity_check() == "ok");
}

TEST_CASE("sqlite store: a database of a newer schema version is refused")
{
    TempDir dir;
    {
        SqliteStore store(dir.home());
        store.ensure_created();
    }
    {
        SqliteDb db(dir.home() / "store.db");
        db.exec("INSERT INTO schema_version(version) VALUES (99)");
    }
    SqliteStore store(dir.home());
    std::string msg;
    try {
        store.list(TaskFilter{});
    } catch (const UsageError& e) {
        msg = e.what();
    }
    CHECK(msg.find("schema version 99") != std::string::npos);
}

TEST_CASE("sqlite db: a failed statement is an SqliteError with SQLite's message; a throwing transaction rolls back")
{
    TempDir dir;
    SqliteDb db(dir / "x.db");
    db.exec("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)");
    db.query("INSERT INTO t(v) VALUES (?)").bind(1, std::int64_t{1}).run();
    std::string msg;
    try {
        db.query("INSERT INTO t(v) VALUES (?)").bind(1, std::int64_t{1}).run();
    } catch (const SqliteError& e) {
        msg = e.what();
    }
    CHECK(msg.find("UNIQUE constraint failed") != std::string::npos);
    CHECK_THROWS_AS(db.exec("SELEKT 1"), SqliteError);
    CHECK_THROWS_AS(db.transaction([&] {
        db.query("INSERT INTO t(v) VALUES (?)").bind(1, std::int64_t{2}).run();
        throw UsageError("no");
    }),
                    UsageError);
    SqliteQuery q = db.query("SELECT count(*) FROM t");
    REQUIRE(q.step());
    CHECK(q.integer(0) == 1);
}

TEST_CASE("wiring: --home sqlite:PATH opens the SQLite store; datasets and inputs use its folder")
{
    TempDir dir;
    BackendOptions options;
    options.home = "sqlite:" + dir.home().string();
    options.tracking = "local";
    options.queue = "local";
    Backends b = open_backends(options);
    REQUIRE(dynamic_cast<SqliteStore*>(b.store));
    CHECK(b.store->uri() == "sqlite:" + dir.home().string());
    // What a child process is given opens the same store.
    BackendOptions child;
    child.home = b.store->uri();
    Backends again = open_backends(child);
    CHECK(again.store->uri() == b.store->uri());
    mlrun::test::write_text(dir / "data" / "a.txt", "alpha");
    DatasetRequest req;
    req.name = "ds";
    req.paths = {dir / "data"};
    Json rec = create_dataset(*b.local, req);
    const std::string id = rec["id"].get<std::string>();
    CHECK(again.store->list_records("datasets") == std::vector<std::string>{id}); // in the database
    CHECK_FALSE(fs::exists(dir.home() / "records" / "datasets"));
    CHECK(mlrun::test::read_text(b.inputs->fetch_dataset(id) / "data" / "a.txt") == "alpha");
    CHECK_THROWS_AS(open_backends(BackendOptions{"sqlite:", "", ""}), UsageError);
}
