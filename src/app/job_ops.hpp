#pragma once
// The submission server's use cases (DESIGN §10): submissions (an uploaded table stored as a
// dataset version), jobs (a template or a pipeline of the server's allow-list, enqueued for
// agents), their status, log and results, and a challenge's leaderboard. The HTTP layer
// (src/server/) checks who asks; these functions check what is asked.
//
// Records (TaskStore::put_record): "server_submissions"/<id>, "server_jobs"/<job id> and
// "server_idempotency"/<sha256(owner, key)>. A job record:
//   {id, owner, challenge, kind, submission_id, task_id, run_id, params, queue, created_ms}
// kind "task": one task of a template, job id = task id. kind "pipeline": the pipeline runs
// inside one exec task on an agent (its `mlrun pipeline run FILE --json`, FILE the pipeline's
// text carried in the task, the data the submission's dataset version), job id = that task's
// id and run_id is read from its first event once it started. A pipeline driven on agents
// (`pipeline run --queue`) fits the same record as kind "pipeline_run", job id = run id.
#include "core/error.hpp"
#include "core/params.hpp"
#include "core/template.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mlrun {

struct Backends;

// An id the caller may not see or that does not exist: HTTP 404 (never 403, so ids cannot
// be probed).
class NotFound : public UsageError {
public:
    using UsageError::UsageError;
};
// A request that clashes with the state of what it names (an ended job, a reused
// idempotency key): HTTP 409.
class Conflict : public UsageError {
public:
    using UsageError::UsageError;
};

// One entry of the server's allow-list: what POST /jobs may name.
struct Challenge {
    std::string name;                  // the template's name, or the pipeline's `name:`
    std::string kind;                  // "task" or "pipeline"
    Template tmpl;                     // kind task: the template
    std::filesystem::path pipeline;    // kind pipeline: the pipeline file (absolute)
    std::string pipeline_text;         // kind pipeline: its text when loaded (what jobs run)
    std::string data_step;             // kind pipeline: the step the submission feeds
    std::string primary_metric;        // what the leaderboard ranks by
    std::vector<std::string> editable; // keys a job may set ("step.key" for pipelines)
    std::string templates_dir;         // --templates folder the challenge was found with
    Json schema = Json::array();       // the editable params' schema (template show --json shape)
};

// Parses the allow-list: comma-separated template names (found like --templates) or paths
// of pipeline files (containing "/" or ending in .yaml/.yml). UsageError for an unknown
// template, a bad pipeline file or a name given twice. What an exec-kind template (or step)
// runs and its environment (`command`, `env`) are never editable through the server.
std::vector<Challenge> load_challenges(const std::string& allow_list, const std::string& templates_dir);
// The challenge named `name`, or nullptr.
const Challenge* find_challenge(const std::vector<Challenge>& challenges, const std::string& name);
// UsageError unless `params` is an object whose every (dotted) key the challenge marks
// editable and whose values its schema accepts.
void check_job_params(const Challenge& challenge, const Json& params);

struct SubmissionRequest {
    std::string owner;          // token name
    std::string name;           // the submission's name (checked like a dataset name)
    std::string target;         // label column
    std::string task_type;      // classification (binary or multiclass) | regression
    std::filesystem::path file; // the uploaded file, already on disk (moved into the store)
    std::string file_name;      // its checked name: the dataset's file
    std::uint64_t size = 0;     // bytes received
    std::string sha256;         // of those bytes
};

// Checks the fields (UsageError), stores the file as a dataset version and writes the
// submission record {id, owner, name, target, task_type, dataset_id, file_name, size,
// sha256, created_ms}. Returns the record.
Json create_submission(Backends& b, const SubmissionRequest& request);
// The record, or nullopt for an unknown id (never a prefix match).
std::optional<Json> find_submission(Backends& b, const std::string& id);
// Records of `owner` ("" = everyone's), oldest first.
std::vector<Json> list_submissions(Backends& b, const std::string& owner);
// Submissions of `owner` created at or after `since_ms`, oldest first (quotas).
std::vector<std::int64_t> submission_times(Backends& b, const std::string& owner, std::int64_t since_ms);

struct JobRequest {
    std::string owner;
    std::string submission_id;
    Json params = Json::object();
    std::string idempotency_key; // "" = none
    std::string queue;           // where the task is pushed
};

struct JobCreated {
    Json job;
    bool created = false; // false: the idempotency key named an earlier job
};

// Checks everything first (params, submission owned by the requester, queue), then creates
// and enqueues the task and writes the job record. With an idempotency key seen before for
// this owner, returns that job (UsageError when the earlier request differed).
JobCreated create_job(Backends& b, const Challenge& challenge, const JobRequest& request);
// The job an earlier request with this owner's idempotency key made, or nullopt.
std::optional<Json> find_idempotent_job(Backends& b, const std::string& owner, const std::string& key);
// The record (run_id filled in once known), or nullopt for an unknown id.
std::optional<Json> find_job(Backends& b, const std::string& id);
// Job records of `owner` ("" = everyone's), newest first.
std::vector<Json> list_jobs(Backends& b, const std::string& owner);
// Jobs of `owner` still queued or running (quotas).
int active_jobs(Backends& b, const std::string& owner);

// {id, status (queued|running|completed|failed|aborted), challenge, submission_id, created_ms,
//  started_ms, finished_ms, attempts, error, run_id}.
Json job_status(Backends& b, const Json& job);
// True once the job's task has ended (completed, failed, aborted).
bool job_finished(Backends& b, const Json& job);
// The job's log from byte `offset`.
std::string job_log(Backends& b, const Json& job, std::uint64_t offset);
// {id, status, leaderboard, recommended, metrics, mlflow: {server, runs: [{task_id, step,
//  run_id, url}]}}; leaderboard and recommended null until a summary completed; mlflow
// null when `tracking` is "" (the server's tracking URI, already redacted).
Json job_results(Backends& b, const Json& job, const std::string& tracking);
// Aborts the job's task (queued: dequeued; running: its runner stops). UsageError when it
// already ended.
Json abort_job(Backends& b, const Json& job);

// The best result per submission among the challenge's completed jobs, ranked by its
// primary metric with the summary's tie breakers: {challenge, primary_metric, rows:
// [{rank, submission_id, submission, job_id, model, kind, task_id, score, test}]}.
Json challenge_leaderboard(Backends& b, const Challenge& challenge);

} // namespace mlrun
