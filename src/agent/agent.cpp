#include "agent/agent.hpp"

#include "core/error.hpp"
#include "core/task.hpp"
#include "core/util.hpp"
#include "platform/subprocess.hpp"
#include "ports/agent_registry.hpp"
#include "ports/queue.hpp"
#include "ports/task_store.hpp"

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <vector>

namespace mlrun {

namespace {

namespace fs = std::filesystem;

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

std::string join(const std::vector<std::string>& items, const char* sep = ", ")
{
    std::string out;
    for (const std::string& s : items) {
        out += (out.empty() ? "" : sep) + s;
    }
    return out;
}

// While children run and a worker is free, a claim blocks this long at most, so their
// output and exits are seen in time.
constexpr int k_busy_claim_ms = 20;

// One worker: at most one delivery and its child at a time.
struct Slot {
    int index = 0;
    std::string gpus; // CUDA_VISIBLE_DEVICES of its children; "" = inherited
    std::optional<Lease> lease;
    std::optional<Subprocess> child;
    std::string tail;                // the child's last output (for a crash's error)
    int attempts = 0;                // the record's attempts once this delivery started it
    std::int64_t next_heartbeat = 0; // of the lease
    std::int64_t drain_deadline = 0; // 0: no stop yet
    // A warm child: `mlrun task run --from-fifo` already loaded and blocked on the FIFO, so
    // a claim starts the task body without the program's start-up (dynamic loading).
    std::optional<Subprocess> spare;
    std::filesystem::path fifo; // "" : no warm children for this worker

    bool busy() const { return lease.has_value(); }
};

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
        m_slots.resize(static_cast<std::size_t>(std::max(1, options.workers)));
        for (std::size_t i = 0; i < m_slots.size(); ++i) {
            m_slots[i].index = static_cast<int>(i);
            if (i < options.worker_gpus.size()) {
                m_slots[i].gpus = options.worker_gpus[i];
            }
            if (options.warm_children) {
                std::error_code ec;
                fs::path fifo = fs::temp_directory_path(ec)
                                / ("mlrun-agent-" + std::to_string(::getpid()) + "-" + std::to_string(i) + ".fifo");
                ::unlink(fifo.c_str());
                if (!ec && ::mkfifo(fifo.c_str(), 0600) == 0) {
                    m_slots[i].fifo = fifo;
                }
            }
        }
    }

    ~Agent()
    {
        for (Slot& slot : m_slots) {
            slot.spare.reset(); // SIGKILL: it never got a task
            if (!slot.fifo.empty()) {
                ::unlink(slot.fifo.c_str());
            }
        }
    }
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    AgentStats run()
    {
        for (Slot& slot : m_slots) {
            prepare_spare(slot);
        }
        beat();
        log("agent " + m_info.name + " serving " + join(m_options.queues)
            + (m_slots.size() > 1 ? " with " + std::to_string(m_slots.size()) + " workers" : ""));
        std::int64_t idle_since = now_ms();
        try {
            for (;;) {
                housekeeping();
                const bool stop = stopping();
                const int running = busy_count();
                if (running == 0) {
                    if (stop || (m_options.once && m_started_one)) {
                        break;
                    }
                    if (m_options.max_idle_ms > 0 && now_ms() - idle_since >= m_options.max_idle_ms) {
                        log("idle for " + format_duration_ms(now_ms() - idle_since) + ": exiting");
                        break;
                    }
                }
                Slot* free = (stop || (m_options.once && m_started_one)) ? nullptr : free_slot();
                if (free) {
                    // Blocks in the queue (Redis: on the server): a tick when idle, so beats go on.
                    int block = running == 0 ? static_cast<int>(m_tick_ms) : k_busy_claim_ms;
                    std::optional<Lease> lease = m_queue.claim(m_options.queues, block);
                    if (lease) {
                        start(*free, std::move(*lease));
                        idle_since = now_ms();
                    }
                    if (busy_count() > 0) {
                        poll_children(0);
                    }
                } else if (running > 0) {
                    poll_children(static_cast<int>(m_tick_ms));
                }
                if (running > 0 || busy_count() > 0) {
                    idle_since = now_ms();
                }
            }
        } catch (...) {
            for (Slot& slot : m_slots) {
                slot.child.reset(); // SIGKILL to each group before the error leaves
            }
            m_agents.remove(m_info.name);
            throw;
        }
        m_agents.remove(m_info.name);
        log("agent " + m_info.name + " stopped (" + std::to_string(m_stats.done) + " tasks done)");
        return m_stats;
    }

private:
    void log(const std::string& line) const
    {
        if (m_options.on_log) {
            m_options.on_log(line);
        }
    }

    int busy_count() const
    {
        return static_cast<int>(std::count_if(m_slots.begin(), m_slots.end(), [](const Slot& s) { return s.busy(); }));
    }

    Slot* free_slot()
    {
        for (Slot& slot : m_slots) {
            if (!slot.busy()) {
                return &slot;
            }
        }
        return nullptr;
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
        publish();
        if (!m_stop_requested) {
            for (const AgentInfo& a : m_agents.live()) {
                if (a.name == m_info.name && a.stopping) {
                    m_stop_requested = true;
                    log("stop requested (mlrun agent stop): no more claims");
                }
            }
        }
    }

    // The registry entry renewed with the tasks running now (on each start and end too).
    void publish()
    {
        std::vector<std::string> current;
        for (const Slot& slot : m_slots) {
            if (slot.busy()) {
                current.push_back(slot.lease->task_id);
            }
        }
        m_info.current_task = join(current, ",");
        m_info.tasks_done = m_stats.done;
        m_agents.beat(m_info);
        m_next_beat_ms = now_ms() + m_tick_ms;
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

    // Takes the record over for this delivery (under the task's lock: queued -> in_progress
    // with our epoch, so a second delivery of the same task sees it taken) and starts the
    // child. A task already ended, back to draft, or running under another delivery (a
    // duplicate message: this one is its first delivery) is acked and not run; one left
    // in_progress by an earlier delivery of this message lost its agent.
    void start(Slot& slot, Lease lease)
    {
        const std::string id = lease.task_id;
        std::string skip;
        Task taken;
        try {
            taken = m_store.update(id, [&](Task& t) {
                skip.clear();
                if (is_final(t.status) || t.status == Status::draft) {
                    skip = "already " + std::string(to_string(t.status));
                    return;
                }
                if (t.status == Status::in_progress) {
                    if (lease.attempt <= 1 || t.lease_epoch == 0) {
                        skip = "already running under another delivery (epoch " + std::to_string(t.lease_epoch) + ")";
                        return;
                    }
                    std::string why = lease.errors.empty() ? "its previous run did not end" : lease.errors.back().error;
                    t.transition(Status::queued, now_ms());
                    t.attempt_errors.push_back("attempt " + std::to_string(t.attempts) + ": " + k_agent_lost + ": "
                                               + why);
                }
                t.transition(Status::in_progress, now_ms());
                t.lease_epoch = lease.epoch;
            });
        } catch (const std::exception& e) {
            log("task " + id + ": " + e.what() + ": dropped from queue " + lease.queue);
            m_queue.ack(lease);
            ++m_stats.skipped;
            return;
        }
        if (!skip.empty()) {
            log("task " + id + " is " + skip + ": acked, not run again");
            m_queue.ack(lease);
            ++m_stats.skipped;
            return;
        }
        m_started_one = true;
        slot.attempts = taken.attempts;
        slot.tail.clear();
        slot.drain_deadline = 0;
        slot.next_heartbeat = now_ms() + m_tick_ms;
        log("task " + id + " claimed from " + lease.queue + " (attempt " + std::to_string(lease.attempt) + ")"
            + (m_slots.size() > 1 ? " by worker " + std::to_string(slot.index) : "")
            + (slot.gpus.empty() ? "" : " on GPU " + slot.gpus));

        const std::string epoch = std::to_string(lease.epoch);
        slot.lease = std::move(lease);
        if (hand_to_spare(slot, id + " " + epoch + "\n")) {
            // The next one loads now, beside this task (on another core), so that a backlog
            // of short tasks finds it ready instead of paying a start-up each.
            prepare_spare(slot);
            publish();
            return;
        }
        try {
            slot.child.emplace(Subprocess::spawn(child_options(slot, {"-q", id, "--lease-epoch", epoch})));
        } catch (const std::exception& e) {
            requeue(slot, std::string("cannot start mlrun task run: ") + e.what());
            release(slot);
            return;
        }
        publish();
    }

    // `mlrun task run ARGS...` for a worker's children.
    SubprocessOptions child_options(const Slot& slot, const std::vector<std::string>& args) const
    {
        SubprocessOptions spawn;
        spawn.argv = {m_options.exe.string(), "task", "run"};
        spawn.argv.insert(spawn.argv.end(), args.begin(), args.end());
        spawn.env = {{"MLRUN_HOME", m_options.home.string()}};
        if (!m_options.broker.empty()) {
            spawn.env.emplace_back("MLRUN_BROKER", m_options.broker);
        }
        if (!slot.gpus.empty()) {
            spawn.env.emplace_back("CUDA_VISIBLE_DEVICES", slot.gpus);
        }
        spawn.die_with_parent = true; // spawned by the agent's one thread: the child dies with the agent
        return spawn;
    }

    // Starts the worker's warm child when it has none (or it died). Without a FIFO, or when
    // it cannot start, tasks start cold.
    void prepare_spare(Slot& slot)
    {
        if (slot.fifo.empty() || stopping() || (m_options.once && m_started_one)) {
            return;
        }
        if (slot.spare && slot.spare->try_wait()) {
            slot.spare.reset();
        }
        if (!slot.spare) {
            try {
                slot.spare.emplace(
                    Subprocess::spawn(child_options(slot, {"-q", "-", "--from-fifo", slot.fifo.string()})));
            } catch (const std::exception& e) {
                log(std::string("no warm child: ") + e.what());
                slot.fifo.clear();
            }
        }
    }

    // Gives `line` (id and epoch) to the warm child, which becomes the slot's child. A child
    // still starting (not on the FIFO yet) is waited for, a tick at most: it started before
    // this claim, so it is ahead of a cold one. False when there is none, it died, or it
    // is not ready in time: start one cold.
    bool hand_to_spare(Slot& slot, const std::string& line)
    {
        if (!slot.spare || slot.spare->try_wait()) {
            slot.spare.reset();
            return false;
        }
        const std::int64_t give_up = now_ms() + std::min<std::int64_t>(m_tick_ms, 500);
        int fd = -1;
        for (;;) {
            fd = ::open(slot.fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC); // ENXIO: no reader yet
            if (fd >= 0 || errno != ENXIO || now_ms() >= give_up || slot.spare->try_wait()) {
                break;
            }
            ::usleep(200);
        }
        if (fd < 0) {
            return false;
        }
        bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
        ::close(fd);
        if (!written) {
            slot.spare.reset(); // it may have read part of it: never reuse it
            return false;
        }
        slot.child = std::move(slot.spare);
        slot.spare.reset();
        return true;
    }

    // The worker is free again; its next warm child starts now unless it already did.
    void release(Slot& slot)
    {
        slot.child.reset();
        slot.lease.reset();
        prepare_spare(slot);
        publish();
    }

    // Waits up to wait_ms (less when a heartbeat is due) for output or an exit of any child,
    // then handles what happened to each: output kept, exits ended, leases renewed, drains.
    void poll_children(int wait_ms)
    {
        std::vector<pollfd> fds;
        bool need_short = false;
        std::int64_t now = now_ms();
        for (Slot& slot : m_slots) {
            if (!slot.child) {
                continue;
            }
            if (slot.child->output_fd() >= 0) {
                fds.push_back({slot.child->output_fd(), POLLIN, 0});
            }
            if (slot.child->exit_fd() >= 0) {
                fds.push_back({slot.child->exit_fd(), POLLIN, 0});
            } else {
                need_short = true;
            }
            wait_ms = static_cast<int>(
                std::min<std::int64_t>(wait_ms, std::max<std::int64_t>(0, slot.next_heartbeat - now)));
        }
        if (need_short) {
            wait_ms = std::min(wait_ms, 10);
        }
        if (wait_ms > 0 || !fds.empty()) {
            ::poll(fds.data(), fds.size(), wait_ms);
        }
        for (Slot& slot : m_slots) {
            if (slot.child) {
                service(slot);
            }
        }
    }

    // One look at a running worker.
    void service(Slot& slot)
    {
        const std::string& id = slot.lease->task_id;
        try {
            if (slot.child->output_fd() >= 0) {
                slot.child->read_available(slot.tail);
            }
        } catch (const std::exception&) {
            // A read error: the exit status still decides.
        }
        if (slot.tail.size() > k_tail_bytes) {
            slot.tail.erase(0, slot.tail.size() - k_tail_bytes);
        }
        if (std::optional<ExitStatus> status = slot.child->try_wait()) {
            finish(slot, *status);
            release(slot);
            return;
        }
        std::int64_t now = now_ms();
        if (now >= slot.next_heartbeat) {
            slot.next_heartbeat = now + m_tick_ms;
            if (!m_queue.heartbeat(*slot.lease)) {
                // Another agent may run it now: kill ours (SIGKILL, no last write) and leave the record.
                log("task " + id + ": lease lost; its child is killed and the record left alone");
                release(slot);
                return;
            }
        }
        if (stopping() && slot.drain_deadline == 0) {
            slot.drain_deadline = now + m_options.grace_ms;
            log("task " + id + " may finish within " + format_duration_ms(m_options.grace_ms));
        }
        if (slot.drain_deadline != 0 && now >= slot.drain_deadline) {
            slot.child.reset(); // SIGKILL to the group: the child writes nothing more
            log("task " + id + " did not finish within the grace: requeued");
            requeue(slot, "the agent stopped before the task ended");
            release(slot);
        }
    }

    // The child exited: ack when it ended its record, else the delivery failed.
    void finish(Slot& slot, const ExitStatus& status)
    {
        const std::string& id = slot.lease->task_id;
        try {
            if (slot.child->output_fd() >= 0) {
                slot.child->read_available(slot.tail);
            }
        } catch (const std::exception&) {
        }
        Task after = m_store.get(id);
        if (after.lease_epoch != slot.lease->epoch) {
            log("task " + id + " belongs to another delivery now: nothing written");
            return;
        }
        if (is_final(after.status)) {
            m_queue.ack(*slot.lease);
            ++m_stats.done;
            log("task " + id + " " + std::string(to_string(after.status)));
            return;
        }
        std::string line = last_line(slot.tail);
        requeue(slot, "mlrun task run ended with " + status.describe() + (line.empty() ? "" : ": " + line));
    }

    // The delivery failed without the task ending: the queue requeues it (or dead-letters it
    // after max_attempts) and the record follows, unless another delivery took it meanwhile.
    void requeue(Slot& slot, const std::string& why)
    {
        const Lease& lease = *slot.lease;
        const std::string error = std::string(k_agent_lost) + ": " + why;
        FailOutcome outcome = m_queue.fail(lease, error);
        if (outcome == FailOutcome::lease_lost) {
            log("task " + lease.task_id + ": lease lost; the record is left alone");
            return;
        }
        ++m_stats.requeued;
        m_store.update(lease.task_id, [&](Task& t) {
            // Ours still: no newer delivery started it (fencing by epoch and attempts).
            if (t.lease_epoch != lease.epoch || t.attempts > slot.attempts || is_final(t.status)) {
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
    std::vector<Slot> m_slots;
    std::int64_t m_tick_ms = 1000;
    std::int64_t m_next_beat_ms = 0;
    std::int64_t m_next_sweep_ms = 0;
    bool m_started_one = false;
    bool m_stop_seen = false;
    bool m_stop_requested = false;
};

} // namespace

std::vector<std::string> assign_gpus(const std::string& list, int workers)
{
    if (workers < 1) {
        throw UsageError("--workers must be at least 1");
    }
    if (list.empty()) {
        return {};
    }
    std::vector<std::string> devices;
    std::size_t pos = 0;
    for (;;) {
        std::size_t comma = list.find(',', pos);
        std::string item = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        bool digits = !item.empty() && item.size() <= 6
                      && std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!digits) {
            throw UsageError("--gpus \"" + list + "\": expected device numbers separated by commas (e.g. 0,1), found \""
                             + item + "\"");
        }
        item = std::to_string(std::stoi(item)); // "01" is device 1
        if (std::find(devices.begin(), devices.end(), item) != devices.end()) {
            throw UsageError("--gpus \"" + list + "\": device " + item + " is listed twice");
        }
        devices.push_back(item);
        if (comma == std::string::npos) {
            break;
        }
        pos = comma + 1;
    }
    const std::size_t g = devices.size();
    const std::size_t n = static_cast<std::size_t>(workers);
    std::vector<std::string> out(n);
    if (g < n) {
        for (std::size_t i = 0; i < n; ++i) {
            out[i] = devices[i % g];
        }
        return out;
    }
    std::size_t next = 0;
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t take = g / n + (i < g % n ? 1 : 0);
        std::vector<std::string> mine(devices.begin() + static_cast<std::ptrdiff_t>(next),
                                      devices.begin() + static_cast<std::ptrdiff_t>(next + take));
        out[i] = join(mine, ",");
        next += take;
    }
    return out;
}

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
    if (options.workers < 1) {
        throw UsageError("--workers must be at least 1");
    }
    if (options.lease_ms < 100) {
        throw UsageError("--lease must be at least 0.1 s");
    }
    Agent agent(queue, agents, store, options);
    return agent.run();
}

} // namespace mlrun
