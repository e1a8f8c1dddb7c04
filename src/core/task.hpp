#pragma once
// The task record (DESIGN §3). Stored as task.json; built and written with nlohmann/json.
#include "core/params.hpp"
#include "core/status.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace mlrun {

// A named output file of a task, as recorded in task.json.
struct ArtifactRecord {
    std::string name;         // e.g. "model/model.json", relative to the task's artifacts
    std::string content_type; // "text/csv", "application/json", "image/png", ...
    std::uint64_t size = 0;
    std::string sha256;
    std::string uri; // where the backend keeps it (file://... for the local store)
};

struct Task {
    std::string id;
    std::string name;
    std::string project;         // "a/b" = subproject b of a
    std::string type = "custom"; // ClearML task types: training, data_processing, ...
    std::string kind;            // preprocess, train_model, summary, inference, exec, ...
    std::string template_name;
    Json params = Json::object();
    std::vector<std::string> editable; // the template's allow-list of params
    std::vector<std::string> tags;
    std::string run_id; // the pipeline run it belongs to
    std::string step;   // the pipeline step it runs ("train::mlp")
    std::string parent;
    std::string cloned_from;
    std::string queue;
    Status status = Status::draft;
    std::int64_t created_ms = 0;
    std::int64_t updated_ms = 0;
    std::int64_t started_ms = 0;
    std::int64_t finished_ms = 0;
    int attempts = 0;
    int exit_code = 0;
    std::string error;       // message of the last failure
    std::string error_class; // "TaskFailed", "UsageError", "signal", "exit code", ...
    // Earlier failed deliveries through a queue, oldest first ("attempt 1: agent_lost: ...");
    // kept when a later attempt starts, cleared by a reset to draft.
    std::vector<std::string> attempt_errors;
    // The queue lease epoch of the agent that last started this task (0: never via an agent).
    std::int64_t lease_epoch = 0;
    std::string cache_key;
    std::vector<ArtifactRecord> artifacts;
    Json values = Json::object(); // single values reported by the task (metrics and the like)
    // Set only on a listing entry whose stored record cannot be read (TaskFilter::
    // include_corrupt): why; such an entry has only its id. Never stored.
    std::string corrupt;

    // The one way a status changes (DESIGN §3): checks the move (UsageError "cannot move
    // task from X to Y"), then keeps the record consistent with it: in_progress counts an
    // attempt, sets started_ms and clears the previous end and error; completed, failed
    // and aborted set finished_ms; draft (reset, clone) clears times, error and exit code.
    void transition(Status to, std::int64_t now_ms);

    // task.json, every field (core/task_codec.cpp owns the format).
    Json to_json() const;
    // Throws UsageError when a required field (id, kind, status) is missing or a field
    // has the wrong type; absent optional fields keep their defaults.
    static Task from_json(const Json& j);
};

// Fields kept by a clone: spec and params, never outputs.
Task clone_spec(const Task& source);

std::string_view task_type_for_kind(std::string_view kind);

} // namespace mlrun
