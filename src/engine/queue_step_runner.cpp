#include "engine/queue_step_runner.hpp"

#include "core/util.hpp"
#include "ports/queue.hpp"
#include "ports/task_store.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace mlrun {

namespace {

constexpr int k_wait_ms = 200; // longest wait on the events before the waiter looks at its stop flag

struct InFlight {
    StepRequest request;
    StepCallbacks callbacks;
    std::string queue;
};

} // namespace

struct QueueStepRunner::Impl {
    Queue& queue;
    TaskStore& store;
    QueueRunnerOptions options;
    std::unique_ptr<DoneEvents> events; // opened before any push
    std::mutex mutex;
    std::map<std::string, InFlight> in_flight; // by task id
    std::atomic<bool> stop{false};
    std::atomic<bool> abort{false};
    std::thread waiter; // last: started once the members above exist

    Impl(Queue& q, TaskStore& s, QueueRunnerOptions o)
        : queue(q), store(s), options(std::move(o)), events(queue.events())
    {
        waiter = std::thread([this] { loop(); });
    }
    ~Impl()
    {
        stop = true;
        waiter.join();
    }

    // Takes the step out of the in-flight set; nullopt when another path ended it already.
    std::optional<InFlight> take(const std::string& id)
    {
        std::lock_guard<std::mutex> lock(mutex);
        auto it = in_flight.find(id);
        if (it == in_flight.end()) {
            return std::nullopt;
        }
        InFlight f = std::move(it->second);
        in_flight.erase(it);
        return f;
    }

    // Ends the record unless it is final already (moving a queued one through in_progress
    // to failed), and returns it as stored; the record as known when the store fails.
    Task end_record(const Task& known, Status status, const std::string& why, const std::string& error_class)
    {
        try {
            return store.update(known.id, [&](Task& t) {
                if (is_final(t.status)) {
                    return;
                }
                if (t.status == Status::queued && status == Status::failed) {
                    t.transition(Status::in_progress, now_ms()); // the attempt that did not get going
                }
                if (t.status == Status::draft) {
                    t.transition(Status::queued, now_ms());
                }
                t.transition(status, now_ms());
                t.error = why;
                t.error_class = error_class;
            });
        } catch (const std::exception& e) {
            Task ended = known;
            if (can_transition(ended.status, Status::failed)) {
                ended.transition(Status::failed, now_ms());
            }
            ended.error = why + " (and the store refused the end: " + e.what() + ")";
            return ended;
        }
    }

    // An adopted step whose message is not on its queue: pushed again when no agent ever
    // took it (the controller died between creating the task and pushing it: the record
    // is still the loop's in_progress without a lease, or queued), ended as failed when it
    // was dead-lettered meanwhile (its event is gone). A broker error leaves it to wait.
    void repush_if_lost(const Task& now, const std::string& q)
    {
        MessageState where = MessageState::pending;
        try {
            where = queue.state(q, now.id);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "mlrun: warning: step task %s: cannot look at queue %s: %s\n", now.id.c_str(),
                         q.c_str(), e.what());
            return;
        }
        if (where == MessageState::dead) {
            if (std::optional<InFlight> f = take(now.id)) {
                Task ended = end_record(now, Status::failed,
                                        "dead-lettered on queue " + q + " after " + std::to_string(queue.max_attempts())
                                            + " attempts" + (now.error.empty() ? "" : ": " + now.error),
                                        now.error_class.empty() ? "agent_lost" : now.error_class);
                f->callbacks.on_end(std::move(ended));
            }
            return;
        }
        const bool never_taken = now.status == Status::queued
                                 || (now.status == Status::in_progress && now.lease_epoch == 0);
        if (where != MessageState::absent || !never_taken) {
            return; // waiting or running on an agent: its event comes
        }
        try {
            store.update(now.id, [&](Task& t) {
                if (t.status == Status::in_progress && t.lease_epoch == 0) {
                    t.transition(Status::queued, now_ms()); // as start() does before the push
                    t.attempts = std::max(0, t.attempts - 1);
                }
                t.queue = q;
            });
            queue.push(q, now.id, options.priority);
        } catch (const std::exception& e) {
            if (std::optional<InFlight> f = take(now.id)) {
                f->callbacks.on_end(end_record(
                    now, Status::failed, std::string("cannot queue the step on ") + q + ": " + e.what(), "controller"));
            }
        }
    }

    // A completion event of a task in flight: its end is what its record says.
    void handle(const DoneEvent& e)
    {
        std::optional<InFlight> f = take(e.task_id);
        if (!f) {
            return; // not ours, or ended already
        }
        Task ended = f->request.task;
        try {
            ended = store.get(e.task_id);
        } catch (const std::exception& ex) {
            ended = end_record(ended, Status::failed, ex.what(), "controller");
        }
        if (!is_final(ended.status)) {
            if (e.outcome == "dead") {
                ended = end_record(ended, Status::failed,
                                   "dead-lettered on queue " + e.queue + " after "
                                       + std::to_string(queue.max_attempts()) + " attempts"
                                       + (ended.error.empty() ? "" : ": " + ended.error),
                                   ended.error_class.empty() ? "agent_lost" : ended.error_class);
            } else if (e.outcome == "removed") {
                ended = end_record(ended, Status::aborted, "taken off queue " + e.queue + " before it ran", "Aborted");
            } else {
                ended = end_record(ended, Status::failed,
                                   "acked by an agent without ending (status " + std::string(to_string(ended.status))
                                       + ")",
                                   "agent_lost");
            }
        }
        f->callbacks.on_end(std::move(ended));
    }

    // The guard against lost events: steps whose record is final end now.
    void recheck()
    {
        std::vector<std::string> ids;
        {
            std::lock_guard<std::mutex> lock(mutex);
            for (const auto& [id, f] : in_flight) {
                ids.push_back(id);
            }
        }
        for (const std::string& id : ids) {
            std::optional<Task> t;
            try {
                t = store.find(id);
            } catch (const std::exception&) {
                continue; // the store is busy: the next recheck
            }
            if (t && is_final(t->status)) {
                if (std::optional<InFlight> f = take(id)) {
                    f->callbacks.on_end(std::move(*t));
                }
            }
        }
    }

    void loop()
    {
        auto next_recheck = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.recheck_ms);
        int failures = 0;
        while (!stop) {
            std::vector<DoneEvent> got;
            try {
                got = events->wait(k_wait_ms);
                failures = 0;
            } catch (const std::exception& e) {
                // The broker is away for longer than its connection retries: keep trying.
                if (failures++ == 0) {
                    std::fprintf(stderr, "mlrun: warning: completion events: %s (retrying)\n", e.what());
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(k_wait_ms));
            }
            for (const DoneEvent& e : got) {
                handle(e);
            }
            if (std::chrono::steady_clock::now() >= next_recheck) {
                next_recheck = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.recheck_ms);
                recheck();
            }
        }
    }
};

QueueStepRunner::QueueStepRunner(Queue& queue, TaskStore& store, QueueRunnerOptions options)
    : m_impl(std::make_unique<Impl>(queue, store, std::move(options)))
{}

QueueStepRunner::~QueueStepRunner() = default;

std::string QueueStepRunner::queue_for(const Task& task) const
{
    return task.queue.empty() ? m_impl->options.default_queue : task.queue;
}

void QueueStepRunner::start(StepRequest request, StepCallbacks callbacks)
{
    Impl& impl = *m_impl;
    const std::string id = request.task.id;
    const std::string q = queue_for(request.task);
    if (impl.abort) {
        Task ended = impl.end_record(request.task, Status::aborted, "aborted by the user", "Aborted");
        callbacks.on_end(std::move(ended));
        return;
    }
    if (request.adopt) {
        {
            std::lock_guard<std::mutex> lock(impl.mutex);
            impl.in_flight[id] = InFlight{request, std::move(callbacks), q};
        }
        // Ended while no controller watched: the event is gone, the record tells.
        std::optional<Task> now = impl.store.find(id);
        if (now && is_final(now->status)) {
            if (std::optional<InFlight> f = impl.take(id)) {
                f->callbacks.on_end(std::move(*now));
            }
            return;
        }
        if (now) {
            impl.repush_if_lost(*now, q);
        }
        return;
    }
    try {
        // The agent's `task run` starts the record (queued -> in_progress) and counts the
        // attempt; the one counted when the loop created it is handed back with it.
        request.task = impl.store.update(id, [&](Task& t) {
            t.transition(Status::queued, now_ms());
            t.attempts = std::max(0, t.attempts - 1);
            t.queue = q;
        });
        {
            std::lock_guard<std::mutex> lock(impl.mutex);
            impl.in_flight[id] = InFlight{request, callbacks, q};
        }
        impl.queue.push(q, id, impl.options.priority);
    } catch (const std::exception& e) {
        std::optional<InFlight> f = impl.take(id);
        Task ended = impl.end_record(request.task, Status::failed,
                                     std::string("cannot queue the step on ") + q + ": " + e.what(), "controller");
        (f ? f->callbacks : callbacks).on_end(std::move(ended));
    }
}

void QueueStepRunner::abort_all()
{
    Impl& impl = *m_impl;
    impl.abort = true;
    std::vector<std::string> ids;
    {
        std::lock_guard<std::mutex> lock(impl.mutex);
        for (const auto& [id, f] : impl.in_flight) {
            ids.push_back(id);
        }
    }
    for (const std::string& id : ids) {
        std::optional<InFlight> f = impl.take(id);
        if (!f) {
            continue;
        }
        // Marked first, so an agent that claims it now skips it and a running child stops.
        Task ended = impl.end_record(f->request.task, Status::aborted, "aborted by the user", "Aborted");
        try {
            impl.queue.remove(f->queue, id);
        } catch (const std::exception&) {
            // The broker is away: the agent that claims it later finds it aborted and acks it.
        }
        f->callbacks.on_end(std::move(ended));
    }
}

} // namespace mlrun
