#pragma once
// A child process in its own process group, with its output on a pipe, that is always
// reaped and never leaves its group behind: the exec kind runs commands with it, agents
// run tasks with it. Linux only: spawned like posix_spawn (clone with CLONE_VM | CLONE_VFORK,
// so a big parent costs nothing to copy) but with PR_SET_PDEATHSIG available; exit seen
// through a pidfd. A child that leaves the group itself (setsid) is out of reach.
#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlrun {

struct SubprocessOptions {
    std::vector<std::string> argv;                        // argv[0] looked up in PATH (the child's)
    std::vector<std::pair<std::string, std::string>> env; // added to / overriding the parent's environment
    std::filesystem::path cwd;                            // empty: the parent's
    bool merge_stderr = true;                             // stderr into the stdout pipe; false: inherited
    // PR_SET_PDEATHSIG(SIGKILL) in the child. Linux sends it when the *thread* that spawned
    // exits, not only the process: spawn from a thread that lives as long as the child.
    bool die_with_parent = false;
    // The whole group (the command's own children too) is SIGKILLed when this process dies,
    // even by SIGKILL: a small guard process (cloned by the child before its exec, a child
    // of this process, in the child's group, sharing this process's memory so that no page
    // table is copied; a fork where the kernel lacks close_range) waits on a pipe only this
    // process holds and kills the group at its EOF. The normal end of the child kills and
    // reaps the guard too.
    bool kill_group_with_parent = false;
    int kill_grace_ms = 2000; // SIGTERM to the group, then SIGKILL after this
    // Once the leader exited, wait() keeps reading for this long while its background
    // children still hold the pipe, then kills them.
    int linger_ms = 300;
};

struct ExitStatus {
    int exit_code = 0; // valid when !signaled
    int signal = 0;    // the signal that ended it, when signaled
    bool signaled = false;
    bool timed_out = false; // killed by us for the timeout
    bool cancelled = false; // killed by us because cancel was set
    int timeout_ms = 0;     // the timeout that fired, when timed_out
    // "exit code 3", "killed by signal 9 (SIGKILL)", "timed out after 5 s", "cancelled".
    std::string describe() const;
    // The shell's convention: the exit code, or 128 + signal.
    int shell_code() const { return signaled ? 128 + signal : exit_code; }
};

class Subprocess {
public:
    // Starts the child in its own process group, stdin from /dev/null. Throws
    // std::system_error when it cannot, naming the program (not found, not executable,
    // bad cwd: the child's exec error is reported here, not as an exit code).
    static Subprocess spawn(const SubprocessOptions& options);

    Subprocess(Subprocess&& other) noexcept;
    Subprocess& operator=(Subprocess&& other) noexcept; // an owned running child is killed and reaped first
    Subprocess(const Subprocess&) = delete;
    Subprocess& operator=(const Subprocess&) = delete;
    // Kills the whole group (SIGKILL) if still running and always reaps it.
    ~Subprocess();

    int pid() const;
    // Non-blocking read end of the output pipe, for a poll loop over many children; -1 once closed.
    int output_fd() const;
    // A pidfd that becomes readable when the leader exits (poll it beside output_fd), or -1
    // where the kernel has none: then poll try_wait() on a short interval.
    int exit_fd() const;

    // Appends what is available now to `out` (for poll loops): false at EOF (the pipe is
    // then closed). Throws std::system_error on a read error.
    bool read_available(std::string& out);
    // Non-blocking: the exit status once the leader exited and was reaped; what is left
    // of its group is killed (SIGKILL) at that moment. The same status on later calls.
    std::optional<ExitStatus> try_wait();
    // Runs until the child exits: each output line (without '\n'; a line over 1 MiB is cut
    // into pieces) goes to on_line. A throw from on_line kills and reaps the group, then
    // rethrows. timeout_ms <= 0: none. When `cancel` becomes true (checked every 50 ms) the
    // group is terminated (SIGTERM, then SIGKILL after kill_grace_ms). Returns at once with
    // the same status when already reaped.
    ExitStatus wait(const std::function<void(std::string_view line)>& on_line, int timeout_ms = 0,
                    const std::atomic<bool>* cancel = nullptr);
    // SIGTERM to the group, SIGKILL after the grace, then reaped (blocks at most about the
    // grace). Output read meanwhile is kept for read_available (up to 1 MiB).
    void terminate_group();

private:
    Subprocess() = default;
    void close_fds();
    void kill_group(int sig) const;
    // Non-blocking check that the leader exited, without reaping it (the pid, and so the
    // group id, stays reserved until reap()).
    bool leader_exited();
    // Kills what is left of the group and reaps the leader (blocking).
    void reap();
    void release() noexcept;

    int m_pid = -1;
    int m_out_fd = -1;
    int m_exit_fd = -1;
    int m_guard_fd = -1;           // write end of the guard's pipe (kill_group_with_parent), -1: none
    int m_guard_pid = -1;          // the guard (our child, in the group), reaped with the leader
    void* m_guard_stack = nullptr; // the guard's stack when it shares our memory; freed once reaped
    int m_kill_grace_ms = 2000;
    int m_linger_ms = 300;
    bool m_exited = false;              // the leader exited (zombie, not reaped yet)
    std::optional<ExitStatus> m_status; // set once reaped
    bool m_timed_out = false;
    bool m_cancelled = false;
    int m_timeout_ms = 0;
    std::string m_kept; // output read by terminate_group, not yet handed out
};

} // namespace mlrun
