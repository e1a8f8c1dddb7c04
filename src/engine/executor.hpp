#pragma once
// Executor: the loop that drives a Plan (ninja's Builder::Build). The plan decides what is
// ready; the executor hands each ready node to `start` with a free worker slot
// (1..parallelism), at most `parallelism` started and not ended at once, and feeds each
// end back into the plan. What starting a node means (a step runner, a cache hit) is the
// caller's: `start` may end the node before it returns or later, from any thread.
#include "engine/plan.hpp"

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>

namespace mlrun {

// Why a node that became ready after a cancel did not run.
inline constexpr const char* k_interrupted_before_start = "the run was interrupted before it started";

// How a started node ended.
struct NodeEnd {
    NodeState state = NodeState::failed; // completed | cached | failed | aborted | skipped
    std::string reason;
};

// Ends a started node; the first call counts, later ones are ignored. Any thread.
using NodeDone = std::function<void(NodeEnd)>;

struct ExecutorHooks {
    // Starts a ready node (on a worker thread for the TBB executor). An exception from it
    // ends the node as failed with its message (unless `done` was called first).
    std::function<void(size_t node, int slot, NodeDone done)> start;
    // Room for another start beside the ones in flight (a runner's own limit). Optional;
    // never asked while nothing is in flight.
    std::function<bool()> can_start_more;
    // A node the plan ended without starting it (skipped, or aborted after a cancel). Optional.
    std::function<void(size_t node)> settled;
    // When set, nodes that become ready after it turns true end aborted with cancel_reason.
    const std::atomic<bool>* cancel = nullptr;
    std::string cancel_reason = k_interrupted_before_start;
};

class Executor {
public:
    virtual ~Executor() = default;
    // Returns once every node of the plan ended. Throws only what the executor itself
    // could not handle (a hook's exception outside `start`), after the graph stopped.
    virtual void run(Plan& plan, int parallelism, const ExecutorHooks& hooks) = 0;
};

// oneTBB flow graph: an async_node whose body only calls `start`; the end comes back through
// the node's gateway (try_put + release_wait), so a node that ends elsewhere (a child
// process, a queue) holds no thread while it runs. A serial function_node records each end
// in the plan and puts the newly ready nodes into the async_node.
class TbbExecutor final : public Executor {
public:
    void run(Plan& plan, int parallelism, const ExecutorHooks& hooks) override;
};

// One node at a time on the calling thread, waiting for each end: for tests and debugging.
class SerialExecutor final : public Executor {
public:
    void run(Plan& plan, int parallelism, const ExecutorHooks& hooks) override;
};

} // namespace mlrun
