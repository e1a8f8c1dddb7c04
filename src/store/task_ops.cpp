#include "store/task_ops.hpp"

#include "core/error.hpp"
#include "core/template.hpp"
#include "core/util.hpp"
#include "ports/queue.hpp"
#include "store/backends.hpp"
#include "store/task_store.hpp"

#include <algorithm>

namespace mlrun {

namespace {

void check_project(const std::string& project)
{
    if (!project.empty()) {
        check_relative_path(project, "project name");
    }
}

void add_tags(Task& t, const std::vector<std::string>& tags)
{
    for (const std::string& tag : tags) {
        check_name(tag, "tag");
        if (std::find(t.tags.begin(), t.tags.end(), tag) == t.tags.end()) {
            t.tags.push_back(tag);
        }
    }
}

} // namespace

Task create_task(Backends& b, const Template& tmpl, const CreateRequest& request)
{
    Task t;
    t.name = request.name.empty() ? tmpl.name : request.name;
    t.project = request.project;
    check_project(t.project);
    t.type = tmpl.type;
    t.kind = tmpl.kind;
    t.template_name = tmpl.name;
    t.params = tmpl.params;
    t.editable = tmpl.editable;
    apply_sets(t.params, request.sets, &t.editable);
    add_tags(t, request.tags);
    if (!request.queue.empty()) {
        check_name(request.queue, "queue name");
    }
    t.queue = request.queue;
    b.store->create(t);
    return t;
}

Task clone_task(Backends& b, const std::string& id, const CreateRequest& request)
{
    Task source = b.store->get(id);
    Task t = clone_spec(source);
    if (!request.name.empty()) {
        t.name = request.name;
    }
    if (!request.project.empty()) {
        check_project(request.project);
        t.project = request.project;
    }
    apply_sets(t.params, request.sets, &t.editable);
    add_tags(t, request.tags);
    b.store->create(t);
    return t;
}

Task edit_task(Backends& b, const std::string& id, const std::vector<std::string>& sets)
{
    return b.store->update(b.store->resolve(id), [&](Task& t) {
        if (t.status != Status::draft) {
            throw UsageError("task " + t.id + " is " + std::string(to_string(t.status))
                             + "; only draft tasks can be edited (clone it, or reset it first)");
        }
        apply_sets(t.params, sets, &t.editable);
    });
}

Task reset_task(Backends& b, const std::string& id)
{
    std::string full = b.store->resolve(id);
    Task t = b.store->update(full, [&](Task& t) {
        if (t.status == Status::draft) {
            return; // already a draft: nothing to do
        }
        if (t.status == Status::in_progress || t.status == Status::queued) {
            throw UsageError("task " + t.id + " is " + std::string(to_string(t.status)) + "; abort it before a reset");
        }
        check_transition(t.status, Status::draft);
        t.status = Status::draft;
        t.started_ms = t.finished_ms = 0;
        t.error.clear();
        t.error_class.clear();
        t.exit_code = 0;
        t.artifacts.clear();
        t.values = Json::object();
        t.cache_key.clear();
    });
    b.store->clear_outputs(full);
    return t;
}

Task abort_task(Backends& b, const std::string& id)
{
    std::string full = b.store->resolve(id);
    Task t = b.store->update(full, [&](Task& t) {
        check_transition(t.status, Status::aborted);
        t.status = Status::aborted;
        t.finished_ms = now_ms();
        t.error = "aborted by the user";
        t.error_class = "Aborted";
    });
    if (!t.queue.empty() && b.queue && b.queue->exists(t.queue)) {
        b.queue->remove(t.queue, t.id);
    }
    return t;
}

Task publish_task(Backends& b, const std::string& id)
{
    return b.store->update(b.store->resolve(id), [&](Task& t) {
        check_transition(t.status, Status::published);
        t.status = Status::published;
    });
}

Task enqueue_task(Backends& b, const std::string& id, const std::string& queue, int priority)
{
    check_name(queue, "queue name");
    if (!b.queue->exists(queue)) {
        std::vector<std::string> names;
        for (const QueueInfo& q : b.queue->list()) {
            names.push_back(q.name);
        }
        std::string near = nearest(queue, names);
        throw UsageError("unknown queue \"" + queue + "\"" + (near.empty() ? "" : " (did you mean " + near + "?)")
                         + "; create it with `mlrun queue create " + queue + "`");
    }
    Task t = b.store->update(b.store->resolve(id), [&](Task& t) {
        check_transition(t.status, Status::queued);
        t.status = Status::queued;
        t.queue = queue;
    });
    b.queue->push(queue, t.id, priority);
    return t;
}

} // namespace mlrun
