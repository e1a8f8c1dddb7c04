#pragma once
// Task operations behind the `mlrun task ...` and `mlrun log ...` commands: the use cases
// the CLI (and later the submission server) call.
#include "core/results.hpp"
#include "core/task.hpp"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrun {

struct Backends;
struct QueueInfo;
struct DeadLetter;
struct RunOptions;
struct Template;
struct TaskFilter;

struct CreateRequest {
    std::string name;
    std::string project;
    std::vector<std::string> sets; // --set key=value, checked against the allow-list
    std::vector<std::string> tags;
    std::string queue;
    std::string templates_dir; // --templates: where clone finds the source template's schema
};

// A draft task from a template. Returns the stored record.
Task create_task(Backends& b, const Template& tmpl, const CreateRequest& request);
// Copies spec and params (never outputs); draft; cloned_from = source.
Task clone_task(Backends& b, const std::string& id, const CreateRequest& request);
// Draft only; sets are checked against the task's editable list and its template's schema
// (found in templates_dir like --templates; a template no longer found: the list only).
Task edit_task(Backends& b, const std::string& id, const std::vector<std::string>& sets,
               const std::string& templates_dir = "");
// failed/aborted/completed -> draft; clears outputs.
Task reset_task(Backends& b, const std::string& id);
// queued -> aborted (dequeued) or in_progress -> aborted (the runner sees it at its next check).
Task abort_task(Backends& b, const std::string& id);
// completed -> published (frozen).
Task publish_task(Backends& b, const std::string& id);
// draft -> queued, pushed on the named queue: the one enqueue path. UsageError for an
// unknown queue, with the nearest name as a suggestion.
Task enqueue_task(Backends& b, const std::string& id, const std::string& queue, int priority);
// A clone, enqueued when `queue` is given (the queue checked before anything is created).
Task clone_task(Backends& b, const std::string& id, const CreateRequest& request, const std::string& queue,
                int priority);
// UsageError unless the queue exists (with a suggestion).
void require_queue(Backends& b, const std::string& queue);
// "" when a live agent (not stopping) serves `queue`, else the warning to show. With
// `required`, UsageError instead of the warning (--require-agent).
std::string check_agent(Backends& b, const std::string& queue, bool required);
// queued -> draft, taken off its queue. UsageError unless queued and still pending (a
// claimed task is running on an agent: abort it instead).
Task dequeue_task(Backends& b, const std::string& id);
// `mlrun queue dlq`: the dead letters of a queue (UsageError for an unknown queue).
std::vector<DeadLetter> list_dead_letters(Backends& b, const std::string& queue);
// Moves a dead letter back to its queue with a fresh attempt count; its task (failed by the
// agent that dead-lettered it) becomes queued again, its attempt errors kept. UsageError
// when the queue holds no such dead letter.
Task requeue_dead_letter(Backends& b, const std::string& queue, const std::string& id);

// The process exit status for a task's final status: 0 completed, 130 aborted, 1 else.
int exit_status(Status status);

struct TaskRunResult {
    Task task;                         // the final record as stored
    int exit_status = 0;               // exit_status(task.status)
    std::vector<std::string> warnings; // mirrors that failed to flush
};
// `mlrun task run`: draft/queued -> in_progress, run here, sinks flushed. UsageError when
// the task cannot start. lease_epoch > 0 (an agent's child): every write is fenced by it
// (agent/fenced_store.hpp): LeaseLost is thrown, and nothing written, once another
// delivery owns the task.
TaskRunResult run_task_here(Backends& b, const std::string& id, const RunOptions& options,
                            std::int64_t lease_epoch = 0);

// Reads behind `task list`, `task show` and `task logs`.
std::vector<Task> list_tasks(Backends& b, const TaskFilter& filter);
// The records of list_tasks, handed to `fn` one by one as the store reads them.
void each_task(Backends& b, const TaskFilter& filter, const std::function<void(const Task&)>& fn);
// How many tasks match `filter` (its limit ignored).
std::size_t count_tasks(Backends& b, const TaskFilter& filter);
// UsageError for an unknown id (with a suggestion).
Task get_task(Backends& b, const std::string& id);
std::vector<Scalar> task_scalars(Backends& b, const std::string& id);
// The task's log to `out` in chunks; with `follow`, polls until the task ends (or is a
// draft again) or `cancel` is set, then prints what is left. Read as a stream: where the
// log cap cut out bytes this reader had not printed yet, one line "[mlrun: log over its cap
// (MLRUN_LOG_MAX_BYTES): the middle is cut here, N bytes]" stands for them, and the text
// goes on from the kept tail; nothing printed is printed again.
void stream_log(Backends& b, const std::string& id, bool follow, const std::atomic<bool>* cancel,
                const std::function<void(std::string_view)>& out);

// `mlrun queue create|list`.
void create_queue(Backends& b, const std::string& name);
std::vector<QueueInfo> list_queues(Backends& b);

// `mlrun log ...` from inside a running task (another process): straight to the store,
// where the runner's final write keeps them (values and artifacts merge by name).
void log_scalar(Backends& b, const std::string& id, const Scalar& scalar);
void log_value(Backends& b, const std::string& id, const std::string& name, const Json& value);
ArtifactRecord log_artifact(Backends& b, const std::string& id, const std::string& name,
                            const std::filesystem::path& source);

} // namespace mlrun
