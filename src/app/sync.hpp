#pragma once
// The MLflow mirror as the app uses it (DESIGN §7): opened from a tracking URI with its
// sync cursors kept in the store (records "mlflow"/<task id> and "mlflow"/run:<run id>),
// the `mlrun sync` use case that replays the store into it, and the sync state that
// `task show` and `pipeline show` print.
#include "core/task.hpp"
#include "ports/result_sink.hpp"
#include "ports/task_store.hpp"

#include <memory>
#include <string>
#include <vector>

namespace mlrun {

struct Backends;

// True for an http:// or https:// URI (an MLflow tracking server).
bool is_mlflow_uri(const std::string& uri);

// Checks the server first (one request): UsageError (one line, credentials masked) when it
// is unreachable, refuses the credentials, fails TLS or is not MLflow. Then a mirror whose
// cursors are saved in `store` (atomically, from its sender thread) and restored from it
// when a task or pipeline run it has not seen yet starts.
std::unique_ptr<ResultSink> open_mlflow_mirror(const std::string& uri, TaskStore& store);

struct SyncRequest {
    std::string tracking; // --tracking, else MLRUN_TRACKING_URI, else MLFLOW_TRACKING_URI
    std::string run_id;   // only this pipeline run's tasks (id or prefix)
    std::string task_id;  // only this task (id or prefix)
};

struct SyncLine {
    std::string key;    // task id, or "run:<id>"
    std::string name;   // task name or pipeline name
    bool sent = false;  // something was sent now
    bool synced = true; // nothing is left behind
    std::string detail; // what was sent, or why not
};

struct SyncResult {
    std::string server;          // redacted
    std::vector<SyncLine> lines; // one per task or run that was behind, in order
    std::size_t up_to_date = 0;  // tasks and runs skipped: already synced
    int exit_status = 0;         // 0 all synced, 1 something could not be sent
};

// Replays every finished task of the selection that is behind (all by default) into a
// fresh mirror: its pipeline run first, then each task (restored cursor, start, scalars
// with their timestamps, artifacts, end, models), then flushes and saves the cursors.
// Sends nothing for what is already synced. UsageError without an http(s) URI, or for a
// server that cannot be used (as open_mlflow_mirror).
SyncResult sync_to_mlflow(Backends& b, const SyncRequest& request);

// The model version an alias points at on the MLflow registry (`--baseline-model NAME@ALIAS`),
// shaped as a leaderboard whose recommended row holds its test metrics (from the version's
// mlrun.metric.* tags, else its run's test.* metrics), for check_baseline().
struct RegistryBaseline {
    std::string label; // "titanic@recommended (version 3)"
    Json leaderboard;
};
// UsageError, one line with credentials masked, before anything runs: a ref that is not
// NAME@ALIAS, no http(s) tracking URI, a server that cannot be used, an unknown model or alias.
RegistryBaseline fetch_registry_baseline(const std::string& tracking_uri, const std::string& ref);

// What the store says of a task's (or a run's) mirror.
struct MirrorState {
    bool tracked = false; // a cursor exists
    bool synced = false;
    std::string server; // redacted
    std::string mlflow_run_id;
    std::string behind; // why not synced ("12 of 40 scalars sent", an error), "" when synced
};

// The task's state against its stored cursor, its stored scalars and artifacts.
MirrorState task_mirror_state(TaskStore& store, const Task& task);
// The pipeline run's state ("run:<id>" cursor against the run record's status).
MirrorState run_mirror_state(TaskStore& store, const Json& run);
// "synced to <server>, run <id>" or "not synced to MLflow: <why>"; "" when not tracked.
std::string mirror_line(const MirrorState& state);

} // namespace mlrun
