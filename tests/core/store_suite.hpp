#pragma once
// The behavioural suite of the TaskStore port (DESIGN §3): written once, run against every
// adapter (the folder store, SQLite):
//   MLRUN_STORE_SUITE("store suite: local", make_fixture)
// defines one TEST_CASE per behaviour, each calling `make_fixture()` once for a fresh, empty
// store that the fixture owns (capture the temp folder in it).
//
// Fixture contract: every call of `open` opens another handle on the SAME store (as two
// processes share one). Handles may be used from several threads. A forked child opens its
// own handle; the parent holds none across a fork (SQLite connections must not cross one).
// Only the port is used here, plus `integrity`, the adapter's own consistency check.
#include "core/error.hpp"
#include "core/util.hpp"
#include "ports/task_store.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace mlrun::test {

struct StoreFixture {
    // Another handle on the one store of this fixture.
    std::function<std::unique_ptr<TaskStore>()> open;
    // "ok" when the store's own storage is sound (SQLite: PRAGMA integrity_check).
    std::function<std::string()> integrity = [] { return std::string("ok"); };
    // Where scratch files for artifacts go (not inside the store).
    std::filesystem::path scratch;
    // Overwrites the stored bytes of task `id` / record kind/id with `text` behind the port's
    // back (SQL, a file write), as a torn write or a disk fault would leave them. Unset: the
    // corrupt-record case is skipped.
    std::function<void(const std::string& id, const std::string& text)> corrupt_task;
    std::function<void(const std::string& kind, const std::string& id, const std::string& text)> corrupt_record;
    std::shared_ptr<void> owner; // keeps the temp folder alive
};

namespace store_detail {

// Runs `fn` in a forked child that exits with 0 when fn returned, 1 when it threw.
template <class Fn>
pid_t fork_child(Fn fn)
{
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int code = 0;
        try {
            code = fn();
        } catch (...) {
            code = 1;
        }
        ::_exit(code);
    }
    return pid;
}

inline int wait_child(pid_t pid)
{
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A one-shot signal from a forked child to its parent: the child calls ready() once it is
// doing what the parent means to interrupt, the parent waits for it (bounded) before it does,
// so a SIGKILL never lands before the child even opened the store (as it can on a loaded
// machine, where a child may not run for longer than the parent's random delay).
class ReadyPipe {
public:
    ReadyPipe() { REQUIRE(::pipe(m_fds) == 0); }
    ~ReadyPipe()
    {
        ::close(m_fds[0]);
        ::close(m_fds[1]);
    }
    ReadyPipe(const ReadyPipe&) = delete;
    ReadyPipe& operator=(const ReadyPipe&) = delete;
    // In the child: says it is ready (again is harmless).
    void ready() const
    {
        char c = 1;
        [[maybe_unused]] ssize_t n = ::write(m_fds[1], &c, 1);
    }
    // In the parent: true once the child said so, false after timeout_ms.
    bool wait(int timeout_ms) const
    {
        pollfd p{m_fds[0], POLLIN, 0};
        int n = 0;
        while ((n = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
        }
        char c = 0;
        return n == 1 && ::read(m_fds[0], &c, 1) == 1;
    }

private:
    int m_fds[2] = {-1, -1};
};

inline Task new_task(const std::string& id = "", const std::string& project = "", const std::string& kind = "noop")
{
    Task t;
    t.id = id;
    t.name = "task " + id;
    t.project = project;
    t.kind = kind;
    return t;
}

inline std::vector<std::string> ids_of(const std::vector<Task>& tasks)
{
    std::vector<std::string> ids;
    for (const Task& t : tasks) {
        ids.push_back(t.id);
    }
    return ids;
}

inline std::string message_of(const std::function<void()>& fn)
{
    try {
        fn();
    } catch (const UsageError& e) {
        return e.what();
    }
    return "";
}

} // namespace store_detail

namespace store_cases {

using namespace store_detail;

inline void create_find_get(const StoreFixture& f)
{
    std::unique_ptr<TaskStore> store = f.open();
    Task t = new_task("", "proj/sub", "exec");
    t.params = Json{{"command", "echo hi"}, {"model", {{"lr", 0.1}}}};
    t.tags = {"b", "a"};
    t.values["acc"] = 0.5;
    store->create(t);
    REQUIRE_FALSE(t.id.empty());
    CHECK(t.created_ms > 0);
    CHECK(t.updated_ms == t.created_ms);
    std::optional<Task> found = f.open()->find(t.id);
    REQUIRE(found);
    CHECK(found->to_json() == t.to_json());
    CHECK(store->get(t.id).to_json() == t.to_json());
    CHECK_FALSE(store->find("nosuchtask"));
    CHECK_THROWS_AS(store->get("nosuchtask"), UsageError);
    // The task's folder exists once it is created.
    CHECK(std::filesystem::is_directory(store->task_dir(t.id)));
    // An id is created once.
    Task again = new_task(t.id);
    CHECK_THROWS(store->create(again));
    CHECK(store->get(t.id).name == t.name);
    // Ids given by the store are new ones.
    Task later = new_task();
    store->create(later);
    CHECK(later.id != t.id);
}

inline void resolve(const StoreFixture& f)
{
    std::unique_ptr<TaskStore> store = f.open();
    for (const char* id : {"abc123", "abc456", "xyz789"}) {
        Task t = new_task(id);
        store->create(t);
    }
    CHECK(store->resolve("abc123") == "abc123");
    CHECK(store->resolve("abc1") == "abc123");
    CHECK(store->resolve("x") == "xyz789");
    CHECK(store->get("abc4").id == "abc456");
    std::string ambiguous = message_of([&] { store->resolve("abc"); });
    CHECK(ambiguous.find("ambiguous") != std::string::npos);
    CHECK(ambiguous.find("2 tasks") != std::string::npos);
    std::string unknown = message_of([&] { store->resolve("abd123"); });
    CHECK(unknown.find("unknown task") != std::string::npos);
    CHECK(unknown.find("did you mean abc123") != std::string::npos);
    CHECK_THROWS_AS(store->resolve(""), UsageError);
    CHECK_THROWS_AS(store->resolve("qqqqqqqqqqqq"), UsageError);
    // A full id that is also a prefix of another resolves to itself.
    Task longer = new_task("abc1234");
    store->create(longer);
    CHECK(store->resolve("abc123") == "abc123");
}

inline void update_semantics(const StoreFixture& f)
{
    std::unique_ptr<TaskStore> store = f.open();
    Task t = new_task();
    t.tags = {"old"};
    store->create(t);
    Task written = store->update(t.id, [](Task& r) {
        r.status = Status::queued;
        r.tags = {"new"};
        r.values["x"] = 1;
    });
    CHECK(written.status == Status::queued);
    CHECK(written.updated_ms >= t.created_ms);
    Task stored = f.open()->get(t.id);
    CHECK(stored.to_json() == written.to_json());
    // A change that throws writes nothing.
    CHECK_THROWS_AS(store->update(t.id,
                                  [](Task& r) {
                                      r.values["x"] = 2;
                                      throw UsageError("refused");
                                  }),
                    UsageError);
    CHECK(store->get(t.id).values["x"] == 1);
    CHECK_THROWS_AS(store->update("nosuchtask", [](Task&) {}), UsageError);
    // Tags follow the record in listings.
    TaskFilter old_tag;
    old_tag.tag = "old";
    CHECK(store->list(old_tag).empty());
    TaskFilter new_tag;
    new_tag.tag = "new";
    CHECK(ids_of(store->list(new_tag)) == std::vector<std::string>{t.id});
}

inline void update_threads(const StoreFixture& f)
{
    constexpr int k_threads = 8;
    constexpr int k_updates = 50;
    std::unique_ptr<TaskStore> shared = f.open();
    Task t = new_task();
    t.values["counter"] = 0;
    shared->create(t);
    std::vector<std::thread> threads;
    for (int i = 0; i < k_threads; ++i) {
        // Half share one handle, half have their own.
        threads.emplace_back([&, i] {
            std::unique_ptr<TaskStore> own = i % 2 ? f.open() : nullptr;
            TaskStore& store = own ? *own : *shared;
            for (int n = 0; n < k_updates; ++n) {
                store.update(t.id, [&](Task& r) {
                    r.values["counter"] = r.values["counter"].get<int>() + 1;
                    r.values["by_" + std::to_string(i)] = n + 1;
                });
            }
        });
    }
    for (std::thread& th : threads) {
        th.join();
    }
    Task final_rec = shared->get(t.id);
    CHECK(final_rec.values["counter"] == k_threads * k_updates);
    for (int i = 0; i < k_threads; ++i) {
        CHECK(final_rec.values["by_" + std::to_string(i)] == k_updates);
    }
}

inline void update_processes(const StoreFixture& f)
{
    constexpr int k_procs = 8;
    constexpr int k_updates = 200;
    Task t = new_task();
    t.values["counter"] = 0;
    f.open()->create(t);
    std::vector<pid_t> pids;
    for (int p = 0; p < k_procs; ++p) {
        pids.push_back(fork_child([&] {
            std::unique_ptr<TaskStore> store = f.open();
            for (int i = 0; i < k_updates; ++i) {
                store->update(t.id, [&](Task& rec) {
                    rec.values["counter"] = rec.values["counter"].get<int>() + 1;
                    rec.values["by_" + std::to_string(p)] = i + 1;
                });
            }
            return 0;
        }));
    }
    for (pid_t pid : pids) {
        CHECK(wait_child(pid) == 0);
    }
    Task final_rec = f.open()->get(t.id);
    CHECK(final_rec.values["counter"] == k_procs * k_updates);
    for (int p = 0; p < k_procs; ++p) {
        CHECK(final_rec.values["by_" + std::to_string(p)] == k_updates);
    }
    CHECK(f.integrity() == "ok");
}

inline void list_filters(const StoreFixture& f)
{
    std::unique_ptr<TaskStore> store = f.open();
    CHECK(store->list(TaskFilter{}).empty()); // before anything exists
    struct Spec {
        const char* id;
        const char* project;
        const char* kind;
        Status status;
        const char* tag;
        const char* run;
    };
    const std::vector<Spec> specs{
        {"t01", "a", "exec", Status::draft, "x", "r1"},      {"t02", "a/b", "noop", Status::completed, "y", "r1"},
        {"t03", "a/b/c", "exec", Status::failed, "x", "r2"}, {"t04", "ab", "noop", Status::draft, "", ""},
        {"t05", "b", "exec", Status::completed, "x", "r2"},  {"t06", "", "noop", Status::queued, "y", ""},
    };
    // Created out of order: listings sort by id.
    for (size_t i : {3u, 0u, 5u, 1u, 4u, 2u}) {
        const Spec& s = specs[i];
        Task t = new_task(s.id, s.project, s.kind);
        t.status = s.status;
        if (*s.tag) {
            t.tags = {s.tag, "all"};
        }
        t.run_id = s.run;
        t.params = Json{{"p", i}};
        t.values["v"] = i;
        t.artifacts.push_back(ArtifactRecord{"f.csv", "text/csv", 3, "abc", "file:///x"});
        store->create(t);
    }
    auto ids = [&](const TaskFilter& filter) { return ids_of(store->list(filter)); };
    using V = std::vector<std::string>;
    CHECK(ids(TaskFilter{}) == V{"t01", "t02", "t03", "t04", "t05", "t06"});
    TaskFilter project;
    project.project = "a";
    CHECK(ids(project) == V{"t01", "t02", "t03"}); // subprojects, not "ab"
    project.project = "a/b";
    CHECK(ids(project) == V{"t02", "t03"});
    TaskFilter status;
    status.status = Status::completed;
    CHECK(ids(status) == V{"t02", "t05"});
    TaskFilter tag;
    tag.tag = "x";
    CHECK(ids(tag) == V{"t01", "t03", "t05"});
    TaskFilter run;
    run.run_id = "r2";
    CHECK(ids(run) == V{"t03", "t05"});
    TaskFilter kind;
    kind.kind = "noop";
    CHECK(ids(kind) == V{"t02", "t04", "t06"});
    TaskFilter both;
    both.project = "a";
    both.kind = "exec";
    both.tag = "x";
    CHECK(ids(both) == V{"t01", "t03"});
    TaskFilter none;
    none.run_id = "r9";
    CHECK(ids(none).empty());
    // Newest first and a limit, alone and with a filter.
    TaskFilter newest;
    newest.newest_first = true;
    CHECK(ids(newest) == V{"t06", "t05", "t04", "t03", "t02", "t01"});
    newest.limit = 2;
    CHECK(ids(newest) == V{"t06", "t05"});
    newest.tag = "x";
    CHECK(ids(newest) == V{"t05", "t03"});
    TaskFilter oldest;
    oldest.limit = 4;
    oldest.kind = "exec";
    CHECK(ids(oldest) == V{"t01", "t03", "t05"});
    // Light: every field but params, values and artifacts.
    TaskFilter light;
    light.light = true;
    light.project = "a";
    std::vector<Task> rows = store->list(light);
    REQUIRE(rows.size() == 3);
    for (const Task& t : rows) {
        Task full = store->get(t.id);
        CHECK(t.params.empty());
        CHECK(t.values.empty());
        CHECK(t.artifacts.empty());
        CHECK(t.name == full.name);
        CHECK(t.status == full.status);
        CHECK(t.tags == full.tags);
        CHECK(t.run_id == full.run_id);
        CHECK(t.created_ms == full.created_ms);
        CHECK_FALSE(full.params.empty());
        CHECK(full.artifacts.size() == 1);
    }
}

inline void logs(const StoreFixture& f)
{
    std::unique_ptr<TaskStore> store = f.open();
    Task t = new_task();
    store->create(t);
    CHECK(store->read_log(t.id) == "");
    store->append_log(t.id, "one\n");
    f.open()->append_log(t.id, "two\n");
    CHECK(store->read_log(t.id) == "one\ntwo\n");
    CHECK(store->read_log(t.id, 4) == "two\n");
    CHECK(store->read_log(t.id, 100) == "");
}

inline void scalars(const StoreFixture& f)
{
    std::unique_ptr<TaskStore> store = f.open();
    Task t = new_task();
    Task other = new_task();
    store->create(t);
    store->create(other);
    CHECK(store->read_scalars(t.id).empty());
    store->append_scalars(t.id, {Scalar{"loss", "train", 0, 1.0}, Scalar{"loss", "val", 0, 1.5}});
    store->append_scalars(other.id, {Scalar{"acc", "val", 0, 0.1}});
    Scalar stamped{"loss", "train", 1, 0.25};
    stamped.timestamp_ms = 1234;
    f.open()->append_scalars(t.id, {stamped});
    store->append_scalars(t.id, {});
    std::vector<Scalar> got = store->read_scalars(t.id);
    REQUIRE(got.size() == 3);
    CHECK(got[0].series == "train");
    CHECK(got[1].series == "val");
    CHECK(got[1].value == doctest::Approx(1.5));
    CHECK(got[2].iteration == 1);
    CHECK(got[2].value == doctest::Approx(0.25));
    CHECK(got[2].timestamp_ms == 1234);
    CHECK(got[0].timestamp_ms == 0);
    CHECK(store->read_scalars(other.id).size() == 1);
}

inline void scalars_killed_writer(const StoreFixture& f)
{
    Task t = new_task();
    f.open()->create(t);
    constexpr int k_batch = 50;
    std::mt19937 rng(4242);
    std::uniform_int_distribution<int> delay_us(5'000, 40'000);
    std::int64_t expect_next = 0;
    for (int round = 0; round < 3; ++round) {
        pid_t pid = fork_child([&] {
            std::unique_ptr<TaskStore> store = f.open();
            std::int64_t next = static_cast<std::int64_t>(store->read_scalars(t.id).size());
            for (;;) {
                std::vector<Scalar> batch;
                for (int i = 0; i < k_batch; ++i) {
                    batch.push_back(Scalar{"loss", std::string(200, 's'), next++, 0.5});
                }
                store->append_scalars(t.id, batch);
            }
            return 0;
        });
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
        ::kill(pid, SIGKILL);
        CHECK(wait_child(pid) == 128 + SIGKILL);
        // Whole batches in order, then at most a part of the last one: iterations 0, 1, 2…
        std::vector<Scalar> got = f.open()->read_scalars(t.id);
        CAPTURE(round);
        CAPTURE(got.size());
        CHECK(static_cast<std::int64_t>(got.size()) >= expect_next);
        bool in_order = true;
        for (size_t i = 0; i < got.size(); ++i) {
            in_order = in_order && got[i].iteration == static_cast<std::int64_t>(i) && got[i].series.size() == 200;
        }
        CHECK(in_order);
        expect_next = static_cast<std::int64_t>(got.size());
    }
    // The next writer's batch reads back whole, after what survived.
    f.open()->append_scalars(t.id, {Scalar{"loss", "after", expect_next, 1.0}});
    std::vector<Scalar> got = f.open()->read_scalars(t.id);
    REQUIRE_FALSE(got.empty());
    CHECK(got.back().series == "after");
    CHECK(f.integrity() == "ok");
}

inline void artifacts(const StoreFixture& f)
{
    std::unique_ptr<TaskStore> store = f.open();
    Task t = new_task();
    store->create(t);
    const std::filesystem::path file = f.scratch / "table.csv";
    write_text(file, "x,y\n1,2\n");
    ArtifactRecord rec = store->put_artifact(t.id, "data/table.csv", file);
    CHECK(rec.name == "data/table.csv");
    CHECK(rec.size == 8);
    CHECK(rec.sha256 == sha256_file(file));
    CHECK(rec.content_type == "text/csv");
    std::optional<std::filesystem::path> path = f.open()->artifact_path(t.id, "data/table.csv");
    REQUIRE(path);
    CHECK(read_text(*path) == "x,y\n1,2\n");
    // A folder: every file in it; its hash changes with any file's content.
    const std::filesystem::path dir = f.scratch / "model";
    write_text(dir / "w.bin", "weights");
    write_text(dir / "sub" / "cfg.json", "{}");
    ArtifactRecord folder = store->put_artifact(t.id, "model", dir);
    CHECK(folder.content_type == "inode/directory");
    CHECK(folder.size == 9);
    std::optional<std::filesystem::path> fpath = store->artifact_path(t.id, "model");
    REQUIRE(fpath);
    CHECK(read_text(*fpath / "sub" / "cfg.json") == "{}");
    write_text(dir / "w.bin", "weightz");
    CHECK(store->put_artifact(t.id, "model", dir).sha256 != folder.sha256);
    // Replacing keeps one copy.
    write_text(file, "x\n");
    CHECK(store->put_artifact(t.id, "data/table.csv", file).size == 2);
    CHECK(read_text(*store->artifact_path(t.id, "data/table.csv")) == "x\n");
    CHECK_FALSE(store->artifact_path(t.id, "absent.txt"));
    CHECK_THROWS_AS(store->put_artifact(t.id, "x.txt", f.scratch / "missing"), UsageError);
    CHECK_THROWS_AS(store->put_artifact(t.id, "../escape", file), UsageError);
}

inline void records(const StoreFixture& f)
{
    std::unique_ptr<TaskStore> store = f.open();
    CHECK(store->list_records("runs").empty());
    CHECK_FALSE(store->get_record("runs", "r1"));
    store->put_record("runs", "r2", Json{{"status", "running"}});
    store->put_record("runs", "r1", Json{{"status", "completed"}, {"steps", {1, 2}}});
    store->put_record("models", "m", Json{{"versions", Json::array()}});
    CHECK(f.open()->list_records("runs") == std::vector<std::string>{"r1", "r2"});
    CHECK(store->list_records("models") == std::vector<std::string>{"m"});
    CHECK(store->list_records("datasets").empty());
    CHECK(*store->get_record("runs", "r1") == Json{{"status", "completed"}, {"steps", {1, 2}}});
    store->put_record("runs", "r2", Json{{"status", "failed"}});
    CHECK((*store->get_record("runs", "r2"))["status"] == "failed");
    // update_record starts from null and is a read-modify-write across processes.
    Json first = store->update_record("cache", "k", [](Json& j) {
        CHECK(j.is_null());
        j = Json{{"n", 0}};
    });
    CHECK(first["n"] == 0);
    CHECK_THROWS(store->update_record("cache", "k", [](Json& j) {
        j["n"] = 99;
        throw UsageError("refused");
    }));
    store.reset();
    std::vector<pid_t> pids;
    for (int p = 0; p < 4; ++p) {
        pids.push_back(fork_child([&] {
            std::unique_ptr<TaskStore> s = f.open();
            for (int i = 0; i < 50; ++i) {
                s->update_record("cache", "k", [](Json& j) { j["n"] = j["n"].get<int>() + 1; });
            }
            return 0;
        }));
    }
    for (pid_t pid : pids) {
        CHECK(wait_child(pid) == 0);
    }
    CHECK((*f.open()->get_record("cache", "k"))["n"] == 200);
    CHECK_THROWS_AS(f.open()->put_record("bad/kind", "x", Json()), UsageError);
}

inline void clear_outputs(const StoreFixture& f)
{
    std::unique_ptr<TaskStore> store = f.open();
    Task t = new_task();
    Task other = new_task();
    store->create(t);
    store->create(other);
    const std::filesystem::path file = f.scratch / "out.txt";
    write_text(file, "body");
    for (const Task& x : {t, other}) {
        store->put_artifact(x.id, "out.txt", file);
        store->append_scalars(x.id, {Scalar{"loss", "train", 0, 1.0}});
        store->append_log(x.id, "line\n");
    }
    store->clear_outputs(t.id);
    CHECK_FALSE(store->artifact_path(t.id, "out.txt"));
    CHECK(store->read_scalars(t.id).empty());
    CHECK(store->read_log(t.id).empty());
    CHECK(store->find(t.id)); // the record stays
    // Another task's outputs are untouched.
    CHECK(store->artifact_path(other.id, "out.txt"));
    CHECK(store->read_scalars(other.id).size() == 1);
    CHECK(store->read_log(other.id) == "line\n");
}

inline void run_lock(const StoreFixture& f)
{
    auto other_process_gets = [&](const std::string& run) {
        pid_t pid = fork_child([&] { return f.open()->try_lock_run(run) ? 0 : 3; });
        return wait_child(pid) == 0;
    };
    {
        std::unique_ptr<TaskStore> store = f.open();
        std::unique_ptr<RunLock> lock = store->try_lock_run("run1");
        REQUIRE(lock);
        CHECK_FALSE(other_process_gets("run1"));
        CHECK(other_process_gets("run2"));
    }
    CHECK(other_process_gets("run1")); // released with its holder
    CHECK_THROWS_AS(f.open()->try_lock_run("../x"), UsageError);
}

inline void killed_updater(const StoreFixture& f)
{
    Task t = new_task();
    t.values["counter"] = 0;
    f.open()->create(t);
    // Counter and blob change together in one write: a torn record would not match.
    auto bump = [](Task& rec) {
        rec.values["counter"] = rec.values["counter"].get<int>() + 1;
        rec.values["blob"] = std::string(300'000, static_cast<char>('a' + rec.values["counter"].get<int>() % 26));
    };
    std::mt19937 rng(777);
    std::uniform_int_distribution<int> delay_us(5'000, 80'000);
    int last_counter = 0;
    for (int round = 0; round < 4; ++round) {
        ReadyPipe looping;
        pid_t pid = fork_child([&] {
            std::unique_ptr<TaskStore> store = f.open();
            store->update(t.id, bump);
            looping.ready(); // the kill is to land in the loop, not before it
            for (;;) {
                store->update(t.id, bump);
            }
            return 0;
        });
        const bool started = looping.wait(60'000);
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
        ::kill(pid, SIGKILL);
        CHECK(wait_child(pid) == 128 + SIGKILL);
        CAPTURE(round);
        REQUIRE_MESSAGE(started, "the updater did not complete its first update within 60 s");
        {
            std::unique_ptr<TaskStore> store = f.open();
            std::optional<Task> rec;
            CHECK_NOTHROW(rec = store->find(t.id));
            REQUIRE(rec);
            const int counter = rec->values["counter"].get<int>();
            CHECK(counter > last_counter); // the child's first update at least
            if (counter > 0) {
                // The blob belongs to the same write as the counter: the record is whole.
                const bool whole = rec->values["blob"].get<std::string>()
                                   == std::string(300'000, static_cast<char>('a' + counter % 26));
                CHECK(whole);
            }
            // The dead writer's lock is gone with it: the next update goes through.
            Task next = store->update(t.id, bump);
            CHECK(next.values["counter"] == counter + 1);
            last_counter = counter + 1;
        }
        CHECK(f.integrity() == "ok");
    }
    CHECK(last_counter >= 8); // each round: the child's updates (one at least) and the parent's
}

// A writer looping create + update, SIGKILLed at random moments 24 times: every record
// left is whole (its blob matches its counter), every created task is found, and the
// store's own storage is sound after each kill.
inline void killed_writer_repeated(const StoreFixture& f)
{
    auto blob_of = [](int counter) { return std::string(100'000, static_cast<char>('a' + counter % 26)); };
    std::mt19937 rng(4242);
    std::uniform_int_distribution<int> delay_us(1'000, 30'000);
    for (int round = 0; round < 24; ++round) {
        pid_t pid = fork_child([&] {
            std::unique_ptr<TaskStore> store = f.open();
            for (;;) {
                Task t = new_task("", "kill" + std::to_string(round));
                t.values["counter"] = 0;
                t.values["blob"] = blob_of(0);
                store->create(t);
                for (int k = 0; k < 3; ++k) {
                    store->update(t.id, [&](Task& rec) {
                        const int c = rec.values["counter"].get<int>() + 1;
                        rec.values["counter"] = c;
                        rec.values["blob"] = blob_of(c);
                    });
                }
            }
            return 0;
        });
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
        ::kill(pid, SIGKILL);
        CHECK(wait_child(pid) == 128 + SIGKILL);
        CAPTURE(round);
        std::unique_ptr<TaskStore> store = f.open();
        for (const Task& listed : store->list(TaskFilter{})) {
            std::optional<Task> rec;
            CHECK_NOTHROW(rec = store->find(listed.id));
            REQUIRE(rec);
            const int counter = rec->values["counter"].get<int>();
            CHECK(rec->values["blob"].get<std::string>() == blob_of(counter));
        }
        CHECK(f.integrity() == "ok");
    }
}

// A task and a record whose stored bytes do not decode: find throws CorruptRecord (a cache
// miss to the engine, never a crash), list skips the task unless include_corrupt (then it
// is listed as corrupt, by id), count still counts it, the other tasks read as before; the
// quarantine moves each out of the way keeping its bytes, and the store is clean after.
inline void corrupt_records(const StoreFixture& f)
{
    if (!f.corrupt_task || !f.corrupt_record) {
        return;
    }
    std::unique_ptr<TaskStore> store = f.open();
    Task good = new_task("", "proj");
    store->create(good);
    Task bad = new_task("", "proj");
    store->create(bad);
    Task wrong = new_task("", "proj");
    store->create(wrong);
    store->put_record("runs", "r1", Json{{"id", "r1"}});
    store->put_record("runs", "r2", Json{{"id", "r2"}});
    store.reset();
    const std::string torn = "{\"id\": \"" + bad.id + "\", \"na";
    f.corrupt_task(bad.id, torn);
    f.corrupt_task(wrong.id, R"({"id": 42, "status": "no such status"})"); // JSON, not a task
    f.corrupt_record("runs", "r2", "{\"id\": \"r");

    store = f.open();
    CHECK_THROWS_AS(store->find(bad.id), CorruptRecord);
    CHECK_THROWS_AS(store->find(wrong.id), CorruptRecord);
    CHECK(store->find(good.id)->name == good.name);
    CHECK_THROWS_AS(store->get_record("runs", "r2"), CorruptRecord);
    CHECK(store->get_record("runs", "r1")->value("id", "") == "r1");
    CHECK(ids_of(store->list(TaskFilter{})) == std::vector<std::string>{good.id});
    TaskFilter with_corrupt;
    with_corrupt.include_corrupt = true;
    std::vector<Task> listed = store->list(with_corrupt);
    REQUIRE(listed.size() == 3);
    std::set<std::string> corrupt_ids;
    for (const Task& t : listed) {
        if (!t.corrupt.empty()) {
            corrupt_ids.insert(t.id);
        }
    }
    CHECK(corrupt_ids == std::set<std::string>{bad.id, wrong.id});
    // The same through each(), newest first (descending id) and cut (a listing page).
    std::vector<std::string> newest = ids_of(listed);
    std::reverse(newest.begin(), newest.end());
    newest.resize(2);
    with_corrupt.newest_first = true;
    with_corrupt.limit = 2;
    std::vector<std::string> page;
    store->each(with_corrupt, [&](const Task& t) { page.push_back(t.id); });
    CHECK(page == newest);
    CHECK(store->count(TaskFilter{}) >= 1);

    // Quarantined: gone from the store, its bytes kept in a file; the others untouched.
    namespace fs = std::filesystem;
    const std::string where = store->quarantine_task(bad.id);
    CHECK(read_text(fs::path(where) / "task.json").find(torn) != std::string::npos);
    store->quarantine_task(wrong.id);
    const std::string rec_where = store->quarantine_record("runs", "r2");
    CHECK(read_text(rec_where).find("{\"id\": \"r") != std::string::npos);
    CHECK_FALSE(f.open()->find(bad.id));
    CHECK_FALSE(fs::exists(store->task_dir(bad.id)));
    CHECK_FALSE(f.open()->get_record("runs", "r2"));
    CHECK(ids_of(f.open()->list(with_corrupt)) == std::vector<std::string>{good.id});
    CHECK(f.open()->list_records("runs") == std::vector<std::string>{"r1"});
    CHECK(f.open()->count(TaskFilter{}) == 1);
    CHECK(f.integrity() == "ok");
}

} // namespace store_cases

} // namespace mlrun::test

// One behaviour of the store suite as its own TEST_CASE, named "<adapter>: <behaviour>".
#define MLRUN_STORE_CASE(adapter, make_fixture, fn, title)                                                             \
    TEST_CASE(adapter ": " title)                                                                                      \
    {                                                                                                                  \
        mlrun::test::store_cases::fn(make_fixture());                                                                  \
    }

#define MLRUN_STORE_SUITE(adapter, make_fixture)                                                                       \
    MLRUN_STORE_CASE(adapter, make_fixture, create_find_get,                                                           \
                     "create assigns id and times; find and get read it back; an id is created once")                  \
    MLRUN_STORE_CASE(adapter, make_fixture, resolve,                                                                   \
                     "resolve takes full ids and unique prefixes; ambiguous and unknown ones are usage errors")        \
    MLRUN_STORE_CASE(adapter, make_fixture, update_semantics,                                                          \
                     "update writes the changed record, nothing when the change throws, and moves its tags")           \
    MLRUN_STORE_CASE(adapter, make_fixture, update_threads, "8 threads updating one task lose no update")              \
    MLRUN_STORE_CASE(adapter, make_fixture, update_processes, "8 processes x 200 updates of one task lose no update")  \
    MLRUN_STORE_CASE(adapter, make_fixture, list_filters,                                                              \
                     "list filters by project (with subprojects), status, tag, run and kind; light drops the bulk")    \
    MLRUN_STORE_CASE(adapter, make_fixture, logs, "logs append and read back from an offset")                          \
    MLRUN_STORE_CASE(adapter, make_fixture, scalars, "scalars read back in the order appended, per task")              \
    MLRUN_STORE_CASE(adapter, make_fixture, scalars_killed_writer,                                                     \
                     "a scalar writer killed mid-batch costs at most its last batch")                                  \
    MLRUN_STORE_CASE(adapter, make_fixture, artifacts, "artifacts: files and folders with size and sha256")            \
    MLRUN_STORE_CASE(adapter, make_fixture, records,                                                                   \
                     "records put, get, list and update, across processes without a lost update")                      \
    MLRUN_STORE_CASE(adapter, make_fixture, clear_outputs,                                                             \
                     "clear_outputs removes a task's artifacts, scalars and log, nothing else")                        \
    MLRUN_STORE_CASE(adapter, make_fixture, run_lock, "try_lock_run is exclusive across processes")                    \
    MLRUN_STORE_CASE(adapter, make_fixture, killed_updater,                                                            \
                     "a process killed while looping update leaves the record whole and unlocked")                     \
    MLRUN_STORE_CASE(adapter, make_fixture, killed_writer_repeated,                                                    \
                     "a writer looping create and update, killed 24 times, leaves no torn record")                     \
    MLRUN_STORE_CASE(adapter, make_fixture, corrupt_records,                                                           \
                     "a record that does not decode is CorruptRecord, listed as corrupt on request, quarantined")
