// task.json has one codec: the writer, the full reader and the listing reader agree.
#include "test_util.hpp"

#include "core/error.hpp"
#include "core/task_codec.hpp"
#include "core/util.hpp"

#include <doctest/doctest.h>

using namespace mlrun;
using namespace mlrun::test;

namespace {

// A record with every field away from its default.
Task full_task()
{
    Task t;
    t.id = "t1";
    t.name = "train";
    t.project = "p/sub";
    t.type = "training";
    t.kind = "train_model";
    t.template_name = "train_model";
    t.params = Json{{"model", {{"kind", "mlp"}}}};
    t.editable = {"model.kind"};
    t.tags = {"a", "b"};
    t.run_id = "r1";
    t.step = "train::mlp";
    t.parent = "t0";
    t.cloned_from = "t9";
    t.queue = "gpu";
    t.status = Status::failed;
    t.created_ms = 1;
    t.updated_ms = 2;
    t.started_ms = 3;
    t.finished_ms = 4;
    t.attempts = 2;
    t.exit_code = 3;
    t.error = "boom";
    t.error_class = "TaskFailed";
    t.attempt_errors = {"attempt 1: agent_lost: lease expired"};
    t.lease_epoch = 7;
    t.cache_key = "abc";
    t.artifacts = {{"model/model.json", "application/json", 12, "ff", "file:///x"}};
    t.values = Json{{"test", {{"accuracy", 0.5}}}};
    return t;
}

} // namespace

TEST_CASE("task.json: to_json and from_json round-trip every field")
{
    const Json written = full_task().to_json();
    const Json defaults = Task{}.to_json();
    // A field added to the codec but not to full_task() fails here, not silently later.
    for (auto it = written.begin(); it != written.end(); ++it) {
        CAPTURE(it.key());
        CHECK(*it != defaults.at(it.key()));
    }
    CHECK(Task::from_json(written).to_json() == written);
}

TEST_CASE("task.json: the listing reader reads every field but params, values and artifacts")
{
    TempDir tmp;
    const Task t = full_task();
    write_file_atomic(tmp / "task.json", t.to_json().dump(2));
    TaskListingReader reader;
    const std::optional<Task> listed = reader.read(tmp / "task.json");
    REQUIRE(listed);
    Task expected = t;
    expected.params = Json::object();
    expected.values = Json::object();
    expected.artifacts.clear();
    CHECK(listed->to_json() == expected.to_json());
}

TEST_CASE("task.json: the full reader is strict, the listing reader skips what it cannot list")
{
    TempDir tmp;
    Json j = full_task().to_json();
    j.erase("type");
    CHECK(Task::from_json(j).type == "custom"); // absent optional field: the default

    Json wrong = j;
    wrong["name"] = 5;
    CHECK_THROWS_AS(Task::from_json(wrong), UsageError);
    write_file_atomic(tmp / "wrong.json", wrong.dump());
    TaskListingReader reader;
    const std::optional<Task> lenient = reader.read(tmp / "wrong.json");
    REQUIRE(lenient);
    CHECK(lenient->name.empty());
    CHECK(lenient->type == "custom");

    Json no_id = j;
    no_id.erase("id");
    CHECK_THROWS_WITH_AS(Task::from_json(no_id), doctest::Contains("malformed task record"), UsageError);
    write_file_atomic(tmp / "no_id.json", no_id.dump());
    CHECK_FALSE(reader.read(tmp / "no_id.json"));

    Json bad_status = j;
    bad_status["status"] = "sleeping";
    CHECK_THROWS_AS(Task::from_json(bad_status), UsageError);
    write_file_atomic(tmp / "bad_status.json", bad_status.dump());
    CHECK_FALSE(reader.read(tmp / "bad_status.json"));

    write_file_atomic(tmp / "array.json", "[1, 2]");
    CHECK_FALSE(reader.read(tmp / "array.json"));
    CHECK_FALSE(reader.read(tmp / "missing.json"));
}
