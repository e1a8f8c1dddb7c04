#pragma once
// The run record (records/runs/<run id>.json): what the runner keeps per node besides the
// plan's state, how the record is built, and its readers (`pipeline show/list/explain`).
#include "core/task.hpp"
#include "engine/plan.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlrun {

struct Ports;
class TaskStore;

// The status `pipeline list/show` give a run recorded "running" whose driver is gone.
constexpr const char* k_run_dead = "dead";

// What the runner keeps per node besides the Plan's state.
struct NodeRecord {
    std::string cache_key;
    Json cache_material;
    std::string cache_decision; // hit | miss | disabled | kept | rerun
    std::string cache_reason;
    std::int64_t started_ms = 0;
    std::int64_t finished_ms = 0;
    std::optional<double> metric;
    bool executed = false; // ran (or was rerun) in this invocation
};

// The fields of a run record that are not the plan's.
struct RunRecordHeader {
    std::string run_id;
    std::optional<Json> previous; // the record of the run being resumed
    std::int64_t started_ms = 0;  // of this invocation
    bool smoke = false;
    std::vector<std::string> sets;
    Json git; // git state of the pipeline file's repository, found once when the run starts
};

// A task's primary metric: values.test.<metric>, else values.best_score.
std::optional<double> primary_value(const Task& t, const std::string& metric);
// The node state a final task status stands for (published counts as completed).
NodeState state_of(Status s);
// The whole record with `status` ("running" while the run goes on) and `why`.
Json run_record_json(const RunRecordHeader& header, const Plan& plan, const std::vector<NodeRecord>& records,
                     const std::string& status, const std::string& why);

// True when no process drives run `run_id`: its run lock can be taken (and is let go at
// once). False when it is held, or when that cannot be told (a read-only store).
bool run_driver_gone(TaskStore& store, const std::string& run_id);
// A "running" run whose driver is gone becomes status k_run_dead (with why and how to go
// on), and its running nodes too. Other runs are left as they are.
void mark_if_dead(TaskStore& store, Json& run);

// The run record with each node's live task state overlaid (for show/list during a run);
// a dead run is marked so (mark_if_dead).
Json load_run(const Ports& b, const std::string& run_id);
// Resolves a run id, a unique prefix of one, or "last" (the newest run); UsageError when unknown.
std::string resolve_run(const Ports& b, const std::string& id_or_prefix);
// Every readable run record, dead runs marked (mark_if_dead).
std::vector<Json> list_runs(const Ports& b);
// Why a step was or was not reused (pipeline explain).
std::string explain_step(const Ports& b, const std::string& run_id, const std::string& step);
// The DAG as text with each step's status, duration and metric (pipeline show).
std::string format_run(const Json& run);

} // namespace mlrun
