#include "engine/executor.hpp"

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>

namespace mlrun {

namespace flow = oneapi::tbb::flow;

namespace {

struct Launch {
    size_t node = 0;
    int slot = 0;
};

struct Landed {
    size_t node = 0;
    int slot = 0;
    NodeEnd end;
};

// The plan plus the worker slots, under one lock: what both executors share.
class Dispatcher {
public:
    Dispatcher(Plan& plan, int parallelism, const ExecutorHooks& hooks) : m_plan(plan), m_hooks(hooks)
    {
        for (int s = parallelism; s >= 1; --s) {
            m_free_slots.push_back(s);
        }
    }

    // Records an end (when given) and returns the nodes to start now, each with a slot.
    // The settled nodes are reported through hooks.settled outside the lock.
    std::vector<Launch> next(const Landed* landed)
    {
        std::vector<Launch> out;
        std::vector<size_t> settled;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (landed) {
                m_plan.finished(landed->node, landed->end.state, landed->end.reason);
                m_free_slots.push_back(landed->slot);
                --m_in_flight;
            }
            if (m_hooks.cancel && m_hooks.cancel->load()) {
                m_plan.cancel(m_hooks.cancel_reason);
            }
            for (size_t n : m_plan.take_ready()) {
                m_waiting.push_back(n);
            }
            settled = m_plan.take_settled();
            while (!m_waiting.empty() && !m_free_slots.empty()
                   && (m_in_flight == 0 || !m_hooks.can_start_more || m_hooks.can_start_more())) {
                out.push_back(Launch{m_waiting.front(), m_free_slots.back()});
                m_waiting.pop_front();
                m_free_slots.pop_back();
                ++m_in_flight;
            }
        }
        if (m_hooks.settled) {
            for (size_t n : settled) {
                m_hooks.settled(n);
            }
        }
        return out;
    }

private:
    Plan& m_plan;
    const ExecutorHooks& m_hooks;
    std::mutex m_mutex;
    std::vector<int> m_free_slots;
    std::deque<size_t> m_waiting; // handed out by the plan, waiting for a slot
    size_t m_in_flight = 0;
};

// Calls hooks.start and turns an exception from it into the node's end.
void start_guarded(const ExecutorHooks& hooks, const Launch& l, const NodeDone& done)
{
    try {
        hooks.start(l.node, l.slot, done);
    } catch (const std::exception& e) {
        done(NodeEnd{NodeState::failed, e.what()});
    } catch (...) {
        done(NodeEnd{NodeState::failed, "unknown exception"});
    }
}

} // namespace

void TbbExecutor::run(Plan& plan, int parallelism, const ExecutorHooks& hooks)
{
    using Steps = flow::async_node<Launch, Landed>;
    parallelism = std::max(1, parallelism);
    Dispatcher dispatcher(plan, parallelism, hooks);
    std::mutex error_mutex;
    std::exception_ptr error;

    // In-process steps block their thread (training): give the arena a thread per slot plus
    // the waiting thread, beyond the core count if need be. Both live until the graph is done.
    oneapi::tbb::global_control threads(oneapi::tbb::global_control::max_allowed_parallelism,
                                        static_cast<size_t>(parallelism) + 1);
    oneapi::tbb::task_arena arena(parallelism + 1);
    arena.execute([&] {
        flow::graph g;
        // Nodes are owned here, declared after the graph they belong to.
        std::unique_ptr<Steps> steps;
        std::unique_ptr<flow::function_node<Landed>> landed;
        steps = std::make_unique<Steps>(g, flow::unlimited, [&hooks](const Launch& l, Steps::gateway_type& gateway) {
            // The graph waits for this node until its end is put back through the gateway.
            gateway.reserve_wait();
            auto once = std::make_shared<std::atomic<bool>>(false);
            NodeDone done = [&gateway, l, once](NodeEnd end) {
                if (!once->exchange(true)) {
                    gateway.try_put(Landed{l.node, l.slot, std::move(end)});
                    gateway.release_wait();
                }
            };
            start_guarded(hooks, l, done);
        });
        landed = std::make_unique<flow::function_node<Landed>>(g, flow::serial, [&](const Landed& end) {
            // An exception escaping a body would cancel the graph: keep the first, stop feeding.
            try {
                for (const Launch& l : dispatcher.next(&end)) {
                    steps->try_put(l);
                }
            } catch (...) {
                std::lock_guard<std::mutex> lock(error_mutex);
                error = error ? error : std::current_exception();
            }
            return flow::continue_msg();
        });
        flow::make_edge(*steps, *landed);
        try {
            for (const Launch& l : dispatcher.next(nullptr)) {
                steps->try_put(l);
            }
        } catch (...) {
            error = std::current_exception();
        }
        g.wait_for_all();
    });
    if (error) {
        std::rethrow_exception(error);
    }
}

void SerialExecutor::run(Plan& plan, int, const ExecutorHooks& hooks)
{
    Dispatcher dispatcher(plan, 1, hooks);
    std::mutex m;
    std::condition_variable ended;
    std::optional<NodeEnd> end;
    std::vector<Launch> queue = dispatcher.next(nullptr);
    while (!queue.empty()) {
        Launch l = queue.front(); // one slot: at most one at a time
        end.reset();
        auto once = std::make_shared<std::atomic<bool>>(false);
        NodeDone done = [&, once](NodeEnd e) {
            if (!once->exchange(true)) {
                std::lock_guard<std::mutex> lock(m);
                end = std::move(e);
                ended.notify_all();
            }
        };
        start_guarded(hooks, l, done);
        std::unique_lock<std::mutex> lock(m);
        ended.wait(lock, [&] { return end.has_value(); });
        Landed landed{l.node, l.slot, *end};
        lock.unlock();
        queue = dispatcher.next(&landed);
    }
}

} // namespace mlrun
