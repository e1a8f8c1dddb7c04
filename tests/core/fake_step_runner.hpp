#pragma once
// A StepRunner for tests: records every start and ends each step the way the test says,
// either inside start() or later from its own thread (like a runner whose steps finish
// elsewhere), optionally writing the end into a store as a real runner would. A step
// told to hang ends only when abort_all() is called, as aborted.
#include "core/util.hpp"
#include "ports/step_runner.hpp"
#include "ports/task_store.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace mlrun::test {

class FakeStepRunner final : public StepRunner {
public:
    struct Outcome {
        Status status = Status::completed;
        std::string error;
        Json values = Json::object();
    };

    // async: ends come from the runner's thread after `delay_ms`; else inside start().
    explicit FakeStepRunner(bool async = false, int delay_ms = 0, TaskStore* store = nullptr)
        : m_async(async), m_delay_ms(delay_ms), m_store(store)
    {
        if (m_async) {
            m_thread = std::thread([this] { loop(); });
        }
    }
    ~FakeStepRunner() override
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_stop = true;
        }
        m_wake.notify_all();
        if (m_thread.joinable()) {
            m_thread.join();
        }
    }
    FakeStepRunner(const FakeStepRunner&) = delete;
    FakeStepRunner& operator=(const FakeStepRunner&) = delete;

    // How the step of plan node `node` ends (default: completed).
    void set_outcome(const std::string& node, Outcome outcome) { m_outcomes[node] = std::move(outcome); }
    // The step of `node` runs until abort_all().
    void hang(const std::string& node) { m_hanging.insert(node); }

    void start(StepRequest request, StepCallbacks callbacks) override
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_started.push_back(request.node);
        m_slots.push_back(request.slot);
        m_threads_seen = request.threads;
        ++m_running;
        m_max_running = std::max(m_max_running, m_running);
        Pending p{std::move(request), std::move(callbacks),
                  std::chrono::steady_clock::now() + std::chrono::milliseconds(m_delay_ms)};
        if (m_hanging.count(p.request.node)) {
            m_hung.push_back(std::move(p));
            return;
        }
        if (m_async) {
            m_pending.push_back(std::move(p));
            m_wake.notify_all();
            return;
        }
        lock.unlock();
        end(p, false);
    }
    bool can_run_more() const override { return true; }
    void abort_all() override
    {
        std::vector<Pending> hung;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            ++m_aborts;
            hung.swap(m_hung);
        }
        for (Pending& p : hung) {
            end(p, true);
        }
    }

    std::vector<std::string> started() const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_started;
    }
    std::vector<int> slots() const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_slots;
    }
    int max_running() const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_max_running;
    }
    int aborts() const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_aborts;
    }
    int threads_seen() const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_threads_seen;
    }
    // Ended on the runner's own thread, not inside start().
    int ended_elsewhere() const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_ended_elsewhere;
    }

private:
    struct Pending {
        StepRequest request;
        StepCallbacks callbacks;
        std::chrono::steady_clock::time_point due;
    };

    void end(Pending& p, bool aborted)
    {
        Outcome o = aborted ? Outcome{Status::aborted, "aborted by the user", Json::object()}
                            : (m_outcomes.count(p.request.node) ? m_outcomes.at(p.request.node) : Outcome{});
        Task ended = p.request.task;
        ended.transition(o.status, now_ms());
        ended.error = o.error;
        ended.values = o.values;
        if (m_store && !ended.id.empty()) {
            ended = m_store->update(ended.id, [&](Task& t) {
                t.transition(o.status, now_ms());
                t.error = o.error;
                t.values = o.values;
            });
        }
        if (p.callbacks.on_stage) {
            p.callbacks.on_stage("fake", 1, 1);
        }
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            --m_running;
        }
        p.callbacks.on_end(std::move(ended));
    }

    void loop()
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        while (!m_stop) {
            if (m_pending.empty()) {
                m_wake.wait(lock);
                continue;
            }
            auto next = std::min_element(m_pending.begin(), m_pending.end(),
                                         [](const Pending& a, const Pending& b) { return a.due < b.due; });
            if (next->due > std::chrono::steady_clock::now()) {
                m_wake.wait_until(lock, next->due);
                continue;
            }
            Pending p = std::move(*next);
            m_pending.erase(next);
            ++m_ended_elsewhere;
            lock.unlock();
            end(p, false);
            lock.lock();
        }
    }

    bool m_async;
    int m_delay_ms;
    TaskStore* m_store;
    std::map<std::string, Outcome> m_outcomes;
    std::set<std::string> m_hanging;
    mutable std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<Pending> m_pending;
    std::vector<Pending> m_hung;
    std::vector<std::string> m_started;
    std::vector<int> m_slots;
    int m_running = 0;
    int m_max_running = 0;
    int m_aborts = 0;
    int m_threads_seen = 0;
    int m_ended_elsewhere = 0;
    bool m_stop = false;
    std::thread m_thread; // last: started once the members above exist
};

} // namespace mlrun::test
