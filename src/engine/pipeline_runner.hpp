#pragma once
// Runs a pipeline (ninja's Builder): expands the spec into a Plan, creates one task per
// node, runs them on an Executor, reuses cached and resumed steps, and keeps a run record
// (records/runs/<run id>.json) that `pipeline show/list/explain` read.
#include "core/params.hpp"
#include "engine/pipeline_spec.hpp"

#include <atomic>
#include <string>
#include <vector>

namespace mlrun {

struct Ports;
class RunObserver;

struct PipelineOptions {
    std::vector<std::string> sets;        // step.param=value
    int parallelism = 0;                  // 0: the file's
    bool no_cache = false;
    std::vector<std::string> no_cache_steps;
    std::string resume_run;               // rerun what did not complete in this run
    bool smoke = false;
    int cores = 0;                        // 0: the machine's
    bool serial = false;                  // SerialExecutor instead of the TBB graph
    std::string templates_dir;
    const std::atomic<bool>* cancel = nullptr;
    RunObserver* observer = nullptr;
};

struct PipelineResult {
    std::string run_id;
    std::string status;   // completed | failed | aborted
    std::string why;      // what made it fail
    Json record;          // the run record as written
    std::vector<Gate> gates; // the gates: of the file that ran
};

// Validates everything before running (templates, params against each template's
// editable list); throws UsageError for bad input. Step failures are in the result.
PipelineResult run_pipeline(const Ports& b, const std::string& file, PipelineOptions options);

// The run record with each node's live task state overlaid (for show/list during a run).
Json load_run(const Ports& b, const std::string& run_id);
// Resolves a run id or unique prefix; UsageError when unknown.
std::string resolve_run(const Ports& b, const std::string& id_or_prefix);
std::vector<Json> list_runs(const Ports& b);
// Why a step was or was not reused (pipeline explain).
std::string explain_step(const Ports& b, const std::string& run_id, const std::string& step);
// The DAG as text with each step's status, duration and metric (pipeline show).
std::string format_run(const Json& run);

} // namespace mlrun
