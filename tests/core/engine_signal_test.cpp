// Ctrl-C and SIGKILL of `mlrun pipeline run` in the middle of a step, and --resume.
#include "engine_test_util.hpp"

#include <doctest/doctest.h>

using namespace mlrun;
using namespace mlrun::test;

namespace {

// prep completes at once; wait blocks until the marker file exists (30 s at most), writing
// its shell's pid (the leader of its process group) to `pidfile` first.
std::string blocking_pipeline(const TempDir& dir)
{
    std::string marker = (dir / "marker").string();
    std::string pidfile = (dir / "wait.pid").string();
    return write_pipeline(dir, "name: sig\nparallelism: 2\nsteps:\n"
                               "  - name: prep\n    template: exec\n    params: {command: \"true\"}\n"
                               "  - name: wait\n    template: exec\n    parents: [prep]\n"
                               "    params: {command: \"test -f '"
                                   + marker + "' || { echo $$ > '" + pidfile
                                   + "'; sleep 30; }\"}\n"
                                     "  - name: after\n    template: noop\n    parents: [wait]\n");
}

// The task of node `name` in the run (the newest one), or nullopt.
std::optional<Task> step_task(Backends& b, const std::string& run_id, const std::string& name)
{
    std::optional<Task> found;
    for (Task& t : b.store->list(TaskFilter{"", std::nullopt, "", run_id, ""})) {
        if (t.step == name) {
            found = t;
        }
    }
    return found;
}

std::string only_run(const TempDir& dir)
{
    Backends b = engine_backends(dir);
    std::vector<std::string> runs = b.store->list_records("runs");
    return runs.size() == 1 ? runs.front() : "";
}

} // namespace

TEST_CASE("engine signals: SIGINT aborts the running step, exits 130, and --resume completes the run")
{
    TempDir dir;
    std::string file = blocking_pipeline(dir);
    std::string run_id;
    std::string prep_id;
    std::string aborted_id;
    {
        Background bg(dir, {"pipeline", "run", "-q", file});
        REQUIRE(wait_until([&] { return fs::exists(dir / "wait.pid"); }, 20));
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        auto sent = std::chrono::steady_clock::now();
        bg.signal(SIGINT);
        int code = bg.wait(10);
        double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
        CAPTURE(bg.out());
        CAPTURE(bg.err());
        CHECK(code == 130);
        CHECK(took < 5.0);
        run_id = only_run(dir);
        REQUIRE_FALSE(run_id.empty());
    }
    Backends b = engine_backends(dir);
    Json before = load_run(b.ports(), run_id);
    auto states = node_states(before);
    CHECK(before["status"] == "aborted");
    CHECK(states["prep"] == "completed");
    CHECK(states["wait"] == "aborted");
    CHECK(states["after"] == "aborted"); // never started
    std::optional<Task> wait = step_task(b, run_id, "wait");
    REQUIRE(wait);
    CHECK(wait->status == Status::aborted);
    aborted_id = wait->id;
    prep_id = node_tasks(before)["prep"];
    // The step's command (its own process group) was stopped too.
    pid_t pgid = std::stoi(trim(read_text(dir / "wait.pid")));
    CHECK(wait_until([&] { return ::kill(-pgid, 0) != 0; }, 5));
    ::kill(-pgid, SIGKILL);

    write_text(dir / "marker", "");
    RunResult resumed = run_cli(dir, {"pipeline", "run", "-q", "--resume", run_id});
    CAPTURE(resumed.err);
    CHECK(resumed.code == 0);
    CHECK(run_id_of(resumed.out) == run_id);
    Json after = load_run(b.ports(), run_id);
    CHECK(after["status"] == "completed");
    for (const auto& [name, state] : node_states(after)) {
        CHECK_MESSAGE(state == "completed", name);
    }
    auto ids = node_tasks(after);
    CHECK(ids["prep"] == prep_id);    // kept, not rerun
    CHECK(ids["wait"] != aborted_id); // a new attempt
    CHECK(b.store->get(aborted_id).status == Status::aborted);
}

TEST_CASE("engine signals: after SIGKILL of mlrun mid-step, --resume reruns only what did not complete")
{
    TempDir dir;
    std::string file = blocking_pipeline(dir);
    std::string run_id;
    pid_t pgid = 0;
    {
        Background bg(dir, {"pipeline", "run", "-q", file});
        REQUIRE(
            wait_until([&] { return fs::exists(dir / "wait.pid") && !trim(read_text(dir / "wait.pid")).empty(); }, 20));
        bg.signal(SIGKILL);
        CHECK(bg.wait(10) == 128 + SIGKILL);
        pgid = std::stoi(trim(read_text(dir / "wait.pid")));
        run_id = only_run(dir);
    }
    ::kill(-pgid, SIGKILL); // the orphaned command; nobody else will stop it
    REQUIRE_FALSE(run_id.empty());

    Backends b = engine_backends(dir);
    std::optional<Task> stuck = step_task(b, run_id, "wait");
    REQUIRE(stuck);
    CHECK(stuck->status == Status::in_progress); // left as it was
    std::optional<Task> prep = step_task(b, run_id, "prep");
    REQUIRE(prep);
    CHECK(prep->status == Status::completed);
    CHECK_FALSE(step_task(b, run_id, "after"));
    RunResult show = run_cli(dir, {"pipeline", "show", run_id});
    CHECK(show.code == 0);
    CHECK(show.out.find("dead") != std::string::npos); // issue 12: no process drives it any more

    write_text(dir / "marker", "");
    RunResult resumed = run_cli(dir, {"pipeline", "run", "-q", "--resume", run_id.substr(0, 10)});
    CAPTURE(resumed.err);
    CHECK(resumed.code == 0);
    Json after = load_run(b.ports(), run_id);
    CHECK(after["status"] == "completed");
    auto ids = node_tasks(after);
    CHECK(ids["prep"] == prep->id);
    CHECK(ids["wait"] != stuck->id);
    CHECK(b.store->get(ids["wait"]).status == Status::completed);
    CHECK_FALSE(ids["after"].empty());
    // The abandoned attempt is no longer in_progress: it can never finish.
    Task old = b.store->get(stuck->id);
    CHECK(old.status == Status::aborted);
    CHECK(old.error.find("abandoned") != std::string::npos);
    // Tasks of the run: prep, the abandoned wait, the new wait, after.
    CHECK(b.store->list(TaskFilter{"", std::nullopt, "", run_id, ""}).size() == 4);
}

TEST_CASE("engine: --resume of a run that another mlrun process still drives is refused, and that run is untouched")
{
    TempDir dir;
    std::string file = blocking_pipeline(dir);
    Background bg(dir, {"pipeline", "run", "-q", file});
    REQUIRE(wait_until([&] { return fs::exists(dir / "wait.pid"); }, 20));
    std::string run_id = only_run(dir);
    REQUIRE_FALSE(run_id.empty());
    RunResult resume = run_cli(dir, {"pipeline", "run", "-q", "--resume", run_id});
    CHECK(resume.code == 2);
    CHECK(resume.err.find("is still running in another mlrun process") != std::string::npos);
    // The first run's step was not taken for abandoned: let it finish, it completes.
    write_text(dir / "marker", "");
    pid_t pgid = std::stoi(trim(read_text(dir / "wait.pid")));
    ::kill(-pgid, SIGKILL); // ends `sleep 30`: the step fails, the run is still the first process's
    int code = bg.wait(20);
    CHECK(code == 1);
    Backends b = engine_backends(dir);
    CHECK(node_states(load_run(b.ports(), run_id))["wait"]
          == "failed"); // failed by its own command, not aborted by the resume
    RunResult again = run_cli(dir, {"pipeline", "run", "-q", "--resume", run_id});
    CHECK(again.code == 0);
}
