#include "agent/agent.hpp"

#include "core/error.hpp"
#include "core/task.hpp"
#include "core/util.hpp"
#include "platform/subprocess.hpp"
#include "ports/agent_registry.hpp"
#include "ports/queue.hpp"
#include "ports/task_store.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>

namespace mlrun {

namespace {

constexpr std::size_t k_tail_bytes = 4096;
constexpr const char* k_agent_lost = "agent_lost";

std::string host_name()
{
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) {
        return "localhost";
    }
    return host;
}

std::string last_line(std::string text)
{
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
        text.pop_back();
    }
    std::size_t nl = text.rfind('\n');
    return nl == std::string::npos ? text : text.substr(nl + 1);
}

// What one agent run keeps between its steps.
class Agent {
public:
    Agent(Queue& queue, AgentRegistry& agents, TaskStore& store, const AgentOptions& options)
        : m_queue(queue), m_agents(agents), m_store(store), m_options(options)
    {
        m_tick_ms = std::clamp<std::int64_t>(options.lease_ms / 4, 20, 1000);
        m_info.name = options.name.empty() ? default_agent_name() : options.name;
        m_info.host = host_name();
        m_info.pid = static_cast<int>(::getpid());
        m_info.queues = options.queues;
        m_info.started_ms = now_ms();
        m_info.ttl_ms = std::max<std::int64_t>(3000, 3 * m_tick_ms);
    }

    AgentStats run()
    {
        beat();
        log("agent " + m_info.name + " serving " + join(m_options.queues));
        std::int64_t idle_since = now_ms();
        try {
            while (!stopping()) {
                housekeeping();
                if (stopping()) {
                    break;
                }
                if (m_options.max_idle_ms > 0 && now_ms() - idle_since >= m_options.max_idle_ms) {
                    log("idle for " + format_duration_ms(now_ms() - idle_since) + ": exiting");
                    break;
                }
                // Blocks in the queue (Redis: on the server) for at most one tick, so beats go on.
                std::optional<Lease> lease = m_queue.claim(m_options.queues, static_cast<int>(m_tick_ms));
                if (!lease) {
                    continue;
                }
                bool ran = handle(*lease);
                idle_since = now_ms();
                if (ran && m_options.once) {
                    break;
                }
            }
        } catch (...) {
            m_agents.remove(m_info.name);
            throw;
        }
        m_agents.remove(m_info.name);
        log("agent " + m_info.name + " stopped (" + std::to_string(m_stats.done) + " tasks done)");
        return m_stats;
    }

private:
    static std::string join(const std::vector<std::string>& items)
    {
        std::string out;
        for (const std::string& s : items) {
            out += (out.empty() ? "" : ", ") + s;
        }
        return out;
    }

    void log(const std::string& line) const
    {
        if (m_options.on_log) {
            m_options.on_log(line);
        }
    }

    bool stopping()
    {
        if (!m_stop_seen && m_options.stop && m_options.stop->load()) {
            m_stop_seen = true;
            log("stop requested (signal): no more claims");
        }
        return m_stop_seen || m_stop_requested;
    }

    // The registry beat (and a look for a stop request), every tick.
    void beat()
    {
        m_info.tasks_done = m_stats.done;
        m_agents.beat(m_info);
        m_next_beat_ms = now_ms() + m_tick_ms;
        if (!m_stop_requested) {
            for (const AgentInfo& a : m_agents.live()) {
                if (a.name == m_info.name && a.stopping) {
                    m_stop_requested = true;
                    log("stop requested (mlrun agent stop): no more claims");
                }
            }
        }
    }

    // Beats when due, and takes back expired leases of any agent about every half lease.
    void housekeeping()
    {
        std::int64_t now = now_ms();
        if (now >= m_next_beat_ms) {
            beat();
        }
        if (now >= m_next_sweep_ms) {
            m_next_sweep_ms = now + std::max<std::int64_t>(m_options.lease_ms / 2, 10);
            if (int n = m_queue.requeue_expired()) {
                log("requeued " + std::to_string(n) + " expired lease(s)");
            }
        }
    }

    // One delivery; true when a child ran for it.
    bool handle(Lease& lease)
    {
        m_info.current_task = lease.task_id;
        beat();
        bool ran = false;
        try {
            ran = handle_claimed(lease);
        } catch (...) {
            m_info.current_task.clear();
            throw;
        }
        m_info.current_task.clear();
        beat();
        return ran;
    }

    bool handle_claimed(Lease& lease)
    {
        const std::string& id = lease.task_id;
        // Take the record over for this delivery: a task already ended or no longer queued is
        // acked (a repeated delivery runs once); one left in_progress lost its agent.
        std::optional<Task> before;
        std::string skip;
        try {
            before = m_store.update(id, [&](Task& t) {
                if (is_final(t.status) || t.status == Status::draft) {
                    skip = std::string(to_string(t.status));
                    return;
                }
                if (t.status == Status::in_progress) {
                    std::string why = lease.errors.empty() ? "its previous run did not end" : lease.errors.back().error;
                    t.transition(Status::queued, now_ms());
                    t.error = "agent lost: " + why;
                    t.error_class = k_agent_lost;
                    t.attempt_errors.push_back("attempt " + std::to_string(t.attempts) + ": " + k_agent_lost + ": "
                                               + why);
                }
                t.lease_epoch = lease.epoch;
            });
        } catch (const std::exception& e) {
            log("task " + id + ": " + e.what() + ": dropped from queue " + lease.queue);
            m_queue.ack(lease);
            ++m_stats.skipped;
            return false;
        }
        if (!skip.empty()) {
            log("task " + id + " is already " + skip + ": acked, not run again");
            m_queue.ack(lease);
            ++m_stats.skipped;
            return false;
        }
        const int attempts_before = before->attempts;
        log("task " + id + " claimed from " + lease.queue + " (attempt " + std::to_string(lease.attempt) + ")");

        SubprocessOptions spawn;
        spawn.argv = {m_options.exe.string(), "task", "run", "-q", id};
        spawn.env = {{"MLRUN_HOME", m_options.home.string()}};
        if (!m_options.broker.empty()) {
            spawn.env.emplace_back("MLRUN_BROKER", m_options.broker);
        }
        spawn.die_with_parent = true; // spawned by the agent's one thread: the child dies with the agent
        std::optional<Subprocess> child;
        try {
            child.emplace(Subprocess::spawn(spawn));
        } catch (const std::exception& e) {
            requeue(lease, attempts_before, std::string("cannot start mlrun task run: ") + e.what());
            return true;
        }

        std::string tail;
        std::optional<ExitStatus> status;
        std::int64_t next_heartbeat = now_ms() + m_tick_ms;
        std::int64_t drain_deadline = 0;
        while (!status) {
            pollfd fds[2];
            nfds_t n = 0;
            if (child->output_fd() >= 0) {
                fds[n++] = {child->output_fd(), POLLIN, 0};
            }
            if (child->exit_fd() >= 0) {
                fds[n++] = {child->exit_fd(), POLLIN, 0};
            }
            int wait_ms = static_cast<int>(std::clamp<std::int64_t>(next_heartbeat - now_ms(), 0, m_tick_ms));
            if (child->exit_fd() < 0) {
                wait_ms = std::min(wait_ms, 10);
            }
            ::poll(fds, n, wait_ms);
            try {
                if (child->output_fd() >= 0) {
                    child->read_available(tail);
                }
            } catch (const std::exception&) {
                // A read error: the exit status still decides.
            }
            if (tail.size() > k_tail_bytes) {
                tail.erase(0, tail.size() - k_tail_bytes);
            }
            status = child->try_wait();
            if (status) {
                break;
            }
            std::int64_t now = now_ms();
            if (now >= next_heartbeat) {
                next_heartbeat = now + m_tick_ms;
                if (!m_queue.heartbeat(lease)) {
                    // Another agent may run it now: kill ours (SIGKILL, no last write) and leave the record.
                    log("task " + id + ": lease lost; its child is killed and the record left alone");
                    child.reset();
                    return true;
                }
                housekeeping();
            }
            if (stopping() && drain_deadline == 0) {
                drain_deadline = now + m_options.grace_ms;
                log("task " + id + " may finish within " + format_duration_ms(m_options.grace_ms));
            }
            if (drain_deadline != 0 && now >= drain_deadline) {
                child.reset(); // SIGKILL to the group: the child writes nothing more
                log("task " + id + " did not finish within the grace: requeued");
                requeue(lease, attempts_before, "the agent stopped before the task ended");
                return true;
            }
        }
        std::string rest;
        try {
            if (child->output_fd() >= 0) {
                child->read_available(rest);
            }
        } catch (const std::exception&) {
        }
        tail += rest;

        Task after = m_store.get(id);
        if (after.lease_epoch > lease.epoch) {
            log("task " + id + " belongs to a newer delivery now: nothing written");
            return true;
        }
        if (is_final(after.status)) {
            m_queue.ack(lease);
            ++m_stats.done;
            log("task " + id + " " + std::string(to_string(after.status)));
            return true;
        }
        std::string line = last_line(tail);
        requeue(lease, attempts_before,
                "mlrun task run ended with " + status->describe() + (line.empty() ? "" : ": " + line));
        return true;
    }

    // The delivery failed without the task ending: the queue requeues it (or dead-letters it
    // after max_attempts) and the record follows, unless another agent took it meanwhile.
    void requeue(const Lease& lease, int attempts_before, const std::string& why)
    {
        const std::string error = std::string(k_agent_lost) + ": " + why;
        FailOutcome outcome = m_queue.fail(lease, error);
        if (outcome == FailOutcome::lease_lost) {
            log("task " + lease.task_id + ": lease lost; the record is left alone");
            return;
        }
        ++m_stats.requeued;
        m_store.update(lease.task_id, [&](Task& t) {
            // Ours still: no newer delivery started it (fencing by epoch and attempts).
            if (t.lease_epoch > lease.epoch || t.attempts > attempts_before + 1 || is_final(t.status)) {
                return;
            }
            if (t.status == Status::queued) {
                t.transition(Status::in_progress, now_ms()); // the attempt that did not get going
            }
            t.attempt_errors.push_back("attempt " + std::to_string(t.attempts) + ": " + error);
            if (outcome == FailOutcome::dead_lettered) {
                t.transition(Status::failed, now_ms());
                t.error = why + " (dead-lettered after " + std::to_string(lease.attempt) + " attempts)";
            } else {
                t.transition(Status::queued, now_ms());
                t.error = why;
            }
            t.error_class = k_agent_lost;
        });
        log("task " + lease.task_id + ": " + why
            + (outcome == FailOutcome::dead_lettered ? " (dead-lettered)" : " (requeued)"));
    }

    Queue& m_queue;
    AgentRegistry& m_agents;
    TaskStore& m_store;
    const AgentOptions& m_options;
    AgentInfo m_info;
    AgentStats m_stats;
    std::int64_t m_tick_ms = 1000;
    std::int64_t m_next_beat_ms = 0;
    std::int64_t m_next_sweep_ms = 0;
    bool m_stop_seen = false;
    bool m_stop_requested = false;
};

} // namespace

std::string default_agent_name()
{
    return host_name() + "-" + std::to_string(::getpid());
}

AgentStats run_agent(Queue& queue, AgentRegistry& agents, TaskStore& store, const AgentOptions& options)
{
    if (options.queues.empty()) {
        throw UsageError("agent daemon needs at least one --queue");
    }
    for (const std::string& q : options.queues) {
        check_name(q, "queue name");
        if (!queue.exists(q)) {
            throw UsageError("unknown queue \"" + q + "\"; create it with `mlrun queue create " + q + "`");
        }
    }
    if (options.lease_ms < 100) {
        throw UsageError("--lease must be at least 0.1 s");
    }
    Agent agent(queue, agents, store, options);
    return agent.run();
}

} // namespace mlrun
