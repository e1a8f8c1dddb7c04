// The tracking split: every sink hears every task of a run (status changes included), a
// mirror that fails does not fail the run, and a task's record is written at its start and
// at its end only, however many values it reports.
#include "engine_test_util.hpp"
#include "recording_sink.hpp"

#include "core/util.hpp"
#include "engine/kinds.hpp"
#include "engine/task_runner.hpp"
#include "ports/inputs.hpp"
#include "ports/reporter.hpp"
#include "tracking/local_sink.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <set>

using namespace mlrun;
using namespace mlrun::test;

namespace {

// A pipeline of an exec step (scalars and a value through metrics.jsonl, a file artifact,
// and a value from a child process through `mlrun log value`) and a noop step after it.
std::string reporting_pipeline(const TempDir& dir)
{
    return write_pipeline(dir, R"(name: sinks
steps:
  - name: work
    template: exec
    params:
      command: |
        printf '{"title":"loss","series":"train","iteration":1,"value":0.5}\n{"name":"acc","value":0.9}\n' > "$MLRUN_OUTPUT_DIR/metrics.jsonl"
        echo hi > "$MLRUN_OUTPUT_DIR/out.txt"
        mlrun log value child_value 7
  - name: after
    template: noop
    parents: [work]
    params: {value: 3}
)");
}

// The TaskStore port over a LocalStore, counting the writes of each task's record.
class CountingStore final : public TaskStore {
public:
    explicit CountingStore(TaskStore& inner) : m_inner(inner) {}
    std::map<std::string, int> writes;

    std::string location() const override { return m_inner.location(); }
    std::string uri() const override { return m_inner.uri(); }
    void ensure_created() override { m_inner.ensure_created(); }
    fs::path task_dir(const std::string& id) override { return m_inner.task_dir(id); }
    std::unique_ptr<RunLock> try_lock_run(const std::string& run_id) override { return m_inner.try_lock_run(run_id); }
    void create(Task& task) override
    {
        m_inner.create(task);
        ++writes[task.id];
    }
    std::optional<Task> find(const std::string& id) override { return m_inner.find(id); }
    Task update(const std::string& id, const std::function<void(Task&)>& change) override
    {
        Task t = m_inner.update(id, change);
        ++writes[id];
        return t;
    }
    std::vector<Task> list(const TaskFilter& filter) override { return m_inner.list(filter); }
    std::string resolve(const std::string& id) override { return m_inner.resolve(id); }
    void append_log(const std::string& id, std::string_view text) override { m_inner.append_log(id, text); }
    std::string read_log(const std::string& id, std::uint64_t offset) override { return m_inner.read_log(id, offset); }
    void append_scalars(const std::string& id, const std::vector<Scalar>& batch) override
    {
        m_inner.append_scalars(id, batch);
    }
    std::vector<Scalar> read_scalars(const std::string& id) override { return m_inner.read_scalars(id); }
    ArtifactRecord put_artifact(const std::string& id, const std::string& name, const fs::path& source) override
    {
        return m_inner.put_artifact(id, name, source);
    }
    std::optional<fs::path> artifact_path(const std::string& id, const std::string& name) override
    {
        return m_inner.artifact_path(id, name);
    }
    void clear_outputs(const std::string& id) override { m_inner.clear_outputs(id); }
    void put_record(const std::string& kind, const std::string& id, const Json& record) override
    {
        m_inner.put_record(kind, id, record);
    }
    std::optional<Json> get_record(const std::string& kind, const std::string& id) override
    {
        return m_inner.get_record(kind, id);
    }
    std::vector<std::string> list_records(const std::string& kind) override { return m_inner.list_records(kind); }
    Json update_record(const std::string& kind, const std::string& id,
                       const std::function<void(Json&)>& change) override
    {
        return m_inner.update_record(kind, id, change);
    }

private:
    TaskStore& m_inner;
};

// A training-like kind: 7 values (as train_model reports), scalars per epoch, tags, an artifact.
void register_trainlike_kind()
{
    static std::once_flag once;
    std::call_once(once, [] {
        KindRegistry::instance().add("test_trainlike", [](TaskContext& ctx) {
            for (int epoch = 1; epoch <= 20; ++epoch) {
                ctx.report().log_scalars(
                    {{"loss", "train", epoch, 1.0 / epoch}, {"loss", "valid", epoch, 1.5 / epoch}});
            }
            write_text(ctx.work_dir / "metrics.json", "{}\n");
            ctx.report().log_artifact("metrics.json", ctx.work_dir / "metrics.json");
            ctx.report().set_tags({"trained"});
            for (const char* name : {"model_kind", "test", "valid", "train_time_s", "latency_ms_per_row",
                                     "model_size_bytes", "primary_metric"}) {
                ctx.report().log_value(name, std::string(name) + "-value");
            }
        });
    });
}

} // namespace

TEST_CASE("sinks: a second sink hears the run start and end and every task's start, scalars, artifacts and end")
{
    TempDir dir;
    std::string file = reporting_pipeline(dir);
    Backends b = engine_backends(dir);
    auto owned = std::make_unique<RecordingSink>();
    RecordingSink& mirror = *owned;
    b.sinks.push_back(std::move(owned));

    PipelineResult r = run_pipeline(b.ports(), file, quiet_options());
    REQUIRE(r.status == "completed");

    std::vector<RecordingSink::Event> events = mirror.events();
    REQUIRE(events.size() >= 6);
    CHECK(events.front().what == "run_started");
    CHECK(events.front().data["id"] == r.run_id);
    CHECK(events.front().data["status"] == "running");
    // The run's end comes after every task's, then the flush.
    REQUIRE(events[events.size() - 2].what == "run_ended");
    CHECK(events[events.size() - 2].data["status"] == "completed");
    CHECK(events.back().what == "flush");

    std::map<std::string, std::string> tasks = node_tasks(r.record);
    for (const auto& [node, id] : tasks) {
        CAPTURE(node);
        size_t started = events.size();
        size_t ended = events.size();
        for (size_t i = 0; i < events.size(); ++i) {
            if (events[i].task_id == id && events[i].what == "task_started") {
                started = std::min(started, i);
            }
            if (events[i].task_id == id && events[i].what == "task_ended") {
                CHECK(ended == events.size()); // once
                ended = i;
            }
        }
        REQUIRE(started < ended);
        REQUIRE(ended < events.size());
        CHECK(events[started].data["status"] == "in_progress");
        const Json& final_record = events[ended].data;
        CHECK(final_record["status"] == "completed");
        // What the mirror got at the end is what the store keeps.
        Task stored = b.store->get(id);
        CHECK(final_record["values"] == stored.values);
        CHECK(final_record["finished_ms"] == stored.finished_ms);
        CHECK(final_record["artifacts"].size() == stored.artifacts.size());
    }

    const std::string work = tasks.at("work");
    Task w = b.store->get(work);
    CHECK(w.values.at("acc") == 0.9);
    CHECK(w.values.at("child_value") == 7); // logged by a child process meanwhile: survives the end write
    std::vector<RecordingSink::Event> scalars = mirror.of("scalars");
    REQUIRE(scalars.size() == 1);
    CHECK(scalars[0].task_id == work);
    CHECK(scalars[0].data[0]["title"] == "loss");
    CHECK(scalars[0].data[0]["value"] == 0.5);
    CHECK(b.inputs->scalars(work).size() == 1);
    std::set<std::string> artifacts;
    for (const RecordingSink::Event& e : mirror.of("artifact")) {
        CHECK(e.task_id == work);
        CHECK(fs::exists(e.data["stored"].get<std::string>()));
        artifacts.insert(e.data["name"].get<std::string>());
    }
    CHECK(artifacts.count("out.txt") == 1);
    CHECK(b.store->get(tasks.at("after")).values.at("value") == 3);
}

TEST_CASE("sinks: a mirror that fails every call does not fail the run; the task log says so once per task")
{
    TempDir dir;
    std::string file = reporting_pipeline(dir);
    Backends b = engine_backends(dir);
    auto owned = std::make_unique<RecordingSink>(true);
    RecordingSink& mirror = *owned;
    b.sinks.push_back(std::move(owned));

    PipelineResult r = run_pipeline(b.ports(), file, quiet_options());
    CHECK(r.status == "completed");
    for (const auto& [node, id] : node_tasks(r.record)) {
        CAPTURE(node);
        Task t = b.store->get(id);
        CHECK(t.status == Status::completed);
        std::string log = b.store->read_log(id);
        size_t first = log.find("result sink 1 failed");
        CHECK(first != std::string::npos);
        CHECK(log.find("result sink 1 failed", first + 1) == std::string::npos);
    }
    CHECK_FALSE(mirror.of("task_ended").empty()); // it was still told everything
}

TEST_CASE("sinks: a task reporting 7 values, 40 scalars and an artifact writes its record twice, at start and end")
{
    register_trainlike_kind();
    TempDir dir;
    Backends b = engine_backends(dir);
    CountingStore counting(*b.store);
    LocalSink local(counting); // the local sink writes through the counting store too
    Ports ports = b.ports();
    ports.store = &counting;
    ports.sinks[0] = &local;
    auto owned = std::make_unique<RecordingSink>();
    RecordingSink& mirror = *owned;
    b.sinks.push_back(std::move(owned));
    ports.sinks.push_back(&mirror);

    Task draft;
    draft.kind = "test_trainlike";
    draft.name = "trainlike";
    b.store->create(draft); // not counted: the draft exists before the run

    Task started = start_task(counting, draft.id);
    Task ended = run_task(ports, started, RunOptions{});
    CHECK(ended.status == Status::completed);
    CHECK(counting.writes[draft.id] == 2);

    Task stored = b.store->get(draft.id);
    CHECK(stored.values.size() == 7);
    CHECK(stored.values.at("primary_metric") == "primary_metric-value");
    CHECK(std::count(stored.tags.begin(), stored.tags.end(), "trained") == 1);
    REQUIRE(stored.artifacts.size() == 1);
    CHECK(stored.artifacts[0].name == "metrics.json");
    CHECK(b.inputs->scalars(draft.id).size() == 40);
    // Scalars reach the sinks batched: one batch here, not one per call.
    CHECK(mirror.of("scalars").size() == 1);
    CHECK(mirror.of("task_ended").size() == 1);
    CHECK(mirror.of("task_ended")[0].data["values"].size() == 7);
}

TEST_CASE("sinks: an abort written by another process meanwhile stands over the task's own end")
{
    TempDir dir;
    Backends b = engine_backends(dir);
    Task draft;
    draft.kind = "noop";
    draft.params = Json{{"value", 1}};
    b.store->create(draft);
    Task started = start_task(*b.store, draft.id);
    // `mlrun task abort` landed after the kind's last check: the end write keeps the abort.
    b.store->update(draft.id, [](Task& t) { t.transition(Status::aborted, now_ms()); });
    Task ended = run_task(b.ports(), started, RunOptions{});
    CHECK(ended.status == Status::aborted);
    CHECK(b.store->get(draft.id).status == Status::aborted);
    CHECK(b.store->get(draft.id).values.at("value") == 1);
}

TEST_CASE("sinks: registering one trained model twice gives one version; a smoke version never shadows a real one")
{
    // A kind that registers what its params say: (task_id, tags) pairs, in order.
    static std::once_flag once;
    std::call_once(once, [] {
        KindRegistry::instance().add("test_registering", [](TaskContext& ctx) {
            for (const Json& m : ctx.task.params["models"]) {
                ModelRecord r;
                r.name = "reg";
                r.task_id = m["task"];
                r.artifact = "model";
                r.tags = m["tags"].get<std::vector<std::string>>();
                ModelRecord stored = ctx.report().register_model(r);
                ctx.report().log_value("v_" + m["task"].get<std::string>(), stored.version);
            }
        });
    });
    TempDir dir;
    Backends b = engine_backends(dir);
    Ports ports = b.ports();
    auto owned = std::make_unique<RecordingSink>();
    RecordingSink& mirror = *owned;
    b.sinks.push_back(std::move(owned));
    ports.sinks.push_back(&mirror);

    Task draft;
    draft.kind = "test_registering";
    draft.name = "registering";
    draft.params = Json{{"models", Json::array({Json{{"task", "t1"}, {"tags", {"recommended"}}},
                                                Json{{"task", "t1"}, {"tags", {"recommended"}}},
                                                Json{{"task", "t2"}, {"tags", {"recommended", "smoke"}}}})}};
    b.store->create(draft);
    Task ended = run_task(ports, start_task(*b.store, draft.id), RunOptions{});
    REQUIRE(ended.status == Status::completed);
    CHECK(ended.values.at("v_t1") == 1); // the second registration got the first one's version
    CHECK(ended.values.at("v_t2") == 2);
    CHECK(b.inputs->models("reg").size() == 2);
    CHECK(mirror.of("model").size() == 2); // and was not mirrored again
    // "reg" alone means the newest version that no smoke run made; an explicit version any.
    REQUIRE(b.inputs->model("reg", 0));
    CHECK(b.inputs->model("reg", 0)->task_id == "t1");
    CHECK(b.inputs->model("reg", 2)->task_id == "t2");
}
