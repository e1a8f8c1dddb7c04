#pragma once
// The `pipeline run` use case: a pipeline run with its CI checks (gates, baseline drops),
// reports (JUnit, Markdown) and the exit status, as a value. The CLI binds options to a
// request and prints the result; the submission server will call the same function.
#include "app/gates.hpp"
#include "engine/pipeline_runner.hpp"

#include <string>
#include <vector>

namespace mlrun {

struct Backends;

struct PipelineJobRequest {
    std::string file;                  // "" with options.resume_run
    PipelineOptions options;           // cancel, observer and templates_dir from the caller
    std::vector<std::string> gates;    // "roc_auc>=0.8", on top of the file's gates:
    bool gate_each = false;            // every ranked model, not only the recommended one
    std::string baseline;              // an earlier run (id or prefix)
    std::vector<std::string> max_drop; // METRIC=AMOUNT against the baseline
    std::string baseline_model;        // NAME@ALIAS on the MLflow registry (app/sync.hpp)
    std::string tracking;              // --tracking, for baseline_model ("" = the environment's)
    std::string junit;                 // report paths, "" for none
    std::string summary_md;
    // Agents (DESIGN §6): the default queue of every step (a step's own `queue:` wins); ""
    // runs the pipeline here. With it the run is driven by the queue controller
    // (engine/queue_step_runner.hpp) after a preflight (preflight_remote_run).
    std::string queue;
    bool require_agent = false; // preflight: every queue needs a live agent (else UsageError)
    int priority = 0;           // of every step's push
    // With queue: the controller itself runs as a task on an agent serving this queue (the
    // seed's `services`), and run_pipeline_job returns once that task is enqueued.
    std::string controller_queue;
};

struct PipelineJobResult {
    PipelineResult run;
    Json leaderboard;              // null when the run has no summary
    std::vector<GateResult> gates; // every gate and baseline check, in order
    bool gates_passed = true;
    int exit_status = 0; // 0 completed and gates passed (or a dry run), 1 failed, 130 interrupted
    // With controller_queue: the enqueued controller task (nothing else is set).
    std::string controller_task;
};

// Checks all input before anything runs (UsageError: bad gate or max-drop syntax, a
// baseline without drops or the reverse, an unknown baseline run, an unknown baseline model
// or alias on the tracking server, a report folder that
// does not exist); then runs, checks and writes the reports.
PipelineJobResult run_pipeline_job(Backends& b, PipelineJobRequest request);

// Before a run on agents, nothing enqueued yet: every queue the run needs (each step's own,
// else `request.queue`) exists — else UsageError naming the known ones — and, with
// require_agent, is served by a live agent. Then each step's local `data.path` becomes a
// dataset version in the store (reused when one of the same name has the same files), put
// on the step as `data.dataset_id` (+ data.path inside it) through request.options.sets, so
// an agent reads it only through the store. Returns the queues checked, sorted.
std::vector<std::string> preflight_remote_run(Backends& b, PipelineJobRequest& request);

// The leaderboard of the run's summary step, or null when there is none.
Json run_leaderboard(Backends& b, const Json& run);

} // namespace mlrun
