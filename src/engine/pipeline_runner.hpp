#pragma once
// Runs a pipeline (ninja's Builder): expands the spec into a Plan, creates one task per
// node, hands them to a StepRunner as the Executor's graph finds them ready, reuses cached
// and resumed steps, and keeps a run record (records/runs/<run id>.json) that
// `pipeline show/list/explain` read.
#include "core/params.hpp"
#include "engine/pipeline_spec.hpp"
#include "engine/run_record.hpp"

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace mlrun {

struct Ports;
class RunObserver;
class StepRunner;

struct PipelineOptions {
    std::vector<std::string> sets; // step.param=value
    int parallelism = 0;           // 0: the file's
    bool no_cache = false;
    std::vector<std::string> no_cache_steps;
    std::string resume_run; // rerun what did not complete in this run
    bool smoke = false;
    int cores = 0;       // 0: the machine's
    bool serial = false; // SerialExecutor instead of the TBB graph
    std::string templates_dir;
    const std::atomic<bool>* cancel = nullptr;
    RunObserver* observer = nullptr;
    // Runs each step; null: in-process (engine/step_runners.hpp), or the dry run with dry_run.
    StepRunner* runner = nullptr;
    // Decides as a run would (resume, cache) but runs nothing and writes nothing: no task,
    // run record, cache entry or lock; the result's record shows what would run.
    bool dry_run = false;
    // A run on agents (runner: engine/queue_step_runner.hpp): on resume, the run's tasks
    // still queued or in_progress are adopted (StepRequest::adopt) instead of being taken
    // for abandoned and run again.
    bool adopt_in_flight = false;
    // Called with the spec as it will run once its params are checked, before anything is
    // written (dry runs included); throws UsageError to refuse the run (app/data_preflight).
    std::function<void(const PipelineSpec&)> preflight;
};

struct PipelineResult {
    std::string run_id;
    std::string status;      // completed | failed | aborted
    std::string why;         // what made it fail
    Json record;             // the run record as written
    std::vector<Gate> gates; // the gates: of the file that ran
};

// Validates everything before running (templates, params against each template's
// editable list); throws UsageError for bad input. Step failures are in the result.
PipelineResult run_pipeline(const Ports& b, const std::string& file, PipelineOptions options);

// load_run, resolve_run, list_runs, explain_step, format_run: engine/run_record.hpp.

} // namespace mlrun
