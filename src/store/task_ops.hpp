#pragma once
// Task operations behind the `mlrun task ...` commands, on the ports only.
#include "core/task.hpp"

#include <string>
#include <vector>

namespace mlrun {

struct Backends;
struct Template;

struct CreateRequest {
    std::string name;
    std::string project;
    std::vector<std::string> sets; // --set key=value, checked against the allow-list
    std::vector<std::string> tags;
    std::string queue;
};

// A draft task from a template. Returns the stored record.
Task create_task(Backends& b, const Template& tmpl, const CreateRequest& request);
// Copies spec and params (never outputs); draft; cloned_from = source.
Task clone_task(Backends& b, const std::string& id, const CreateRequest& request);
// Draft only; sets are checked against the task's editable list.
Task edit_task(Backends& b, const std::string& id, const std::vector<std::string>& sets);
// failed/aborted/completed -> draft; clears outputs.
Task reset_task(Backends& b, const std::string& id);
// queued -> aborted (dequeued) or in_progress -> aborted (the runner sees it at its next check).
Task abort_task(Backends& b, const std::string& id);
// completed -> published (frozen).
Task publish_task(Backends& b, const std::string& id);
// draft -> queued, pushed on the named queue.
Task enqueue_task(Backends& b, const std::string& id, const std::string& queue, int priority);

} // namespace mlrun
