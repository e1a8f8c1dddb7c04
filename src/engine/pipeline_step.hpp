#pragma once
// What the pipeline loop decides for one node before and after it runs, as named
// functions over one RunContext: resume (kept from the earlier attempt), params, cache
// decision, task creation, recording the end. No threads here: each function touches its
// own node's record and reads ended parents only.
#include "core/task.hpp"
#include "core/template.hpp"
#include "engine/executor.hpp"
#include "engine/plan.hpp"
#include "engine/run_observer.hpp"
#include "engine/run_record.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlrun {

class TaskStore;
struct PipelineOptions;

// Everything a node's decisions read, and the per-node records they write.
struct RunContext {
    TaskStore& store; // every store read and write of the loop
    const PipelineSpec& spec;
    const std::map<std::string, Template>& templates;
    const PipelineOptions& options;
    std::string run_id;
    bool dry_run = false;                 // nothing written: not a task, record or cache entry
    int share = 1;                        // cores per step
    std::map<std::string, Task> earlier;  // resume: the newest task per step of the run
    std::map<std::string, Task> clone_of; // resume: drafts cloned from those tasks
    std::vector<NodeRecord> records;      // per plan node
    // Per plan node (sized as `records`): its task once it ended, was cached or kept, so that
    // the cache keys of its children read it from memory, not from the store. Each node
    // writes only its own slot, before its children start.
    std::vector<std::optional<Task>> ended;

    // Tells the observer, if any.
    void emit(const StepEvent& e) const;
    bool cancelled() const;
};

// Resume: the earlier attempt's task completed and nothing it reads was rerun and it was
// not cloned. Then the node takes that task and true is returned.
bool keep_from_earlier(RunContext& ctx, Plan& plan, size_t node);
// Resume of a run on agents (options.adopt_in_flight): the earlier attempt's task is still
// queued or in_progress, so the node takes it (executed, its cache material computed for the
// end) and it is returned for the runner to adopt.
std::optional<Task> adopt_in_flight(RunContext& ctx, Plan& plan, size_t node, const Json& params);
// The step's params: template defaults, the step's own, the foreach value, the pipeline
// settings the template takes, and the wiring (inputs = parent task ids, base_dir).
Json step_params(const RunContext& ctx, const Plan& plan, size_t node);
// Computes the node's cache key and decision (hit | miss | disabled | rerun). On a hit the
// node takes the completed task, which is returned. Reads the store only.
std::optional<Task> decide_cache(RunContext& ctx, Plan& plan, size_t node, const Json& params);
// The step's task, stored already started (in_progress, one attempt): a new one, or the
// draft cloned from this step's earlier task, rewired to this run. In a dry run nothing is
// stored and the task has no id.
Task create_step_task(RunContext& ctx, Plan& plan, size_t node, const Json& params);
// Records a step's end (time, metric, cache entry for a completed one) and returns it as
// the node's end.
NodeEnd record_step_end(RunContext& ctx, size_t node, const Task& ended);

// Resume: the run's tasks so far, with those still in_progress (their mlrun process died)
// moved to aborted, and the drafts cloned from them.
void load_earlier_attempt(RunContext& ctx);

} // namespace mlrun
