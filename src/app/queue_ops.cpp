#include "app/queue_ops.hpp"

#include "app/task_ops.hpp"
#include "app/wiring.hpp"
#include "core/util.hpp"
#include "ports/agent_registry.hpp"
#include "ports/task_store.hpp"

#include <algorithm>

namespace mlrun {

namespace {

// Records that say they were queued on `queue`, with `status`.
std::vector<std::string> tasks_on(Backends& b, const std::string& queue, Status status)
{
    TaskFilter filter;
    filter.status = status;
    filter.light = true;
    std::vector<std::string> ids;
    for (const Task& t : b.store->list(filter)) {
        if (t.queue == queue) {
            ids.push_back(t.id);
        }
    }
    return ids;
}

} // namespace

std::vector<std::string> agents_serving(Backends& b, const std::string& queue)
{
    std::vector<std::string> names;
    for (const AgentInfo& a : b.agents->live()) {
        if (!a.stopping && std::find(a.queues.begin(), a.queues.end(), queue) != a.queues.end()) {
            names.push_back(a.name);
        }
    }
    return names;
}

QueueView show_queue(Backends& b, const std::string& queue)
{
    require_queue(b, queue);
    QueueView view;
    view.counts.name = queue;
    for (const QueueInfo& q : b.queue->list()) {
        if (q.name == queue) {
            view.counts = q;
        }
    }
    view.pending = tasks_on(b, queue, Status::queued);
    view.running = tasks_on(b, queue, Status::in_progress);
    view.dead = b.queue->dead_letters(queue);
    view.agents = agents_serving(b, queue);
    return view;
}

std::vector<std::string> purge_queue(Backends& b, const std::string& queue)
{
    require_queue(b, queue);
    std::vector<std::string> purged;
    for (const std::string& id : tasks_on(b, queue, Status::queued)) {
        if (!b.queue->remove(queue, id)) {
            continue; // claimed meanwhile: an agent runs it
        }
        b.store->update(id, [&](Task& t) {
            if (t.status == Status::queued) {
                t.transition(Status::draft, now_ms());
            }
        });
        purged.push_back(id);
    }
    return purged;
}

} // namespace mlrun
