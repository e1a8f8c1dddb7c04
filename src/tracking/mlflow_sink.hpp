#pragma once
// MlflowSink: the MLflow mirror (DESIGN §7), a ResultSink beside the local store's sink.
// Its methods only enqueue and return at once: a background sender thread talks to the
// server, so training never waits for it. When the bounded queue is full, or the server
// is down or refuses, nothing blocks: what was not sent is recorded in the task's sync
// cursor ("needs sync") and `mlrun sync` feeds the task again later.
//
// Mapping: project -> experiment (created if missing); pipeline run -> a parent run
// (tags mlrun.pipeline_run, mlrun.run_id, mlrun.kind=pipeline, and mlflow.source.git.commit
// from the record's "git_commit" when the caller adds it); task -> a run, child of
// its parent task's run (search trials: no step of their own, or their parent's) or of
// its pipeline run (pipeline steps, whose parent is the DAG step before) (tag mlflow.parentRunId);
// run name = task name; tags mlrun.task_id, mlrun.run_id, mlrun.step, mlrun.template,
// mlrun.kind, mlrun.status, mlflow.runName, mlflow.user; params flattened to dotted keys
// (strings; a value over 6000 bytes truncated with a marker, the full params then uploaded
// as the artifact mlrun/params.json); scalars -> metric "title/series" (just "title" when
// the series is empty or equal to it) at step = iteration with the scalar's own
// timestamp_ms; numeric values -> metrics at step 0 stamped with the task's finished_ms;
// artifacts -> PUT under their name (folders file by file), checked against the store's
// sha256 first; final status -> FINISHED / FAILED / KILLED with end_time; a registered
// model -> a version of the registered model (source = the model folder's artifact URI,
// run_id = its training run, tags mlrun.metric.<m> per test metric, mlrun.primary_metric,
// mlrun.pipeline_run) and the alias (default "recommended") moved to it when it beats the
// version holding the alias on the primary metric (model_wins()).
// Keys go through sanitize_key() (mlflow_client.hpp).
//
// Exactly once (shared/mlflow-contract README, Idempotency): runs are looked up by tag
// before they are created (and after a create whose answer was lost), model versions by
// run id; scalars are re-sent with their original timestamps, which the server
// deduplicates; params are re-sent with equal values, which it accepts.
//
// Sync cursor, one JSON object per task (task_cursor()), to be stored by the caller and
// given back to restore_cursor() before a later sync:
//   {"server": "http://host:5000", "experiment_id": "1", "run_id": "<mlflow run id>",
//    "params_sent": true, "scalars_sent": 1200, "values_sent": true,
//    "artifacts_sent": ["leaderboard.json", ...], "status_sent": "FINISHED",
//    "models_sent": {"titanic@3": "2"}, "needs_sync": false, "error": ""}
// scalars_sent counts the task's scalars, in the order given, that the server confirmed:
// always a prefix. needs_sync is true while anything given to the sink is not confirmed.
#include "ports/result_sink.hpp"
#include "tracking/mlflow_client.hpp"
#include "tracking/mlflow_http.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mlrun::mlflow {

struct MlflowSinkOptions {
    HttpConfig http;
    // Scalars waiting to be sent, at most; more are dropped (and the task needs sync).
    // Other events are few and always queued.
    std::size_t queue_capacity = 1'000'000;
    // How long a partial batch of scalars waits for more before it is sent (flush and
    // task_ended send at once).
    long linger_ms = 200;
    // After the server could not be reached (every retry spent), events are not tried for
    // this long: they are recorded as not sent at once instead of each waiting for retries.
    long offline_ms = 5000;
    std::string alias = "recommended";        // moved to every registered model version
    std::string user;                         // mlflow.user; "" = $USER
    std::string default_experiment = "mlrun"; // for tasks without a project
};

// Whether a new model version takes the alias from the version holding it now: true when
// its `primary` test metric is strictly better than the holder's mlrun.metric.<primary>
// tag, or when either side lacks a number to compare.
bool model_wins(const Json& metrics, const std::string& primary, bool lower_is_better,
                const std::vector<KeyValue>& current_tags);

class MlflowSink : public ResultSink {
public:
    // Starts the sender thread; sends nothing until the first event.
    explicit MlflowSink(MlflowSinkOptions options);
    // Sends what is queued (like flush()), then stops the sender.
    ~MlflowSink() override;
    MlflowSink(const MlflowSink&) = delete;
    MlflowSink& operator=(const MlflowSink&) = delete;

    // Each enqueues and returns at once. A failure (retryable) only says that something
    // was dropped because the queue is full: the task then needs sync.
    Outcome run_started(const Json& run) override;
    Outcome run_ended(const Json& run) override;
    Outcome task_started(const Task& task) override;
    Outcome task_ended(const Task& task) override;
    Outcome scalars(const std::string& task_id, const std::vector<Scalar>& batch) override;
    Outcome artifact(const std::string& task_id, const ArtifactRecord& record,
                     const std::filesystem::path& stored) override;
    Outcome model_registered(const ModelRecord& record) override;

    // Waits until everything queued so far was sent or has failed. A failure (retryable
    // unless the configuration is wrong: auth, TLS, not an MLflow server) names how many
    // tasks need sync and the first reason, credentials masked.
    Outcome flush() override;

    // The task's cursor (format above); null when the sink never heard of the task.
    Json task_cursor(const std::string& task_id) const;
    // The pipeline run's cursor: {"experiment_id", "run_id", "status_sent", "needs_sync", "error"}.
    Json run_cursor(const std::string& run_id) const;
    // A cursor stored earlier, for a re-sync: the run id is reused and the first
    // scalars_sent scalars given again are skipped. Call before feeding the task.
    void restore_cursor(const std::string& task_id, const Json& cursor);
    // The task's environment record (engine/environment.hpp), sent with its start and end
    // as tags mlrun.env.<dotted key> and mlflow.source.git.commit. Call before task_started.
    void set_environment(const std::string& task_id, const Json& environment);
    // Called on the sender thread each time a task's cursor changed (to persist it).
    void on_cursor(std::function<void(const std::string& task_id, const Json& cursor)> listener);
    // Ids of the tasks (and "run:<id>" of pipeline runs) that need sync now.
    std::vector<std::string> needs_sync() const;
    // HTTP requests sent so far (retries included).
    std::uint64_t requests_sent() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace mlrun::mlflow
