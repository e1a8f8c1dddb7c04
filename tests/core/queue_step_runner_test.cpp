// QueueStepRunner (engine/queue_step_runner.hpp) against the in-memory queue and a real
// LocalStore, with the test playing the agent: a step is queued and pushed on its queue, its
// end comes from the completion event (acked, dead-lettered), abort takes pending steps off
// their queue, and an adopted step that already ended ends at once.
#include "fake_queue.hpp"
#include "test_util.hpp"

#include "core/util.hpp"
#include "engine/queue_step_runner.hpp"
#include "store/local_store.hpp"

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>

using namespace mlrun;
using mlrun::test::FakeQueue;
using mlrun::test::TempDir;

namespace {

// The ends a runner reported, awaited with a bound.
struct Ends {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<Task> ended;

    StepCallbacks callbacks()
    {
        StepCallbacks c;
        c.on_end = [this](Task t) {
            std::lock_guard<std::mutex> lock(mutex);
            ended.push_back(std::move(t));
            cv.notify_all();
        };
        return c;
    }
    bool wait_for(std::size_t n, int ms)
    {
        std::unique_lock<std::mutex> lock(mutex);
        return cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return ended.size() >= n; });
    }
};

// A step task as the pipeline loop stores it: created already started.
Task started_task(LocalStore& store, const std::string& queue = "")
{
    Task t;
    t.name = "step";
    t.kind = "exec";
    t.template_name = "exec";
    t.queue = queue;
    t.transition(Status::in_progress, now_ms());
    store.create(t);
    return t;
}

StepRequest request_for(const Task& t, bool adopt = false)
{
    StepRequest r;
    r.node = t.name;
    r.task = t;
    r.adopt = adopt;
    return r;
}

} // namespace

TEST_CASE("queue step runner: a step is queued on its own queue (else the default), ends by its acked event")
{
    TempDir dir;
    LocalStore store(dir.home());
    auto state = std::make_shared<mlrun::test::FakeQueueState>();
    FakeQueue queue(state);
    FakeQueue agent(state, 1); // dead-letters at the first failure
    queue.create("cpu");
    queue.create("gpu");
    QueueStepRunner runner(queue, store, QueueRunnerOptions{"cpu", 0, 60'000}); // no recheck: events only
    Ends ends;
    Task a = started_task(store);
    Task b = started_task(store, "gpu");
    runner.start(request_for(a), ends.callbacks());
    runner.start(request_for(b), ends.callbacks());
    CHECK(store.get(a.id).status == Status::queued);
    CHECK(store.get(a.id).queue == "cpu");
    CHECK(store.get(b.id).queue == "gpu");
    CHECK(ends.ended.empty());

    // The agent claims b from gpu, runs it, acks: b ends completed, soon after the ack.
    std::optional<Lease> lease = agent.claim({"gpu"}, 0);
    REQUIRE(lease);
    CHECK(lease->task_id == b.id);
    store.update(b.id, [](Task& t) {
        t.transition(Status::in_progress, now_ms());
        t.transition(Status::completed, now_ms());
    });
    const std::int64_t acked = now_ms();
    agent.ack(*lease);
    REQUIRE(ends.wait_for(1, 2000));
    CHECK(now_ms() - acked < 1000);
    CHECK(ends.ended[0].id == b.id);
    CHECK(ends.ended[0].status == Status::completed);

    // a fails its only delivery and is dead-lettered with its record not ended: failed, saying so.
    lease = agent.claim({"cpu"}, 0);
    REQUIRE(lease);
    CHECK(agent.fail(*lease, "boom") == FailOutcome::dead_lettered);
    REQUIRE(ends.wait_for(2, 2000));
    CHECK(ends.ended[1].id == a.id);
    CHECK(ends.ended[1].status == Status::failed);
    CHECK(ends.ended[1].error.find("dead-lettered on queue cpu") != std::string::npos);
    CHECK(store.get(a.id).status == Status::failed);
}

TEST_CASE("queue step runner: abort takes pending steps off their queue, later steps end aborted unpushed")
{
    TempDir dir;
    LocalStore store(dir.home());
    FakeQueue queue;
    queue.create("cpu");
    QueueStepRunner runner(queue, store, QueueRunnerOptions{"cpu", 0, 60'000});
    Ends ends;
    Task a = started_task(store);
    runner.start(request_for(a), ends.callbacks());
    runner.abort_all();
    REQUIRE(ends.wait_for(1, 2000));
    CHECK(ends.ended[0].status == Status::aborted);
    CHECK(store.get(a.id).status == Status::aborted);
    Task b = started_task(store);
    runner.start(request_for(b), ends.callbacks());
    REQUIRE(ends.wait_for(2, 2000));
    CHECK(ends.ended[1].status == Status::aborted);
    CHECK_FALSE(queue.claim({"cpu"}, 0)); // neither is left on the queue
}

TEST_CASE("queue step runner: an adopted step waits for its event, or ends at once when it already ended")
{
    TempDir dir;
    LocalStore store(dir.home());
    FakeQueue queue;
    queue.create("cpu");
    QueueStepRunner runner(queue, store, QueueRunnerOptions{"cpu", 0, 60'000});
    Ends ends;
    Task done = started_task(store);
    store.update(done.id, [](Task& t) { t.transition(Status::completed, now_ms()); });
    runner.start(request_for(store.get(done.id), true), ends.callbacks());
    REQUIRE(ends.wait_for(1, 1000));
    CHECK(ends.ended[0].status == Status::completed);
    CHECK_FALSE(queue.claim({"cpu"}, 0)); // adopted steps are never pushed again

    // One still queued from the dead controller's push: its ack ends it.
    Task running = started_task(store);
    store.update(running.id, [](Task& t) { t.transition(Status::queued, now_ms()); });
    queue.push("cpu", running.id);
    runner.start(request_for(store.get(running.id), true), ends.callbacks());
    std::optional<Lease> lease = queue.claim({"cpu"}, 0);
    REQUIRE(lease);
    CHECK_FALSE(queue.claim({"cpu"}, 0)); // pushed once
    store.update(running.id, [](Task& t) {
        t.transition(Status::in_progress, now_ms());
        t.transition(Status::completed, now_ms());
    });
    CHECK(ends.ended.size() == 1);
    queue.ack(*lease);
    REQUIRE(ends.wait_for(2, 2000));
    CHECK(ends.ended[1].id == running.id);
    CHECK(ends.ended[1].status == Status::completed);
}

TEST_CASE(
    "queue step runner: an adopted step the dead controller never pushed is pushed once; a dead-lettered one fails")
{
    TempDir dir;
    LocalStore store(dir.home());
    FakeQueue queue;
    queue.create("cpu");
    QueueStepRunner runner(queue, store, QueueRunnerOptions{"cpu", 0, 60'000});
    Ends ends;

    // Died right after creating it: the loop's in_progress, no lease, on no queue.
    Task created = started_task(store);
    const int attempts = store.get(created.id).attempts;
    runner.start(request_for(store.get(created.id), true), ends.callbacks());
    CHECK(queue.state("cpu", created.id) == MessageState::pending);
    Task requeued = store.get(created.id);
    CHECK(requeued.status == Status::queued);
    CHECK(requeued.attempts == std::max(0, attempts - 1)); // the agent's run counts it again
    std::optional<Lease> lease = queue.claim({"cpu"}, 0);
    REQUIRE(lease);
    CHECK(lease->task_id == created.id);
    CHECK_FALSE(queue.claim({"cpu"}, 0)); // pushed once

    // Died between queueing the record and the push: queued, on no queue.
    Task queued = started_task(store);
    store.update(queued.id, [](Task& t) { t.transition(Status::queued, now_ms()); });
    runner.start(request_for(store.get(queued.id), true), ends.callbacks());
    std::optional<Lease> second = queue.claim({"cpu"}, 0);
    REQUIRE(second);
    CHECK(second->task_id == queued.id);

    // Still claimed by an agent (in_progress under a lease): left alone, never pushed again.
    Task running = started_task(store);
    store.update(running.id, [](Task& t) { t.lease_epoch = 7; });
    runner.start(request_for(store.get(running.id), true), ends.callbacks());
    CHECK(queue.state("cpu", running.id) == MessageState::absent);
    CHECK_FALSE(queue.claim({"cpu"}, 0));

    // Both pushed ones end by their acks as usual.
    for (const Lease& l : {*lease, *second}) {
        store.update(l.task_id, [](Task& t) {
            if (t.status == Status::queued) {
                t.transition(Status::in_progress, now_ms());
            }
            t.transition(Status::completed, now_ms());
        });
        queue.ack(l);
    }
    REQUIRE(ends.wait_for(2, 2000));
    CHECK(ends.ended[0].status == Status::completed);
    CHECK(ends.ended[1].status == Status::completed);

    // Dead-lettered while no controller watched (its event is gone): ends as failed at once.
    FakeQueue dlq(std::make_shared<mlrun::test::FakeQueueState>(), 1);
    dlq.create("cpu");
    QueueStepRunner runner2(dlq, store, QueueRunnerOptions{"cpu", 0, 60'000});
    Task dead = started_task(store);
    store.update(dead.id, [](Task& t) { t.transition(Status::queued, now_ms()); });
    dlq.push("cpu", dead.id);
    std::optional<Lease> only = dlq.claim({"cpu"}, 0);
    REQUIRE(only);
    CHECK(dlq.fail(*only, "crashed") == FailOutcome::dead_lettered);
    Ends dead_ends;
    runner2.start(request_for(store.get(dead.id), true), dead_ends.callbacks());
    REQUIRE(dead_ends.wait_for(1, 1000));
    CHECK(dead_ends.ended[0].status == Status::failed);
    CHECK(dead_ends.ended[0].error.find("dead-lettered") != std::string::npos);
    CHECK(dlq.dead_letters("cpu").size() == 1); // left for `queue dlq --requeue`
}
