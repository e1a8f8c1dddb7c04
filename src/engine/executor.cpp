#include "engine/executor.hpp"

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <memory>
#include <tuple>

namespace mlrun {

namespace flow = oneapi::tbb::flow;

void TbbExecutor::run(const DagShape& dag, int parallelism, const NodeBody& body)
{
    using Token = int;
    using JoinOut = std::tuple<flow::continue_msg, Token>;
    using Work = flow::multifunction_node<JoinOut, std::tuple<Token, flow::continue_msg>>;
    const size_t n = dag.parents.size();
    parallelism = std::max(1, parallelism);

    // Bodies block (child processes, training): give the arena a thread per token plus the
    // waiting thread, beyond the core count if need be. Both live until the graph is done.
    oneapi::tbb::global_control threads(oneapi::tbb::global_control::max_allowed_parallelism,
                                        static_cast<size_t>(parallelism) + 1);
    oneapi::tbb::task_arena arena(parallelism + 1);
    arena.execute([&] {
        flow::graph g;
        // Nodes are owned here, declared after the graph they belong to.
        flow::broadcast_node<flow::continue_msg> start(g);
        flow::buffer_node<Token> tokens(g);
        std::vector<std::unique_ptr<flow::continue_node<flow::continue_msg>>> gates;
        std::vector<std::unique_ptr<flow::buffer_node<flow::continue_msg>>> ready;
        std::vector<std::unique_ptr<flow::join_node<JoinOut, flow::reserving>>> joins;
        std::vector<std::unique_ptr<Work>> works;
        for (size_t i = 0; i < n; ++i) {
            gates.push_back(std::make_unique<flow::continue_node<flow::continue_msg>>(
                g, [](const flow::continue_msg&) { return flow::continue_msg(); }));
            ready.push_back(std::make_unique<flow::buffer_node<flow::continue_msg>>(g));
            joins.push_back(std::make_unique<flow::join_node<JoinOut, flow::reserving>>(g));
            works.push_back(std::make_unique<Work>(
                g, flow::unlimited, [&body, i](const JoinOut& in, Work::output_ports_type& out) {
                    Token token = std::get<1>(in);
                    body(i, token); // never throws: the body records its own failures
                    std::get<0>(out).try_put(token);
                    std::get<1>(out).try_put(flow::continue_msg());
                }));
        }
        for (size_t i = 0; i < n; ++i) {
            if (dag.parents[i].empty()) {
                flow::make_edge(start, *gates[i]);
            }
            for (size_t p : dag.parents[i]) {
                flow::make_edge(flow::output_port<1>(*works[p]), *gates[i]);
            }
            flow::make_edge(*gates[i], *ready[i]);
            flow::make_edge(*ready[i], flow::input_port<0>(*joins[i]));
            flow::make_edge(tokens, flow::input_port<1>(*joins[i]));
            flow::make_edge(*joins[i], *works[i]);
            flow::make_edge(flow::output_port<0>(*works[i]), tokens);
        }
        for (Token t = 1; t <= parallelism; ++t) {
            tokens.try_put(t);
        }
        start.try_put(flow::continue_msg());
        g.wait_for_all();
    });
}

void SerialExecutor::run(const DagShape& dag, int, const NodeBody& body)
{
    const size_t n = dag.parents.size();
    std::vector<bool> done(n, false);
    size_t finished = 0;
    while (finished < n) {
        for (size_t i = 0; i < n; ++i) {
            if (done[i]) {
                continue;
            }
            bool ready = true;
            for (size_t p : dag.parents[i]) {
                ready = ready && done[p];
            }
            if (ready) {
                body(i, 1);
                done[i] = true;
                ++finished;
            }
        }
    }
}

} // namespace mlrun
