#pragma once
// Queue use cases behind `mlrun queue show|purge` and the agents column of `queue list`:
// the queue port's counts joined with the task records (which tasks wait, which run) and
// the agent registry (who serves it).
#include "ports/queue.hpp"

#include <string>
#include <vector>

namespace mlrun {

struct Backends;

// One queue as `queue show` prints it.
struct QueueView {
    QueueInfo counts;                 // pending, claimed, dead (the queue's own numbers)
    std::vector<std::string> pending; // task ids waiting on it (records queued on this queue), oldest first
    std::vector<std::string> running; // task ids in progress that were queued on it
    std::vector<DeadLetter> dead;     // its dead letters
    std::vector<std::string> agents;  // live agents serving it (not stopping)
};

// UsageError for an unknown queue (with a suggestion).
QueueView show_queue(Backends& b, const std::string& queue);

// Live agents (not stopping) serving `queue`, by name.
std::vector<std::string> agents_serving(Backends& b, const std::string& queue);

// Takes every pending task off `queue` and back to draft; tasks already claimed by an agent
// are left running. Returns the ids purged. UsageError for an unknown queue.
std::vector<std::string> purge_queue(Backends& b, const std::string& queue);

} // namespace mlrun
