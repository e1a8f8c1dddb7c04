#pragma once
// The ports a use case works on, without owning them. The app's wiring (app/wiring.hpp)
// opens the adapters from URIs and hands this out; the engine and the agent see nothing
// else of the outside.
#include <vector>

namespace mlrun {

class AgentRegistry;
class Inputs;
class Queue;
class ResultSink;
class TaskStore;

struct Ports {
    TaskStore* store = nullptr;
    Inputs* inputs = nullptr;
    std::vector<ResultSink*> sinks; // [0] is the local store's sink, always present
    Queue* queue = nullptr;
    AgentRegistry* agents = nullptr;
};

} // namespace mlrun
