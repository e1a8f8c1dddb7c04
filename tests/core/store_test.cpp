// The local store, task operations and the local queue, through the library: clone,
// crash safety of atomic writes (the port's behaviours are in store_suite.hpp), reset /
// publish / abort, the queue's claim order, exclusivity and leases.
#include "test_util.hpp"

#include "app/task_ops.hpp"
#include "app/wiring.hpp"
#include "core/error.hpp"
#include "core/template.hpp"
#include "core/util.hpp"
#include "ports/inputs.hpp"
#include "queue/local_queue.hpp"
#include "store/datasets.hpp"
#include "store/local_store.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <mutex>
#include <set>
#include <thread>

using namespace mlrun;
using mlrun::test::TempDir;

namespace {

Backends open_in(const TempDir& dir)
{
    BackendOptions options;
    options.home = dir.home().string();
    options.tracking = "local";
    options.queue = "local";
    return open_backends(options);
}

Template exec_template()
{
    Template t;
    t.name = "exec";
    t.kind = "exec";
    t.type = "custom";
    t.params = Json::parse(R"({"command":"echo hi","timeout_s":0,"model":{"lr":0.1}})");
    t.editable = {"command", "timeout_s", "model"};
    return t;
}

// Runs `fn` in a forked child that exits with 0 when fn returned, 1 when it threw.
template <class Fn>
pid_t fork_child(Fn fn)
{
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int code = 0;
        try {
            fn();
        } catch (...) {
            code = 1;
        }
        ::_exit(code);
    }
    return pid;
}

int wait_child(pid_t pid)
{
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

} // namespace

TEST_CASE("clone copies spec and params, not outputs, and links cloned_from (library)")
{
    TempDir dir;
    Backends b = open_in(dir);
    CreateRequest req;
    req.name = "source";
    req.project = "proj/sub";
    req.tags = {"t1", "t2"};
    req.sets = {"model.lr=0.05", "command=echo source"};
    Task src = create_task(b, exec_template(), req);
    REQUIRE_FALSE(src.id.empty());

    // Give the source every kind of output.
    mlrun::test::write_text(dir / "out.txt", "artifact body\n");
    log_artifact(b, src.id, "out.txt", dir / "out.txt");
    log_value(b, src.id, "accuracy", 0.9);
    log_scalar(b, src.id, Scalar{"loss", "train", 1, 0.5});
    b.store->append_log(src.id, "a line\n");
    b.store->update(src.id, [](Task& t) {
        t.status = Status::failed;
        t.error = "boom";
        t.error_class = "TaskFailed";
        t.exit_code = 3;
        t.attempts = 2;
        t.run_id = "run123";
        t.started_ms = 1000;
        t.finished_ms = 2000;
        t.cache_key = "abc";
    });

    CreateRequest clone_req;
    Task c = clone_task(b, src.id, clone_req);
    CHECK(c.id != src.id);
    Task stored = b.store->get(c.id);
    for (const Task& t : {c, stored}) {
        CHECK(t.cloned_from == src.id);
        CHECK(t.status == Status::draft);
        CHECK(t.name == "source");
        CHECK(t.project == "proj/sub");
        CHECK(t.kind == "exec");
        CHECK(t.template_name == "exec");
        CHECK(t.params == b.store->get(src.id).params);
        CHECK(t.params["model"]["lr"].get<double>() == doctest::Approx(0.05));
        CHECK(t.params["command"] == "echo source");
        CHECK(t.editable == exec_template().editable);
        CHECK(t.tags == std::vector<std::string>{"t1", "t2"});
        CHECK(t.artifacts.empty());
        CHECK(t.values.empty());
        CHECK(t.error.empty());
        CHECK(t.error_class.empty());
        CHECK(t.exit_code == 0);
        CHECK(t.attempts == 0);
        CHECK(t.run_id.empty());
        CHECK(t.started_ms == 0);
        CHECK(t.finished_ms == 0);
        CHECK(t.cache_key.empty());
    }
    CHECK(b.inputs->scalars(c.id).empty());
    CHECK(b.store->read_log(c.id).empty());
    CHECK_FALSE(fs::exists(b.local->task_dir(c.id) / "artifacts"));
    // The source is untouched.
    Task after = b.store->get(src.id);
    CHECK(after.status == Status::failed);
    CHECK(after.artifacts.size() == 1);
    CHECK(after.values["accuracy"].get<double>() == doctest::Approx(0.9));

    // Clone with overrides: the allow-list still applies.
    CreateRequest over;
    over.name = "tuned";
    over.sets = {"model.lr=0.001"};
    Task tuned = clone_task(b, src.id, over);
    CHECK(tuned.name == "tuned");
    CHECK(tuned.params["model"]["lr"].get<double>() == doctest::Approx(0.001));
    CreateRequest bad;
    bad.sets = {"not_editable=1"};
    const size_t before = mlrun::test::count_entries(dir.home() / "tasks");
    CHECK_THROWS_AS(clone_task(b, src.id, bad), UsageError);
    CHECK(mlrun::test::count_entries(dir.home() / "tasks") == before);
}

TEST_CASE("a writer killed with SIGKILL mid-write leaves the previous record readable")
{
    TempDir dir;
    // Two large, distinct, complete JSON records (> 1 MB each).
    auto big_record = [](char fill, int n) {
        Json j;
        j["n"] = n;
        j["payload"] = std::string(1'200'000, fill);
        j["list"] = Json::array();
        for (int i = 0; i < 2000; ++i) {
            j["list"].push_back(i * n);
        }
        return j.dump();
    };
    const std::string a = big_record('a', 1);
    const std::string b = big_record('b', 2);
    REQUIRE(a.size() > 1'000'000);
    const fs::path path = dir / "record.json";
    write_file_atomic(path, a);

    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> delay_us(2'000, 60'000);
    for (int round = 0; round < 6; ++round) {
        pid_t pid = fork_child([&] {
            for (unsigned i = 0;; ++i) {
                write_file_atomic(path, (i % 2) ? a : b);
            }
        });
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
        ::kill(pid, SIGKILL);
        CHECK(wait_child(pid) == 128 + SIGKILL);
        const std::string text = mlrun::test::read_text(path);
        CAPTURE(round);
        CAPTURE(text.size());
        CHECK((text == a || text == b));
        CHECK_FALSE(Json::parse(text, nullptr, false).is_discarded());
    }
    // The killed writers may leave temp files beside it, never a torn record.
    for (const auto& e : fs::directory_iterator(dir.path())) {
        if (e.path() != path) {
            CHECK(e.path().filename().string().find(".tmp.") != std::string::npos);
        }
    }
}

TEST_CASE("reset clears outputs, publish freezes, abort of a queued task dequeues it (library)")
{
    TempDir dir;
    Backends b = open_in(dir);
    Task t = create_task(b, exec_template(), CreateRequest{});

    // Only a finished task can be reset; a draft reset is a no-op; a running one is refused.
    b.store->update(t.id, [](Task& r) { r.status = Status::in_progress; });
    CHECK_THROWS_AS(reset_task(b, t.id), UsageError);
    b.store->update(t.id, [](Task& r) {
        r.status = Status::completed;
        r.exit_code = 0;
        r.started_ms = 10;
        r.finished_ms = 20;
    });
    mlrun::test::write_text(dir / "f.csv", "x\n1\n");
    log_artifact(b, t.id, "f.csv", dir / "f.csv");
    log_value(b, t.id, "acc", 0.5);
    log_scalar(b, t.id, Scalar{"loss", "train", 0, 1.0});
    b.store->append_log(t.id, "hello\n");
    REQUIRE(fs::exists(b.local->task_dir(t.id) / "artifacts" / "f.csv"));

    Task r = reset_task(b, t.id);
    CHECK(r.status == Status::draft);
    Task stored = b.store->get(t.id);
    CHECK(stored.status == Status::draft);
    CHECK(stored.artifacts.empty());
    CHECK(stored.values.empty());
    CHECK(stored.started_ms == 0);
    CHECK(stored.finished_ms == 0);
    CHECK(stored.params == t.params);
    CHECK_FALSE(fs::exists(b.local->task_dir(t.id) / "artifacts"));
    CHECK(b.inputs->scalars(t.id).empty());
    CHECK(b.store->read_log(t.id).empty());

    // Draft -> completed is not a legal move for publish.
    CHECK_THROWS_AS(publish_task(b, t.id), UsageError);
    b.store->update(t.id, [](Task& rec) { rec.status = Status::completed; });
    Task p = publish_task(b, t.id);
    CHECK(p.status == Status::published);
    CHECK_THROWS_AS(edit_task(b, t.id, {"model.lr=0.2"}), UsageError);
    CHECK_THROWS_AS(reset_task(b, t.id), UsageError);
    CHECK_THROWS_AS(abort_task(b, t.id), UsageError);
    CHECK(b.store->get(t.id).status == Status::published);
    CHECK(b.store->get(t.id).params == t.params);

    // Edit only works on drafts, and only editable keys.
    Task d = create_task(b, exec_template(), CreateRequest{});
    CHECK(edit_task(b, d.id, {"model.lr=0.2"}).params["model"]["lr"].get<double>() == doctest::Approx(0.2));
    CHECK_THROWS_AS(edit_task(b, d.id, {"other=1"}), UsageError);
    CHECK(b.store->get(d.id).params["model"]["lr"].get<double>() == doctest::Approx(0.2));

    // Abort of a queued task: aborted, and off the queue.
    b.queue->create("cpu");
    Task q = enqueue_task(b, d.id, "cpu", 5);
    CHECK(q.status == Status::queued);
    auto pending = [&] {
        for (const QueueInfo& info : b.queue->list()) {
            if (info.name == "cpu") {
                return info.pending;
            }
        }
        return size_t{999};
    };
    CHECK(pending() == 1);
    Task a = abort_task(b, d.id);
    CHECK(a.status == Status::aborted);
    CHECK(b.store->get(d.id).status == Status::aborted);
    CHECK(pending() == 0);
    CHECK_FALSE(b.queue->claim({"cpu"}, 0).has_value());
    // Aborting again is an illegal transition.
    CHECK_THROWS_AS(abort_task(b, d.id), UsageError);
    // An unknown queue is refused with a hint.
    Task e = create_task(b, exec_template(), CreateRequest{});
    CHECK_THROWS_WITH_AS(enqueue_task(b, e.id, "cpx", 0), doctest::Contains("cpu"), UsageError);
    CHECK(b.store->get(e.id).status == Status::draft);
}

TEST_CASE("local queue: priority order, then first in first out")
{
    TempDir dir;
    LocalQueue q(dir / "queues");
    q.create("cpu");
    q.create("gpu");
    CHECK(q.exists("cpu"));
    CHECK_FALSE(q.exists("tpu"));
    q.push("cpu", "low", 1);
    q.push("cpu", "high", 9);
    q.push("cpu", "mid", 5);
    std::vector<std::string> order;
    while (auto lease = q.claim({"cpu"}, 0)) {
        order.push_back(lease->task_id);
        q.ack(*lease);
    }
    CHECK(order == std::vector<std::string>{"high", "mid", "low"});

    // Same priority: in push order (pushes a few ms apart so the clock differs).
    for (const char* id : {"zz1", "aa2", "mm3"}) {
        q.push("cpu", id, 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
    order.clear();
    while (auto lease = q.claim({"cpu"}, 0)) {
        order.push_back(lease->task_id);
    }
    CHECK(order == std::vector<std::string>{"zz1", "aa2", "mm3"});

    // Queues are served in the order given.
    q.push("gpu", "g1", 0);
    q.push("cpu", "c1", 0);
    auto first = q.claim({"gpu", "cpu"}, 0);
    REQUIRE(first);
    CHECK(first->task_id == "g1");
    CHECK(first->queue == "gpu");
    // An empty queue with block_ms waits about that long, then gives nothing.
    auto t0 = std::chrono::steady_clock::now();
    CHECK_FALSE(q.claim({"gpu"}, 50).has_value());
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(45));
    CHECK_THROWS_AS(q.claim({"nope"}, 0), UsageError);
    CHECK(q.remove("cpu", "c1"));
    CHECK_FALSE(q.remove("cpu", "c1"));
}

TEST_CASE("local queue: concurrent claimers never get the same task")
{
    TempDir dir;
    constexpr int k_tasks = 200;
    {
        LocalQueue q(dir / "queues");
        q.create("cpu");
        for (int i = 0; i < k_tasks; ++i) {
            q.push("cpu", "task" + std::to_string(i), i % 7);
        }
    }
    // Two claimer processes, each writing what it got to its own file.
    std::vector<pid_t> pids;
    for (int p = 0; p < 2; ++p) {
        pids.push_back(fork_child([&, p] {
            LocalQueue q(dir / "queues");
            std::string got;
            while (auto lease = q.claim({"cpu"}, 0)) {
                got += lease->task_id + "\n";
            }
            mlrun::write_file_atomic(dir / ("claimed" + std::to_string(p) + ".txt"), got);
        }));
    }
    for (pid_t pid : pids) {
        CHECK(wait_child(pid) == 0);
    }
    std::vector<std::string> all;
    std::vector<size_t> per;
    for (int p = 0; p < 2; ++p) {
        auto lines = mlrun::test::lines_of(mlrun::test::read_text(dir / ("claimed" + std::to_string(p) + ".txt")));
        per.push_back(lines.size());
        all.insert(all.end(), lines.begin(), lines.end());
    }
    std::set<std::string> unique(all.begin(), all.end());
    CHECK(all.size() == static_cast<size_t>(k_tasks)); // nobody got one twice
    CHECK(unique.size() == static_cast<size_t>(k_tasks));
    LocalQueue q(dir / "queues");
    auto info = q.list();
    REQUIRE(info.size() == 1);
    CHECK(info[0].pending == 0);
    CHECK(info[0].claimed == static_cast<size_t>(k_tasks));
}

TEST_CASE("local queue: expired leases go back with requeue_expired, live ones stay")
{
    TempDir dir;
    LocalQueue short_lease(dir / "queues", 150);
    LocalQueue long_lease(dir / "queues", 60'000);
    short_lease.create("cpu");
    short_lease.push("cpu", "t1", 0);
    short_lease.push("cpu", "t2", 0);
    auto l1 = short_lease.claim({"cpu"}, 0);
    auto l2 = long_lease.claim({"cpu"}, 0);
    REQUIRE(l1);
    REQUIRE(l2);
    CHECK(l1->task_id != l2->task_id);
    CHECK_FALSE(short_lease.claim({"cpu"}, 0).has_value());
    CHECK(short_lease.requeue_expired() == 0); // nothing expired yet
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(short_lease.requeue_expired() == 1); // only the 150 ms lease
    auto again = long_lease.claim({"cpu"}, 0);
    REQUIRE(again);
    CHECK(again->task_id == l1->task_id);
    CHECK_FALSE(long_lease.claim({"cpu"}, 0).has_value());

    // A heartbeat keeps a lease alive.
    short_lease.push("cpu", "t3", 0);
    auto l3 = short_lease.claim({"cpu"}, 0);
    REQUIRE(l3);
    for (int i = 0; i < 4; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(60));
        short_lease.heartbeat(*l3);
        CHECK(short_lease.requeue_expired() == 0);
    }
    // fail() gives the task back at once.
    short_lease.fail(*l3, "failed");
    auto l4 = long_lease.claim({"cpu"}, 0);
    REQUIRE(l4);
    CHECK(l4->task_id == "t3");
}

TEST_CASE("local queue: requeue_expired never takes back a lease being claimed right now" * doctest::may_fail())
{
    // try_claim renames pending/<name> (content: the task id) to claimed/<id>, then
    // rewrites it with the expiry. A requeue_expired() in between reads the task id as
    // the expiry and requeues a live lease.
    TempDir dir;
    LocalQueue q(dir / "queues", 60'000);
    q.create("cpu");
    constexpr int k_tasks = 300;
    for (int i = 0; i < k_tasks; ++i) {
        q.push("cpu", "1task" + std::to_string(i), 0);
    }
    std::atomic<bool> done{false};
    std::atomic<int> requeued{0};
    std::thread sweeper([&] {
        LocalQueue sweep(dir / "queues", 60'000);
        while (!done) {
            requeued += sweep.requeue_expired();
        }
    });
    int claimed = 0;
    std::string claim_error;
    try {
        while (auto lease = q.claim({"cpu"}, 0)) {
            ++claimed;
            if (claimed > 2 * k_tasks) {
                break;
            }
        }
    } catch (const std::exception& e) {
        claim_error = e.what();
    }
    done = true;
    sweeper.join();
    const int requeued_n = requeued;
    CHECK(claim_error == "");
    CHECK(requeued_n == 0);
    CHECK(claimed == k_tasks);
    // Nothing but real task ids may ever be pushed back (no temp-file names).
    for (const auto& e : fs::directory_iterator(dir / "queues" / "cpu" / "pending")) {
        const std::string name = e.path().filename().string();
        CAPTURE(name);
        CHECK(name.find(".tmp.") == std::string::npos);
    }
}

TEST_CASE("datasets: a child version stores only the changed bytes (library)")
{
    TempDir dir;
    LocalStore store(dir.home());
    const fs::path data = dir / "data";
    mlrun::test::write_text(data / "a.csv", std::string(5000, 'a'));
    mlrun::test::write_text(data / "b.csv", std::string(7000, 'b'));
    mlrun::test::write_text(data / "sub" / "c.txt", "ccc");
    Json v1 = create_dataset(store, {"ds", "", {data}, ""});
    CHECK(v1["files"].size() == 3);
    CHECK(v1["total_size"] == 12003);
    CHECK(v1["stored_bytes"] == 12003);

    mlrun::test::write_text(data / "b.csv", std::string(6000, 'B'));
    Json v2 = create_dataset(store, {"ds", "", {data}, v1["id"].get<std::string>()});
    CHECK(v2["parent"] == v1["id"]);
    CHECK(v2["stored_bytes"] == 6000);
    CHECK(v2["total_size"] == 11003);
    int reused = 0;
    for (const Json& f : v2["files"]) {
        reused += f["reused"].get<bool>() ? 1 : 0;
    }
    CHECK(reused == 2);
    // Version 1 still holds the old content.
    const fs::path p1 = dataset_path(store, v1["id"].get<std::string>());
    const fs::path p2 = dataset_path(store, v2["id"].get<std::string>());
    bool found_b = false;
    for (const Json& f : v1["files"]) {
        if (fs::path(f["path"].get<std::string>()).filename() == "b.csv") {
            found_b = true;
            CHECK(mlrun::test::read_text(p1 / f["path"].get<std::string>()) == std::string(7000, 'b'));
        }
    }
    CHECK(found_b);
    for (const Json& f : v2["files"]) {
        const fs::path file = p2 / f["path"].get<std::string>();
        CHECK(sha256_file(file) == f["sha256"].get<std::string>());
    }
    CHECK_THROWS_AS(create_dataset(store, {"bad/name", "", {data}, ""}), UsageError);
    CHECK_THROWS_AS(create_dataset(store, {"ds", "", {dir / "missing"}, ""}), UsageError);
    CHECK_THROWS_AS(create_dataset(store, {"ds", "", {data}, "nosuchparent"}), UsageError);
}
