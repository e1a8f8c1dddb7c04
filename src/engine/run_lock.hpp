#pragma once
// One process drives a run at a time: a resume of a run that is still going would take its
// running steps for abandoned ones. The lock is an flock on records/runs/.<run id>.lock of
// the local store, released when the RunLock goes (or the process dies).
#include <string>

namespace mlrun {

class LocalStore;

class RunLock {
public:
    // Creates the store when missing; throws UsageError when another process holds the run.
    RunLock(LocalStore& local, const std::string& run_id);
    ~RunLock();
    RunLock(const RunLock&) = delete;
    RunLock& operator=(const RunLock&) = delete;

private:
    int m_fd = -1;
};

} // namespace mlrun
