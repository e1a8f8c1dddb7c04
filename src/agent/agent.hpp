#pragma once
// The agent daemon (DESIGN §6): registers in the AgentRegistry and beats, blocks on
// Queue::claim, runs each claimed task as a child process (`mlrun task run -q ID
// --lease-epoch E`), keeps its lease alive while it runs and acks or fails the delivery
// when it ends; up to `workers` tasks at once, each with its own child and lease. One
// thread does all of it (ninja's SubprocessSet shape): it spawns the children, so their
// PR_SET_PDEATHSIG ties them to the agent's whole life, and it polls every child's pipe
// and exit between beats. While some children run and a worker is free, the claim blocks
// for at most 20 ms at a time, so a child's end is seen within that.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace mlrun {

class AgentRegistry;
class Queue;
class TaskStore;

struct AgentOptions {
    std::string name;                     // registry name; "" = <host>-<pid>
    std::vector<std::string> queues;      // claimed in this order (the first is the highest priority)
    bool once = false;                    // exit after one task
    int workers = 1;                      // tasks at once, each its own child and lease
    std::vector<std::string> worker_gpus; // per worker: CUDA_VISIBLE_DEVICES ("" or none: inherited)
    // Keep one `mlrun task run` per worker started ahead, blocked on a FIFO, so that a claim
    // starts the body without the program's start-up (still a fresh process per task).
    bool warm_children = true;
    std::int64_t max_idle_ms = 0;                   // exit after this long without a task (0: never)
    std::int64_t lease_ms = 60'000;                 // the queue's lease; heartbeats every lease/4
    std::int64_t grace_ms = 30'000;                 // on stop: how long the running task may still take
    std::filesystem::path exe;                      // the mlrun binary the children run
    std::filesystem::path home;                     // the store root, passed as MLRUN_HOME
    std::string broker;                             // passed as MLRUN_BROKER ("" = the local queue)
    const std::atomic<bool>* stop = nullptr;        // SIGTERM/SIGINT: stop claiming, drain
    std::function<void(const std::string&)> on_log; // one line per event (claims, ends)
};

struct AgentStats {
    int done = 0;     // tasks that ended (completed, failed or aborted) under this agent
    int requeued = 0; // deliveries handed back (child crashed, drain timed out)
    int skipped = 0;  // deliveries of tasks already ended or no longer queued (acked)
};

// Runs until a stop (options.stop, `mlrun agent stop`), --once or --max-idle, then
// deregisters. A task that was already completed (a repeated delivery) is acked, never run
// again. A child that ends without ending its record (crash) fails the delivery with error
// class agent_lost: the task goes back to queued, attempts kept. A lost lease kills the
// child's process group and writes nothing. On stop, the running task gets grace_ms to
// finish; after that its group is killed and the task requeued (never marked completed).
// Throws UsageError for no queue or an unknown queue; queue errors propagate.
AgentStats run_agent(Queue& queue, AgentRegistry& agents, TaskStore& store, const AgentOptions& options);

// `--gpus LIST` ("0,1,3": device numbers, no repeats) spread over `workers`: with at least
// as many devices as workers, each worker gets a contiguous block (the first ones one
// more when they do not divide evenly: 3 devices, 2 workers -> "0,1" and "3"); with fewer,
// worker i shares device i mod G. "" -> no assignment (empty result). UsageError for a
// malformed list or workers < 1.
std::vector<std::string> assign_gpus(const std::string& list, int workers);

// "<host>-<pid>": the default agent name.
std::string default_agent_name();

} // namespace mlrun
