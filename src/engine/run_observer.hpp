#pragma once
// What a pipeline run tells the outside while it runs (taskflow's observer, ninja's
// Status). Implementations: terminal bars, plain lines, JSON events (engine/progress.hpp).
// Calls come from worker threads; implementations lock.
#include <cstdint>
#include <string>
#include <vector>

namespace mlrun {

struct StepEvent {
    std::string step; // node name, "train::mlp"
    std::string task_id;
    int slot = 0;      // worker slot 1..parallelism
    std::string state; // started | stage | completed | cached | failed | aborted | skipped
    std::string stage; // "epoch"
    int done = 0;
    int total = 0;
    std::int64_t elapsed_ms = 0;
    std::string message; // error or skip reason
    double metric = 0;
    bool has_metric = false;
};

class RunObserver {
public:
    virtual ~RunObserver() = default;
    virtual void run_started(const std::string& run_id, const std::string& pipeline,
                             const std::vector<std::string>& steps, int parallelism) = 0;
    virtual void step_event(const StepEvent& event) = 0;
    virtual void run_finished(const std::string& run_id, const std::string& status, std::int64_t elapsed_ms) = 0;
};

} // namespace mlrun
