#pragma once
// Executor port: runs the nodes of a DAG with at most `parallelism` running at once.
// The body of a node is called once all its parents' bodies returned, with a worker slot
// number (1..parallelism) for progress display. Bodies must not throw.
#include <cstddef>
#include <functional>
#include <vector>

namespace mlrun {

struct DagShape {
    std::vector<std::vector<size_t>> parents; // per node
};

using NodeBody = std::function<void(size_t node, int slot)>;

class Executor {
public:
    virtual ~Executor() = default;
    virtual void run(const DagShape& dag, int parallelism, const NodeBody& body) = 0;
};

// oneTBB flow graph: a continue_node gate per node fed by its parents, and a reserving
// join with a shared buffer of `parallelism` tokens (the limiter) before each body.
class TbbExecutor final : public Executor {
public:
    void run(const DagShape& dag, int parallelism, const NodeBody& body) override;
};

// One node at a time in topological order: for tests and --parallelism 1 debugging.
class SerialExecutor final : public Executor {
public:
    void run(const DagShape& dag, int parallelism, const NodeBody& body) override;
};

} // namespace mlrun
