#include "app/task_ops.hpp"

#include "agent/fenced_store.hpp"
#include "app/wiring.hpp"
#include "core/error.hpp"
#include "core/template.hpp"
#include "core/util.hpp"
#include "engine/task_runner.hpp"
#include "ports/agent_registry.hpp"
#include "ports/inputs.hpp"
#include "ports/log_stream.hpp"
#include "ports/queue.hpp"
#include "ports/result_sink.hpp"
#include "ports/task_store.hpp"
#include "tracking/local_sink.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>

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

// The schema of the task's template; empty when the template is gone (then only the
// editable list the task carries is checked).
ParamSchema schema_of(const Task& t, const std::string& templates_dir)
{
    try {
        return find_template(t.template_name, templates_dir).schema;
    } catch (const UsageError&) {
        return {};
    }
}

} // namespace

Task create_task(Backends& b, const Template& tmpl, const CreateRequest& request)
{
    Task t;
    t.name = request.name.empty() ? tmpl.name : request.name;
    check_label(t.name, "task name");
    t.project = request.project;
    check_project(t.project);
    t.type = tmpl.type;
    t.kind = tmpl.kind;
    t.template_name = tmpl.name;
    t.params = tmpl.params;
    t.editable = tmpl.editable;
    apply_sets(t.params, request.sets, &t.editable, &tmpl.schema);
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
        check_label(request.name, "task name");
        t.name = request.name;
    }
    if (!request.project.empty()) {
        check_project(request.project);
        t.project = request.project;
    }
    const ParamSchema schema = schema_of(source, request.templates_dir);
    apply_sets(t.params, request.sets, &t.editable, &schema);
    add_tags(t, request.tags);
    b.store->create(t);
    return t;
}

Task edit_task(Backends& b, const std::string& id, const std::vector<std::string>& sets,
               const std::string& templates_dir)
{
    const std::string full = b.store->resolve(id);
    const ParamSchema schema = schema_of(b.store->get(full), templates_dir);
    return b.store->update(full, [&](Task& t) {
        if (t.status != Status::draft) {
            throw UsageError("task " + t.id + " is " + std::string(to_string(t.status))
                             + "; only draft tasks can be edited (clone it, or reset it first)");
        }
        apply_sets(t.params, sets, &t.editable, &schema);
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
        t.transition(Status::draft, now_ms());
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
        t.transition(Status::aborted, now_ms());
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
    return b.store->update(b.store->resolve(id), [&](Task& t) { t.transition(Status::published, now_ms()); });
}

void require_queue(Backends& b, const std::string& queue)
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
}

std::string check_agent(Backends& b, const std::string& queue, bool required)
{
    if (served(b.agents->live(), queue)) {
        return "";
    }
    std::string what = "no live agent serves queue \"" + queue + "\" (start one with `mlrun agent daemon --queue "
                       + queue + "`)";
    if (required) {
        throw UsageError(what);
    }
    return what;
}

Task enqueue_task(Backends& b, const std::string& id, const std::string& queue, int priority)
{
    require_queue(b, queue);
    Task t = b.store->update(b.store->resolve(id), [&](Task& t) {
        if (t.status != Status::draft) {
            throw UsageError("task " + t.id + " is " + std::string(to_string(t.status))
                             + "; only draft tasks can be enqueued (reset it, or clone it)");
        }
        t.transition(Status::queued, now_ms());
        t.queue = queue;
    });
    b.queue->push(queue, t.id, priority);
    return t;
}

Task clone_task(Backends& b, const std::string& id, const CreateRequest& request, const std::string& queue,
                int priority)
{
    if (!queue.empty()) {
        require_queue(b, queue); // first: a refused enqueue must not leave a stray draft behind
    }
    Task t = clone_task(b, id, request);
    return queue.empty() ? t : enqueue_task(b, t.id, queue, priority);
}

Task dequeue_task(Backends& b, const std::string& id)
{
    std::string full = b.store->resolve(id);
    Task t = b.store->get(full);
    if (t.status != Status::queued) {
        throw UsageError("task " + t.id + " is " + std::string(to_string(t.status))
                         + "; only queued tasks can be dequeued");
    }
    if (!t.queue.empty() && b.queue->exists(t.queue) && !b.queue->remove(t.queue, t.id)) {
        throw UsageError("task " + t.id + " was already claimed by an agent; abort it instead (`mlrun task abort "
                         + t.id + "`)");
    }
    return b.store->update(full, [&](Task& t) { t.transition(Status::draft, now_ms()); });
}

std::vector<DeadLetter> list_dead_letters(Backends& b, const std::string& queue)
{
    require_queue(b, queue);
    return b.queue->dead_letters(queue);
}

Task requeue_dead_letter(Backends& b, const std::string& queue, const std::string& id)
{
    require_queue(b, queue);
    std::string full;
    for (const DeadLetter& d : b.queue->dead_letters(queue)) {
        if (d.task_id.rfind(id, 0) == 0) {
            full = d.task_id;
        }
    }
    if (full.empty()) {
        throw UsageError("queue " + queue + " holds no dead letter for task " + id + " (see `mlrun queue dlq " + queue
                         + "`)");
    }
    Task t = b.store->update(b.store->resolve(full), [&](Task& t) {
        if (t.status == Status::queued) {
            return;
        }
        if (t.status != Status::failed && t.status != Status::aborted) {
            throw UsageError("task " + t.id + " is " + std::string(to_string(t.status))
                             + "; only a failed or aborted dead letter is requeued");
        }
        std::vector<std::string> errors = t.attempt_errors;
        t.transition(Status::draft, now_ms());
        t.transition(Status::queued, now_ms());
        t.attempt_errors = errors;
        t.queue = queue;
    });
    b.queue->requeue_dead(queue, t.id);
    return t;
}

int exit_status(Status status)
{
    switch (status) {
    case Status::completed:
    case Status::published: return 0;
    case Status::aborted: return 130;
    default: return 1;
    }
}

TaskRunResult run_task_here(Backends& b, const std::string& id, const RunOptions& options, std::int64_t lease_epoch)
{
    const std::string full = b.store->resolve(id);
    // A record typed before its template was (or edited by hand) is refused here, before
    // it starts, rather than failing inside its kind.
    Task stored = b.store->get(full);
    check_params(schema_of(stored, ""), stored.params, "task " + stored.id + ": ");
    Ports ports = b.ports();
    // Under an agent's lease every write of the run goes through the fence (agent/fenced_store).
    std::optional<FencedStore> fenced;
    std::optional<LocalSink> fenced_sink;
    Task started;
    if (lease_epoch > 0) {
        fenced.emplace(*b.store, full, lease_epoch);
        fenced_sink.emplace(*fenced);
        ports.store = &*fenced;
        ports.sinks[0] = &*fenced_sink;
        check_lease(stored, lease_epoch);
        // The agent already moved it to in_progress with this epoch when it claimed it: the
        // record just read is the start (no second write); otherwise started here, fenced.
        started = stored.status == Status::in_progress ? std::move(stored) : fenced->update(full, [](Task& t) {
            if (t.status != Status::in_progress) {
                t.transition(Status::in_progress, now_ms());
            }
        });
    } else {
        started = start_task(*b.store, id);
    }
    TaskRunResult result;
    result.task = run_task(ports, started, options);
    for (ResultSink* sink : ports.sinks) {
        if (Outcome o = sink->flush()) {
            result.warnings.push_back("result sink: " + o->message);
        }
    }
    result.exit_status = exit_status(result.task.status);
    return result;
}

std::vector<Task> list_tasks(Backends& b, const TaskFilter& filter)
{
    return b.store->list(filter);
}

void each_task(Backends& b, const TaskFilter& filter, const std::function<void(const Task&)>& fn)
{
    b.store->each(filter, fn);
}

std::size_t count_tasks(Backends& b, const TaskFilter& filter)
{
    return b.store->count(filter);
}

Task get_task(Backends& b, const std::string& id)
{
    return b.store->get(id);
}

std::vector<Scalar> task_scalars(Backends& b, const std::string& id)
{
    return b.inputs->scalars(b.store->resolve(id));
}

void stream_log(Backends& b, const std::string& id, bool follow, const std::atomic<bool>* cancel,
                const std::function<void(std::string_view)>& out)
{
    std::string full = b.store->resolve(id);
    std::uint64_t offset = 0; // in the stream: a cut of a capped log never moves it back
    // In pieces of k_log_piece bytes: a 100 MB log is never held whole.
    constexpr std::size_t k_log_piece = 1 << 20;
    bool line_open = false; // the last byte printed was not a newline
    auto drain = [&] {
        while (true) {
            LogPiece piece = read_log_stream(*b.store, full, offset, k_log_piece);
            offset = piece.next;
            if (piece.cut > 0) {
                // Once per gap: what the cap removed before this reader got to it.
                out(std::string(line_open ? "\n" : "") + "[mlrun: log over its cap (MLRUN_LOG_MAX_BYTES): "
                    + "the middle is cut here, " + std::to_string(piece.cut) + " bytes]\n");
                line_open = false;
            }
            if (!piece.text.empty()) {
                out(piece.text);
                line_open = piece.text.back() != '\n';
            }
            // Until a read finds nothing new (a short piece may end at the head of a cut log).
            if (piece.text.empty() || (cancel && cancel->load())) {
                return;
            }
        }
    };
    while (true) {
        drain();
        if (!follow || (cancel && cancel->load())) {
            return;
        }
        Task t = b.store->get(full);
        if (is_final(t.status) || t.status == Status::draft) {
            drain();
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

void create_queue(Backends& b, const std::string& name)
{
    b.queue->create(name);
}

std::vector<QueueInfo> list_queues(Backends& b)
{
    return b.queue->list();
}

namespace {

// `mlrun log` from a command that a task under an agent's lease runs: the exec kind sets
// MLRUN_LEASE_EPOCH and MLRUN_TASK_ID, and the write is fenced like the task's own.
struct LogStore {
    explicit LogStore(Backends& b)
    {
        const char* epoch = std::getenv("MLRUN_LEASE_EPOCH");
        const char* task = std::getenv("MLRUN_TASK_ID");
        if (epoch && task && *task && std::strtoll(epoch, nullptr, 10) > 0) {
            fenced.emplace(*b.store, task, std::strtoll(epoch, nullptr, 10));
            store = &*fenced;
        } else {
            store = b.store;
        }
    }
    std::optional<FencedStore> fenced;
    TaskStore* store = nullptr;
};

// A published task is frozen: what it reports was reviewed (UsageError, nothing written).
void refuse_published(const Task& t)
{
    if (t.status == Status::published) {
        throw UsageError("task " + t.id + " is published: its results cannot change (clone it to rerun)");
    }
}
} // namespace

void log_scalar(Backends& b, const std::string& id, const Scalar& scalar)
{
    Scalar s = scalar;
    s.timestamp_ms = s.timestamp_ms ? s.timestamp_ms : now_ms();
    std::string full = b.store->resolve(id);
    refuse_published(b.store->get(full));
    LogStore log(b);
    log.store->append_scalars(full, {s});
}

void log_value(Backends& b, const std::string& id, const std::string& name, const Json& value)
{
    check_relative_path(name, "value name");
    LogStore log(b);
    log.store->update(b.store->resolve(id), [&](Task& t) {
        refuse_published(t);
        t.values[name] = value;
    });
}

ArtifactRecord log_artifact(Backends& b, const std::string& id, const std::string& name,
                            const std::filesystem::path& source)
{
    std::string full = b.store->resolve(id);
    refuse_published(b.store->get(full));
    LogStore log(b);
    ArtifactRecord rec = log.store->put_artifact(full, name, source);
    log.store->update(full, [&](Task& t) {
        refuse_published(t);
        // By name: a second log of the same name replaces the first.
        auto it = std::find_if(t.artifacts.begin(), t.artifacts.end(),
                               [&](const ArtifactRecord& a) { return a.name == rec.name; });
        if (it != t.artifacts.end()) {
            *it = rec;
        } else {
            t.artifacts.push_back(rec);
        }
    });
    return rec;
}

} // namespace mlrun
