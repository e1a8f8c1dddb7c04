// Issue 12, classes 1, 3, 4 and 5: a full disk, a corrupt record, a dead run, a crash in a
// thread, and odd input, each ending cleanly (one line, a recorded failure, no temp file,
// nothing left claiming to run). The full-disk and read-only cases mount a tiny tmpfs
// (root only; skipped with a message otherwise).
#include "engine_test_util.hpp"

#include "core/crash.hpp"
#include "engine/plan.hpp"
#include "store/sqlite_db.hpp"

#include <doctest/doctest.h>

#include <sys/mount.h>

#include <fstream>
#include <set>

using namespace mlrun;
namespace fs = std::filesystem;
using mlrun::test::Background;
using mlrun::test::RunResult;
using mlrun::test::TempDir;

namespace {

// A tmpfs of `size` at <temp>/disk, unmounted when destroyed; ok() is false when mount(2)
// is not allowed here (not root, no CAP_SYS_ADMIN).
class TinyDisk {
public:
    explicit TinyDisk(const TempDir& dir, const std::string& size = "2m") : m_path(dir / "disk")
    {
        fs::create_directories(m_path);
        std::string opts = "size=" + size;
        m_ok = ::mount("tmpfs", m_path.c_str(), "tmpfs", 0, opts.c_str()) == 0;
    }
    ~TinyDisk()
    {
        if (m_ok) {
            ::umount2(m_path.c_str(), MNT_DETACH);
        }
    }
    TinyDisk(const TinyDisk&) = delete;
    TinyDisk& operator=(const TinyDisk&) = delete;
    bool ok() const { return m_ok; }
    const fs::path& path() const { return m_path; }
    // Remounts it read-only.
    bool make_read_only() const
    {
        return ::mount("tmpfs", m_path.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, nullptr) == 0;
    }

private:
    fs::path m_path;
    bool m_ok = false;
};

// `mlrun --templates <src>/templates --home HOME ARGS` with extra environment.
RunResult mlrun_at(const TempDir& dir, const std::string& home, std::vector<std::string> args,
                   const std::map<std::string, std::string>& env = {})
{
    args.insert(args.begin(), {"--templates", mlrun::test::k_templates, "--home", home});
    return mlrun::test::run(dir, args, env);
}

// Every "*.tmp.*" file and ".staging-*" folder under root.
std::vector<std::string> temp_files(const fs::path& root)
{
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (name.find(".tmp.") != std::string::npos || name.rfind(".staging-", 0) == 0) {
            out.push_back(it->path().string());
        }
    }
    return out;
}

// Regular files anywhere under `dir`.
size_t count_files(const fs::path& dir)
{
    size_t n = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        n += it->is_regular_file() ? 1 : 0;
    }
    return n;
}

// Task records (as `task list --json`) of the store.
Json task_list(const TempDir& dir, const std::string& home)
{
    RunResult r = mlrun_at(dir, home, {"task", "list", "--json"});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return Json::parse(r.out);
}

void check_clean_exit(const RunResult& r)
{
    CHECK(r.code != 134);
    CHECK(r.code != 139);
    CHECK(r.err.find("terminate called") == std::string::npos);
}

// The folder store and the SQLite store at <temp>/<name>.
std::vector<std::string> homes(const TempDir& dir, const std::string& name = "store")
{
    return {"folder:" + (dir / name).string(), "sqlite:" + (dir / (name + "-sqlite")).string()};
}

fs::path root_of(const std::string& home)
{
    for (const char* scheme : {"sqlite:", "folder:"}) {
        if (home.rfind(scheme, 0) == 0) {
            return fs::path(home.substr(std::string(scheme).size()));
        }
    }
    return fs::path(home);
}

} // namespace

TEST_CASE("hardening: a full disk fails the step, the run, a dataset create and an artifact upload cleanly (io)")
{
    TempDir dir;
    TinyDisk disk(dir);
    if (!disk.ok()) {
        MESSAGE("skipped: cannot mount a tmpfs here (needs root): " << std::strerror(errno));
        return;
    }
    for (const std::string& home :
         {"folder:" + (disk.path() / "folder").string(), "sqlite:" + (disk.path() / "sq").string()}) {
        CAPTURE(home);
        const fs::path root = root_of(home);
        // 1.2 MB fits the 2 MB disk once, not twice: the artifact copy of big.bin hits ENOSPC.
        mlrun::test::write_text(dir / "full.yaml", R"(name: full
steps:
  - {name: big, template: exec, params: {command: "head -c 1200000 /dev/zero > $MLRUN_OUTPUT_DIR/big.bin"}}
  - {name: after, template: noop, parents: [big]}
)");
        RunResult r = mlrun_at(dir, home, {"pipeline", "run", "-q", (dir / "full.yaml").string()});
        CAPTURE(r.out);
        CAPTURE(r.err);
        check_clean_exit(r);
        CHECK(r.code == 1);
        Json tasks = task_list(dir, home);
        REQUIRE(tasks.size() == 1);
        CHECK(tasks[0]["status"] == "failed");
        CHECK(tasks[0]["error_class"] == "io");
        CHECK(!tasks[0]["error"].get<std::string>().empty()); // ENOSPC or EIO: tmpfs says either
        RunResult show = mlrun_at(dir, home, {"pipeline", "show", "--json", tasks[0]["run_id"].get<std::string>()});
        REQUIRE_MESSAGE(show.code == 0, show.err);
        Json run = Json::parse(show.out);
        CHECK(run["status"] == "failed");
        CHECK(temp_files(root).empty());

        // dataset create of 3 MB: refused by the disk, nothing left behind.
        mlrun::test::write_text(dir / "data" / "a.bin", std::string(3'000'000, 'x'));
        RunResult ds = mlrun_at(dir, home, {"dataset", "create", "--name", "d", (dir / "data").string()});
        CAPTURE(ds.err);
        check_clean_exit(ds);
        CHECK(ds.code == 1);
        CHECK(mlrun::test::lines_of(ds.err).size() == 1);
        CHECK(temp_files(root).empty());
        CHECK(count_files(root / "blobs") + count_files(root / "datasets") == 0);

        // artifact upload of 3 MB into a task: refused, no temp copy, the task unchanged.
        std::string id = mlrun::test::trim(mlrun_at(dir, home, {"task", "create", "noop"}).out);
        RunResult art = mlrun_at(dir, home,
                                 {"log", "--task", id, "artifact", "big", (dir / "data" / "a.bin").string()});
        CAPTURE(art.err);
        check_clean_exit(art);
        CHECK(art.code == 1);
        CHECK(temp_files(root).empty());
        RunResult after = mlrun_at(dir, home, {"task", "show", "--json", id});
        REQUIRE(after.code == 0);
        CHECK(Json::parse(after.out)["artifacts"].empty());

        // Nothing claims to run.
        for (const Json& t : task_list(dir, home)) {
            CHECK(t["status"] != "in_progress");
        }
        RunResult list = mlrun_at(dir, home, {"pipeline", "list"});
        CHECK(list.out.find("running") == std::string::npos);
        std::error_code ec;
        fs::remove_all(root, ec);
    }
}

TEST_CASE("hardening: a read-only store says read-only, not \"still running in another process\"")
{
    TempDir dir;
    TinyDisk disk(dir);
    if (!disk.ok()) {
        MESSAGE("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    const std::string home = (disk.path() / "store").string();
    mlrun::test::write_text(dir / "p.yaml", "name: ro\nsteps:\n  - {name: a, template: noop}\n");
    REQUIRE(mlrun_at(dir, home, {"pipeline", "run", "-q", (dir / "p.yaml").string()}).code == 0);
    REQUIRE(disk.make_read_only());
    RunResult r = mlrun_at(dir, home, {"pipeline", "run", "-q", "--no-cache", (dir / "p.yaml").string()});
    CAPTURE(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find("read-only") != std::string::npos);
    CHECK(r.err.find("still running") == std::string::npos);
}

TEST_CASE("hardening: an exception nobody catches in a thread ends in a recorded failure and exit 1")
{
    TempDir dir;
    const std::string home = dir.home().string();
    std::string id = mlrun::test::trim(mlrun_at(dir, home, {"task", "create", "noop"}).out);
    RunResult r = mlrun_at(dir, home, {"task", "run", "-q", id}, {{"MLRUN_TEST_CRASH", "thread"}});
    CAPTURE(r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find("terminate called") == std::string::npos);
    CHECK(r.err.find("mlrun: fatal: uncaught exception: injected crash") != std::string::npos);
    Json t = mlrun::test::show_json(dir, id);
    CHECK(t["status"] == "failed");
    CHECK(t["error_class"] == k_error_class_crash);

    // In a pipeline: the step and the run end failed, exit 1.
    mlrun::test::write_text(dir / "p.yaml", "name: crash\nsteps:\n  - {name: a, template: noop}\n");
    RunResult p = mlrun_at(dir, home, {"pipeline", "run", "-q", (dir / "p.yaml").string()},
                           {{"MLRUN_TEST_CRASH", "thread"}});
    CAPTURE(p.err);
    CHECK(p.code == 1);
    CHECK(p.err.find("terminate called") == std::string::npos);
    RunResult list = mlrun_at(dir, home, {"pipeline", "list"});
    CHECK(list.out.find("failed") != std::string::npos);
    CHECK(list.out.find("running") == std::string::npos);
    for (const Json& task : task_list(dir, home)) {
        CHECK(task["status"] != "in_progress");
    }
}

TEST_CASE("hardening: a crash scope records the failure; record_crash survives a recorder that throws")
{
    std::vector<std::string> seen;
    {
        CrashScope outer([&](const std::string& what) { seen.push_back("outer: " + what); });
        CrashScope thrower([](const std::string&) { throw std::runtime_error("store gone"); });
        CrashScope inner([&](const std::string& what) { seen.push_back("inner: " + what); });
        record_crash("boom", 2000);
    }
    CHECK(seen == std::vector<std::string>{"inner: boom", "outer: boom"}); // newest first
    seen.clear();
    record_crash("after", 2000); // the scopes are gone
    CHECK(seen.empty());
}

TEST_CASE("hardening: a corrupt task record is a cache miss with a warning, listed as corrupt, repaired by "
          "store check")
{
    TempDir dir;
    for (const std::string& home : homes(dir)) {
        CAPTURE(home);
        mlrun::test::write_text(dir / "p.yaml", R"(name: corrupt
steps:
  - {name: a, template: noop, params: {value: 1}}
  - {name: b, template: noop, parents: [a], params: {value: 2}}
)");
        RunResult first = mlrun_at(dir, home, {"pipeline", "run", "-q", (dir / "p.yaml").string()});
        REQUIRE_MESSAGE(first.code == 0, first.err);
        const std::string run_id = mlrun::test::run_id_of(first.out);
        Json tasks = task_list(dir, home);
        REQUIRE(tasks.size() == 2);
        std::string a_id, b_id;
        for (const Json& t : tasks) {
            (t["step"] == "a" ? a_id : b_id) = t["id"].get<std::string>();
        }
        // Truncate a's record in the middle.
        const fs::path root = root_of(home);
        if (home.rfind("sqlite:", 0) == 0) {
            SqliteDb db(root / "store.db");
            db.query("UPDATE tasks SET record = '{\"id\": \"trunc', summary = '{\"id' WHERE id = ?")
                .bind(1, a_id)
                .run();
        } else {
            std::string text = mlrun::test::read_text(root / "tasks" / a_id / "task.json");
            mlrun::test::write_text(root / "tasks" / a_id / "task.json", text.substr(0, text.size() / 2));
        }

        // task list shows it, as corrupt.
        RunResult list = mlrun_at(dir, home, {"task", "list"});
        CHECK(list.code == 0);
        CHECK(list.out.find(a_id) != std::string::npos);
        CHECK(list.out.find("corrupt") != std::string::npos);

        // --resume of the completed run reruns only a; b is reused (cached or kept).
        RunResult resumed = mlrun_at(dir, home, {"pipeline", "run", "--resume", run_id, "-q"});
        CAPTURE(resumed.out);
        CAPTURE(resumed.err);
        CHECK(resumed.code == 0);
        RunResult show = mlrun_at(dir, home, {"pipeline", "show", "--json", run_id});
        REQUIRE(show.code == 0);
        Json run = Json::parse(show.out);
        CHECK(run["status"] == "completed");
        std::map<std::string, std::string> ids = mlrun::test::node_tasks(run);
        CHECK(ids["a"] != a_id);
        CHECK(ids["b"] == b_id);

        // A fresh run of the same pipeline: completes (cache hits on the new a).
        RunResult again = mlrun_at(dir, home, {"pipeline", "run", "-q", (dir / "p.yaml").string()});
        CHECK_MESSAGE(again.code == 0, again.err);

        // store check finds it (exit 1), --repair quarantines it, then the store is clean.
        RunResult check = mlrun_at(dir, home, {"store", "check"});
        CAPTURE(check.out);
        CHECK(check.code == 1);
        CHECK(check.out.find("corrupt_task") != std::string::npos);
        CHECK(check.out.find(a_id) != std::string::npos);
        RunResult repair = mlrun_at(dir, home, {"store", "check", "--repair"});
        CAPTURE(repair.out);
        CHECK(repair.code == 1);
        CHECK(repair.out.find("quarantined") != std::string::npos);
        CHECK(fs::exists(root / "quarantine" / "tasks"));
        RunResult clean = mlrun_at(dir, home, {"store", "check"});
        CAPTURE(clean.out);
        CHECK(clean.code == 0);
        CHECK(clean.out.find("store is clean") != std::string::npos);
        CHECK(task_list(dir, home).size() == 2); // the rerun a and b
    }
}

TEST_CASE("hardening: store check finds temp files, dangling blobs and corrupt records; --repair moves them aside")
{
    TempDir dir;
    for (const std::string& home : homes(dir)) {
        CAPTURE(home);
        const fs::path root = root_of(home);
        mlrun::test::write_text(dir / "data" / "x.csv", "a,b\n1,2\n");
        REQUIRE(mlrun_at(dir, home, {"dataset", "create", "--name", "d", (dir / "data").string()}).code == 0);
        REQUIRE(mlrun_at(dir, home, {"store", "check"}).code == 0);
        const auto old = fs::file_time_type::clock::now() - std::chrono::hours(1);
        // A temp file a killed write left, a blob no dataset names.
        mlrun::test::write_text(root / "blobs" / "ab" / "abcd.tmp.123", "partial");
        mlrun::test::write_text(root / "blobs" / "ab" / "abcdef", "orphan");
        fs::last_write_time(root / "blobs" / "ab" / "abcd.tmp.123", old);
        fs::last_write_time(root / "blobs" / "ab" / "abcdef", old);
        // A young temp file: maybe a write going on now, left alone.
        mlrun::test::write_text(root / "blobs" / "ab" / "young.tmp.1", "busy");
        RunResult check = mlrun_at(dir, home, {"store", "check", "--json"});
        CAPTURE(check.out);
        CHECK(check.code == 1);
        Json findings = Json::parse(check.out);
        std::set<std::string> kinds;
        for (const Json& f : findings) {
            kinds.insert(f["kind"].get<std::string>());
            CHECK(f["where"].get<std::string>().find("young") == std::string::npos);
        }
        CHECK(kinds == std::set<std::string>{"temp_file", "dangling_blob"});
        RunResult repair = mlrun_at(dir, home, {"store", "check", "--repair"});
        CHECK(repair.code == 1);
        CHECK(!fs::exists(root / "blobs" / "ab" / "abcdef"));
        CHECK(!fs::exists(root / "blobs" / "ab" / "abcd.tmp.123"));
        CHECK(fs::exists(root / "blobs" / "ab" / "young.tmp.1"));
        CHECK(mlrun::test::count_entries(root / "quarantine" / "blobs" / "ab") == 2);
        RunResult clean = mlrun_at(dir, home, {"store", "check"});
        CHECK_MESSAGE(clean.code == 0, clean.out);
        // The dataset is still whole.
        CHECK(mlrun_at(dir, home, {"dataset", "list"}).out.find("d") != std::string::npos);
    }
}

TEST_CASE("hardening: a killed driver's run shows dead (not running); store check --repair marks it driver_lost")
{
    TempDir dir;
    for (const std::string& home : homes(dir)) {
        CAPTURE(home);
        mlrun::test::write_text(dir / "slow.yaml", R"(name: slow
steps:
  - {name: wait, template: noop, params: {sleep_ms: 60000, stages: 600}}
)");
        Background bg(dir, {"--home", home, "pipeline", "run", "-q", (dir / "slow.yaml").string()});
        // Wait until the run is recorded and its step started.
        std::string run_id;
        for (int i = 0; i < 300 && run_id.empty(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            for (const Json& t : task_list(dir, home)) {
                if (t["status"] == "in_progress") {
                    run_id = t["run_id"].get<std::string>();
                }
            }
        }
        REQUIRE(!run_id.empty());
        RunResult alive = mlrun_at(dir, home, {"pipeline", "list"});
        CHECK(alive.out.find("running") != std::string::npos);
        CHECK(alive.out.find("dead") == std::string::npos);
        CHECK(mlrun_at(dir, home, {"store", "check"}).out.find("dead_run") == std::string::npos);

        bg.signal(SIGKILL);
        CHECK(bg.wait(10) == 128 + SIGKILL);
        std::this_thread::sleep_for(std::chrono::milliseconds(300)); // its child dies with it

        RunResult dead = mlrun_at(dir, home, {"pipeline", "list"});
        CAPTURE(dead.out);
        CHECK(dead.out.find("dead") != std::string::npos);
        RunResult show = mlrun_at(dir, home, {"pipeline", "show", run_id});
        CHECK(show.out.find("dead") != std::string::npos);
        CHECK(show.out.find("--resume") != std::string::npos);

        RunResult check = mlrun_at(dir, home, {"store", "check"});
        CHECK(check.code == 1);
        CHECK(check.out.find("dead_run") != std::string::npos);
        RunResult repair = mlrun_at(dir, home, {"store", "check", "--repair"});
        CAPTURE(repair.out);
        CHECK(repair.code == 1);
        Json run = Json::parse(mlrun_at(dir, home, {"pipeline", "show", "--json", run_id}).out);
        CHECK(run["status"] == "failed");
        CHECK(run["error_class"] == "driver_lost");
        for (const Json& t : task_list(dir, home)) {
            CHECK(t["status"] == "failed");
            CHECK(t["error_class"] == "driver_lost");
        }
        CHECK(mlrun_at(dir, home, {"store", "check"}).code == 0);
    }
}

TEST_CASE("hardening: under trigger all_done an aborted model counts as done: the summary runs, the run completes")
{
    StepSpec train;
    train.name = "train";
    train.template_name = "noop";
    train.foreach_key = "value";
    train.foreach_values = {"a", "b"};
    StepSpec summary;
    summary.name = "summary";
    summary.template_name = "noop";
    summary.parents = {"train"};
    summary.trigger = Trigger::all_done;
    PipelineSpec spec;
    spec.file = "p.yaml";
    spec.policy = Policy::partial;
    spec.steps = {train, summary};
    Plan plan(spec);
    CHECK(plan.take_ready().size() == 2);
    plan.finished(plan.find("train::a"), NodeState::completed);
    plan.finished(plan.find("train::b"), NodeState::aborted, "aborted by the user"); // `task abort`, not Ctrl-C
    std::vector<size_t> ready = plan.take_ready();
    REQUIRE(ready.size() == 1);
    CHECK(plan.nodes()[ready[0]].name == "summary");
    plan.finished(ready[0], NodeState::completed);
    std::string why;
    CHECK_MESSAGE(plan.succeeded(why), why);

    // Ctrl-C (the run cancelled) still stops the summary.
    Plan cancelled(spec);
    cancelled.take_ready();
    cancelled.cancel("interrupted");
    cancelled.finished(cancelled.find("train::a"), NodeState::aborted, "interrupted");
    cancelled.finished(cancelled.find("train::b"), NodeState::aborted, "interrupted");
    CHECK(cancelled.take_ready().empty());
    CHECK(cancelled.nodes()[cancelled.find("summary")].state == NodeState::aborted);
}

TEST_CASE("hardening: limits and odd input are one line and exit 2")
{
    TempDir dir;
    const std::string home = dir.home().string();
    std::string id = mlrun::test::trim(mlrun_at(dir, home, {"task", "create", "noop"}).out);
    REQUIRE(!id.empty());

    // A 10,000-character id or name: checked up front.
    const std::string huge(10000, 'x');
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"task", "show", huge},
                                               {"task", "create", "noop", "--project", huge},
                                               {"task", "create", "noop", "--name", huge},
                                               {"task", "create", "noop", "--tag", huge}}) {
        RunResult r = mlrun_at(dir, home, args);
        CAPTURE(args[1]);
        CAPTURE(r.err);
        CHECK(r.code == 2);
        CHECK(r.err.find("too long") != std::string::npos);
        CHECK(r.err.find("File name too long") == std::string::npos);
        CHECK(mlrun::test::lines_of(r.err).size() == 1);
        CHECK(r.err.size() < 300);
    }
    // Invalid UTF-8 refused the same way in --name, --project and --tag.
    const std::string bad = "a\xff\xfe";
    for (const std::string& flag : {"--name", "--project", "--tag"}) {
        RunResult r = mlrun_at(dir, home, {"task", "create", "noop", flag, bad});
        CAPTURE(flag);
        CHECK(r.code == 2);
        CHECK(r.err.find("not valid UTF-8") != std::string::npos);
    }
    // -j 0: a clear bound, not a 300-digit range.
    mlrun::test::write_text(dir / "p.yaml", "name: j\nsteps:\n  - {name: a, template: noop}\n");
    RunResult j0 = mlrun_at(dir, home, {"pipeline", "run", "-j", "0", (dir / "p.yaml").string()});
    CAPTURE(j0.err);
    CHECK(j0.code == 2);
    CHECK(j0.err.find(">= 1") != std::string::npos);
    CHECK(j0.err.size() < 200);
    // --home pointing at a file.
    mlrun::test::write_text(dir / "afile", "x");
    RunResult file_home = mlrun_at(dir, (dir / "afile").string(), {"task", "list"});
    CHECK(file_home.code == 2);
    CHECK(file_home.err.find("is a file") != std::string::npos);
    // An unknown subcommand names the ones that exist.
    RunResult unknown = mlrun_at(dir, home, {"task", "frobnicate"});
    CAPTURE(unknown.err);
    CHECK(unknown.code == 2);
    CHECK(unknown.err.find("unknown command \"frobnicate\"") != std::string::npos);
    CHECK(unknown.err.find("create") != std::string::npos);
    // A published task's results cannot change.
    REQUIRE(mlrun_at(dir, home, {"task", "run", "-q", id}).code == 0);
    REQUIRE(mlrun_at(dir, home, {"task", "publish", id}).code == 0);
    RunResult logged = mlrun_at(dir, home, {"log", "--task", id, "value", "accuracy", "0.99"});
    CHECK(logged.code == 2);
    CHECK(logged.err.find("published") != std::string::npos);
    CHECK(!mlrun::test::show_json(dir, id)["values"].contains("accuracy"));
}

TEST_CASE("hardening: a task log is capped (head and tail kept, a marker between); task logs streams it")
{
    TempDir dir;
    for (const std::string& home : homes(dir)) {
        CAPTURE(home);
        // ~1 MB of numbered lines against a 100 kB cap.
        std::string id = mlrun::test::trim(
            mlrun_at(dir, home, {"task", "create", "exec", "--set", "command=seq 1 150000; echo the-last-line"}).out);
        REQUIRE(!id.empty());
        RunResult r = mlrun_at(dir, home, {"task", "run", "-q", id}, {{"MLRUN_LOG_MAX_BYTES", "100000"}});
        REQUIRE_MESSAGE(r.code == 0, r.err);
        const fs::path log = root_of(home) / "tasks" / id / "log.txt";
        CHECK(fs::file_size(log) < 110000);
        RunResult logs = mlrun_at(dir, home, {"task", "logs", id});
        CHECK(logs.code == 0);
        CHECK(logs.out.find("started, attempt 1") != std::string::npos); // the head
        CHECK(logs.out.find("\n1\n2\n3\n") != std::string::npos);
        CHECK(logs.out.find("the middle is cut here") != std::string::npos);
        CHECK(logs.out.find("the-last-line") != std::string::npos); // the tail
        CHECK(logs.out.find("mlrun: completed") != std::string::npos);
        CHECK(logs.out.find("\n75000\n") == std::string::npos); // the middle is gone
    }
}
