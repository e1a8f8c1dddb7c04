// `mlrun task abort` of a task that another mlrun process is running.
#include "engine_test_util.hpp"

#include <doctest/doctest.h>

using namespace mlrun::test;

TEST_CASE("task abort from another process stops the running task, which stays aborted")
{
    TempDir dir;
    std::string id = create_task_cli(dir, {"exec", "--set", "command=sleep 30"});
    Background runner(dir, {"task", "run", id, "-q"});
    // Wait until the runner has started it.
    for (int i = 0; i < 100 && show_json(dir, id)["status"] != "in_progress"; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(show_json(dir, id)["status"] == "in_progress");
    RunResult abort = run(dir, {"task", "abort", id});
    CHECK(abort.code == 0);
    auto start = std::chrono::steady_clock::now();
    int code = runner.wait(10);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(code == 130);
    CHECK(seconds < 5); // the runner looks at the record every 0.5 s, then stops the command
    mlrun::Json task = show_json(dir, id);
    CHECK(task["status"] == "aborted");
    CHECK(task["error"] == "aborted by the user");
}
