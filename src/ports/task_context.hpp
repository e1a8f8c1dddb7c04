#pragma once
// What a running task sees: its record, where it reports (Reporter) and reads (Inputs),
// a scratch folder, its core share, a log, a progress callback and a cancel flag. Task
// code uses nothing else.
#include "core/task.hpp"

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace mlrun {

class Inputs;
class Reporter;

struct TaskContext {
    Task task; // the record as it started (params are final)
    Reporter* reporter = nullptr;
    Inputs* inputs_port = nullptr;
    std::filesystem::path work_dir; // empty scratch folder for outputs (MLRUN_OUTPUT_DIR)
    int threads = 1;                // the core share for this task's own threads
    std::uint64_t seed = 0;         // params.seed, or 0
    // One line to the task log (log.txt), without the newline.
    std::function<void(const std::string&)> log;
    // Reports a stage: "epoch 3/20" as (stage="epoch", done=3, total=20).
    std::function<void(const std::string& stage, int done, int total)> progress;
    const std::atomic<bool>* cancel = nullptr;
    // Extra environment for child processes (MLRUN_HOME, PATH with mlrun first).
    std::vector<std::pair<std::string, std::string>> env;

    // Log and progress that tolerate a context without callbacks (unit tests).
    void say(const std::string& line) const
    {
        if (log) {
            log(line);
        }
    }
    void stage(const std::string& name, int done, int total) const
    {
        if (progress) {
            progress(name, done, total);
        }
    }
    bool cancelled() const { return cancel && cancel->load(std::memory_order_relaxed); }
    // Throws Aborted when cancelled: call it between epochs, trials, batches of rows.
    void check_cancel() const;
    Reporter& report() const { return *reporter; }
    Inputs& inputs() const { return *inputs_port; }
};

// A built-in task kind: validates its params and runs. Throws UsageError for bad params
// (the task fails with that message), TaskFailed or anything else for a failure.
using KindFn = std::function<void(TaskContext&)>;

// Where kinds are registered (the engine's registry): the task plugin's entry point
// `mlrun_register_kinds(KindSet&)` adds its kinds here, knowing nothing of the engine.
class KindSet {
public:
    virtual ~KindSet() = default;
    virtual void add(const std::string& name, KindFn fn) = 0;
};

} // namespace mlrun
