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

#include <algorithm>
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
    f.corrupt_task = [home = dir->home()](const std::string& id, const std::string& text) {
        mlrun::test::write_text(home / "tasks" / id / "task.json", text);
    };
    f.corrupt_record = [home = dir->home()](const std::string& kind, const std::string& id, const std::string& text) {
        mlrun::test::write_text(home / "records" / kind / (id + ".json"), text);
    };
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
    f.corrupt_task = [home = dir->home()](const std::string& id, const std::string& text) {
        SqliteDb db(home / "store.db");
        db.query("UPDATE tasks SET record = ?, summary = ? WHERE id = ?").bind(1, text).bind(2, text).bind(3, id).run();
    };
    f.corrupt_record = [home = dir->home()](const std::string& kind, const std::string& id, const std::string& text) {
        SqliteDb db(home / "store.db");
        db.query("UPDATE records SET json = ? WHERE kind = ? AND id = ?").bind(1, text).bind(2, kind).bind(3, id).run();
    };
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

namespace {

// The plan as one string, for messages.
std::string joined(const std::vector<std::string>& lines)
{
    std::string out;
    for (const std::string& l : lines) {
        out += l + "; ";
    }
    return out;
}

bool any_line(const std::vector<std::string>& lines, const std::string& text)
{
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

} // namespace

TEST_CASE("sqlite store: every task list filter, count, show and cache lookup is an indexed query (query plans)")
{
    TempDir dir;
    SqliteStore store(dir.home());
    // A few of each shape: the plans do not depend on the amount (no ANALYZE), the project
    // family does (a project with two subprojects).
    for (const char* project : {"proj", "proj/a", "proj/b", "other"}) {
        for (int i = 0; i < 3; ++i) {
            Task t;
            t.kind = i ? "noop" : "exec";
            t.project = project;
            t.run_id = std::string("run-") + project[0];
            t.tags = {"t" + std::to_string(i)};
            store.create(t);
        }
    }
    auto page = [](TaskFilter f) {
        f.newest_first = true;
        f.limit = 50;
        f.light = true;
        return f;
    };
    TaskFilter none;
    TaskFilter by_run;
    by_run.run_id = "run-p";
    TaskFilter by_status;
    by_status.status = Status::draft;
    TaskFilter by_tag;
    by_tag.tag = "t1";
    TaskFilter by_kind;
    by_kind.kind = "exec";
    TaskFilter by_project;
    by_project.project = "proj";
    TaskFilter run_and_status = by_run;
    run_and_status.status = Status::in_progress; // what a resumed run lists
    TaskFilter tag_and_status = by_tag;
    tag_and_status.status = Status::draft;
    struct Case {
        std::string what;
        TaskFilter filter;
        std::string index; // the index the plan must walk
    };
    const std::vector<Case> cases{
        {"task list --limit 50", page(none), "sqlite_autoindex_tasks_1"},
        {"task list --run R", page(by_run), "tasks_run"},
        {"the run's own tasks (engine)", by_run, "tasks_run"},
        {"a run's tasks in progress", run_and_status, "tasks_run"},
        {"task list --status", page(by_status), "tasks_status"},
        {"task list --tag", page(by_tag), "tags_tag"},
        {"task list --tag --status", page(tag_and_status), "tags_tag"},
        {"task list --kind", page(by_kind), "tasks_kind"},
        {"task list --project (with subprojects)", page(by_project), "tasks_project"},
    };
    for (const Case& c : cases) {
        const std::vector<std::string> plan = store.query_plan(c.filter);
        CAPTURE(c.what);
        CAPTURE(joined(plan));
        CHECK((any_line(plan, "USING INDEX " + c.index) || any_line(plan, "USING COVERING INDEX " + c.index)));
        // In index order: no sort of the matching rows. (A union of project arms sorts only the
        // arms' few rows: "USE TEMP B-TREE" above the arms, each arm cut at the limit.)
        if (c.filter.project.empty()) {
            CHECK_FALSE(any_line(plan, "TEMP B-TREE"));
        } else {
            CHECK(any_line(plan, "UNION ALL"));
        }
        // Never a walk of the whole table other than the id index cut at the limit.
        for (const std::string& line : plan) {
            if (line.rfind("SCAN ", 0) == 0 && line.find("SCAN tasks USING INDEX sqlite_autoindex_tasks_1") == 0) {
                CHECK(c.filter.limit != 0);
            } else if (line.rfind("SCAN tasks", 0) == 0 || line.rfind("SCAN tags", 0) == 0) {
                FAIL_CHECK("a full scan: " << line);
            }
        }
        // The answer is what matching every record gives, in the same order.
        std::vector<std::string> expected;
        TaskFilter everything;
        everything.newest_first = c.filter.newest_first;
        for (const Task& t : store.list(everything)) {
            if (matches(t, c.filter)) {
                expected.push_back(t.id);
            }
        }
        std::vector<std::string> got;
        for (const Task& t : store.list(c.filter)) {
            got.push_back(t.id);
        }
        CHECK(got == expected);
        CHECK(store.count(c.filter) == expected.size());
    }
    // Counts: the unfiltered one reads the trigger-kept row, the others an index.
    CHECK(store.query_plan(none, true) == std::vector<std::string>{"SCAN task_count"});
    for (const TaskFilter& f : {by_run, by_status, by_tag, by_kind, by_project, tag_and_status}) {
        const std::vector<std::string> plan = store.query_plan(f, true);
        CAPTURE(joined(plan));
        CHECK_FALSE(any_line(plan, "SCAN tasks"));
        CHECK_FALSE(any_line(plan, "SCAN tags"));
    }
    CHECK(store.count(none) == 12);
}

TEST_CASE("sqlite store: a version-1 database is migrated to the task count of version 2 in place")
{
    TempDir dir;
    std::vector<std::string> ids;
    {
        SqliteStore store(dir.home());
        for (int i = 0; i < 5; ++i) {
            Task t;
            t.kind = "noop";
            store.create(t);
            ids.push_back(t.id);
        }
    }
    {
        // Back to what version 1 had.
        SqliteDb db(dir.home() / "store.db");
        db.exec("DROP TRIGGER task_count_insert; DROP TRIGGER task_count_delete; DROP TABLE task_count; "
                "DELETE FROM schema_version WHERE version = 2");
    }
    SqliteStore store(dir.home());
    CHECK(store.count(TaskFilter{}) == 5);
    Task more;
    more.kind = "noop";
    store.create(more);
    CHECK(store.count(TaskFilter{}) == 6);
    store.quarantine_task(ids[0]);
    CHECK(store.count(TaskFilter{}) == 5);
    CHECK(store.list(TaskFilter{}).size() == 5);
    SqliteDb db(dir.home() / "store.db");
    SqliteQuery v = db.query("SELECT count(*), max(version) FROM schema_version");
    REQUIRE(v.step());
    CHECK(v.integer(0) == k_sqlite_schema_version);
    CHECK(v.integer(1) == k_sqlite_schema_version);
}
