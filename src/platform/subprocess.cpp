#include "platform/subprocess.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

extern char** environ;

namespace mlrun {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t k_max_line = 1 << 20; // a longer line is cut into pieces of this size
constexpr size_t k_max_kept = 1 << 20; // output terminate_group keeps for read_available
constexpr int k_cancel_poll_ms = 50;
constexpr int k_exit_poll_ms = 10; // without a pidfd, how often the leader's exit is checked
constexpr int k_drain_ms = 100;    // after the group was killed, how long to wait for EOF

// What the child needs between clone and exec, all prepared by the parent, and where it
// leaves the reason when exec fails (the memory is shared: CLONE_VM).
struct ChildArgs {
    const char* program;
    char* const* argv;
    char* const* envp;
    const char* cwd; // nullptr: stay
    int dev_null;
    int out; // write end of the output pipe
    bool merge_stderr;
    bool die_with_parent;
    pid_t parent;
    int guard_in;         // kill_group_with_parent: read end of the guard's pipe; -1: no guard
    char* guard_stack;    // top of the guard's own stack (it shares our memory); nullptr: fork it
    pid_t guard_pid;      // set by the child: the guard, a child of the parent (-1: none)
    int failed_stage = 0; // 0: none, 1: exec, 2: chdir
    int error = 0;
};

constexpr size_t k_child_stack = 256 * 1024;

// The guard of kill_group_with_parent, in the child's group: blocks on the pipe whose only
// write end the spawning process holds; EOF means that process is gone: SIGKILL the group.
[[noreturn]] void guard_main(int guard_in)
{
    ::prctl(PR_SET_NAME, "mlrun-guard"); // what ps shows for it
    ::dup2(guard_in, 0);
#ifdef SYS_close_range
    if (::syscall(SYS_close_range, 1u, ~0u, 0u) != 0)
#endif
    {
        for (int fd = 1; fd < 65536; ++fd) {
            ::close(fd);
        }
    }
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
        ::sigaction(sig, &dfl, nullptr);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    char byte;
    while (::read(0, &byte, 1) < 0 && errno == EINTR) {
    }
    ::kill(0, SIGKILL); // our group: the command, its children, and this guard
    ::_exit(0);
}

constexpr size_t k_guard_stack = 64 * 1024;

// True when this kernel has close_range (5.9+): the guard that shares our memory needs it,
// as it may not write errno (the memory of the thread that spawned it).
bool have_close_range()
{
#ifdef SYS_close_range
    static const bool k_have = ::syscall(SYS_close_range, ~0u, ~0u, 0u) == 0;
    return k_have;
#else
    return false;
#endif
}

// The guard as a clone sharing our memory (no page-table copy, unlike a fork): it runs on
// its own stack and touches nothing else of ours. It inherits every signal blocked (from
// the child, which the parent started so), so none of our handlers ever runs in it; it
// dies by the group's SIGKILL. Only calls that succeed here (no errno written): dup2,
// close_range (checked by have_close_range), read of a pipe with signals blocked, kill.
int guard_shared_main(void* raw)
{
    const int guard_in = static_cast<int>(reinterpret_cast<std::intptr_t>(raw));
    ::prctl(PR_SET_NAME, "mlrun-guard");
    ::dup2(guard_in, 0);
#ifdef SYS_close_range
    ::syscall(SYS_close_range, 1u, ~0u, 0u); // also our copy of the write end: EOF comes
#endif
    char byte;
    (void)::read(0, &byte, 1);
    ::kill(0, SIGKILL); // our group: the command, its children, and this guard
    ::_exit(0);
}

// The child: runs on its own small stack in the parent's memory, while the parent is
// suspended (CLONE_VFORK) until it execs or exits. Only raw system calls here: no
// allocation, no locks, nothing that writes memory the parent uses.
int child_main(void* raw)
{
    auto* args = static_cast<ChildArgs*>(raw);
    ::setpgid(0, 0);
    if (args->guard_in >= 0) {
        // Started before exec, so no moment of the command runs unguarded. CLONE_PARENT: the
        // guard is our parent's child (reaped with us), never the command's (a shell's
        // `wait` must not wait for it); one copy of the address space.
        pid_t guard = -1;
        if (args->guard_stack) {
            guard = ::clone(guard_shared_main, args->guard_stack, CLONE_VM | CLONE_PARENT | SIGCHLD,
                            reinterpret_cast<void*>(static_cast<std::intptr_t>(args->guard_in)));
        } else {
            guard = static_cast<pid_t>(::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0));
            if (guard == 0) {
                guard_main(args->guard_in);
            }
        }
        args->guard_pid = guard; // shared memory (CLONE_VM): the parent reads it
    }
    if (args->die_with_parent) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != args->parent) {
            ::_exit(127); // the parent died before prctl took effect
        }
    }
    ::dup2(args->dev_null, 0);
    ::dup2(args->out, 1);
    if (args->merge_stderr) {
        ::dup2(1, 2);
    }
    if (args->cwd && ::chdir(args->cwd) != 0) {
        args->error = errno;
        args->failed_stage = 2;
        ::_exit(127);
    }
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
        ::sigaction(sig, &dfl, nullptr); // fails harmlessly for SIGKILL, SIGSTOP, glibc's own
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(args->program, args->argv, args->envp);
    args->error = errno;
    args->failed_stage = 1;
    ::_exit(127);
}

std::system_error errno_error(int error, const std::string& what)
{
    return std::system_error(error, std::system_category(), what);
}

void close_fd(int& fd)
{
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

int ms_until(Clock::time_point when)
{
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(when - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left + 1, 0, 1 << 30));
}

// The child's environment: the parent's, then `overrides` in order (a later one wins).
std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& overrides)
{
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        env.emplace_back(*e);
    }
    for (const auto& [key, value] : overrides) {
        std::string prefix = key + "=";
        auto it = std::find_if(env.begin(), env.end(), [&](const std::string& kv) { return kv.rfind(prefix, 0) == 0; });
        if (it != env.end()) {
            *it = prefix + value;
        } else {
            env.push_back(prefix + value);
        }
    }
    return env;
}

// execvp's search, done before the clone with the child's PATH so that "not found" is an error
// naming the program and the child needs no allocation. A name with '/' is used as is.
std::string resolve_program(const std::string& name, const std::vector<std::string>& env)
{
    if (name.find('/') != std::string::npos) {
        return name;
    }
    std::string path = "/usr/local/bin:/usr/bin:/bin";
    for (const std::string& kv : env) {
        if (kv.rfind("PATH=", 0) == 0) {
            path = kv.substr(5);
        }
    }
    int first_error = ENOENT;
    size_t begin = 0;
    while (begin <= path.size()) {
        size_t end = path.find(':', begin);
        if (end == std::string::npos) {
            end = path.size();
        }
        std::string dir = path.substr(begin, end - begin);
        std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
            if (::access(candidate.c_str(), X_OK) == 0) {
                return candidate;
            }
            first_error = EACCES;
        }
        begin = end + 1;
    }
    throw errno_error(first_error, "cannot run \"" + name + "\"");
}

// `fd` moved to a number above stdin/out/err (still close-on-exec), so that the child's
// dup2 onto 0, 1 and 2 cannot overwrite one pipe with another when the parent has some
// of those closed.
int above_stdio(int fd)
{
    if (fd < 0 || fd > 2) {
        return fd;
    }
    int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    ::close(fd);
    return moved;
}

std::string signal_name(int sig)
{
    const char* abbrev = ::sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "unknown";
}

} // namespace

std::string ExitStatus::describe() const
{
    if (timed_out) {
        return "timed out after "
               + (timeout_ms % 1000 == 0 ? std::to_string(timeout_ms / 1000) + " s"
                                         : std::to_string(timeout_ms) + " ms");
    }
    if (cancelled) {
        return "cancelled";
    }
    if (signaled) {
        return "killed by signal " + std::to_string(signal) + " (" + signal_name(signal) + ")";
    }
    return "exit code " + std::to_string(exit_code);
}

Subprocess Subprocess::spawn(const SubprocessOptions& options)
{
    if (options.argv.empty() || options.argv.front().empty()) {
        throw errno_error(EINVAL, "cannot run an empty command");
    }
    const std::string& name = options.argv.front();
    // Everything the child needs is built here: between clone and exec it may only make
    // async-signal-safe calls (another thread may hold the allocator's lock).
    std::vector<std::string> env = child_environment(options.env);
    std::string program = resolve_program(name, env);
    std::vector<std::string> argv = options.argv;
    std::vector<char*> argv_ptrs;
    for (std::string& a : argv) {
        argv_ptrs.push_back(a.data());
    }
    argv_ptrs.push_back(nullptr);
    std::vector<char*> env_ptrs;
    for (std::string& kv : env) {
        env_ptrs.push_back(kv.data());
    }
    env_ptrs.push_back(nullptr);
    std::string cwd = options.cwd.string();

    Subprocess child;
    child.m_kill_grace_ms = options.kill_grace_ms;
    child.m_linger_ms = options.linger_ms;
    int out[2] = {-1, -1};
    int dev_null = above_stdio(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    bool piped = ::pipe2(out, O_CLOEXEC) == 0;
    out[0] = above_stdio(out[0]);
    out[1] = above_stdio(out[1]);
    void* stack = ::mmap(nullptr, k_child_stack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1,
                         0);
    if (dev_null < 0 || !piped || out[0] < 0 || out[1] < 0 || stack == MAP_FAILED) {
        int error = errno;
        close_fd(dev_null);
        close_fd(out[0]);
        close_fd(out[1]);
        if (stack != MAP_FAILED) {
            ::munmap(stack, k_child_stack);
        }
        throw errno_error(error, "cannot run \"" + name + "\": pipe");
    }

    int guard[2] = {-1, -1};
    if (options.kill_group_with_parent && ::pipe2(guard, O_CLOEXEC) != 0) {
        guard[0] = guard[1] = -1; // no guard: the child runs without one
    }
    // The guard's stack, freed once it is reaped (it may outlive this call by far).
    void* guard_stack = MAP_FAILED;
    if (guard[0] >= 0 && have_close_range()) {
        guard_stack = ::mmap(nullptr, k_guard_stack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                             -1, 0);
    }
    ChildArgs args{program.c_str(),
                   argv_ptrs.data(),
                   env_ptrs.data(),
                   cwd.empty() ? nullptr : cwd.c_str(),
                   dev_null,
                   out[1],
                   options.merge_stderr,
                   options.die_with_parent,
                   ::getpid(),
                   guard[0],
                   guard_stack == MAP_FAILED ? nullptr : static_cast<char*>(guard_stack) + k_guard_stack,
                   -1};
    // Like posix_spawn: CLONE_VM | CLONE_VFORK copies no page tables (fork's write-protect of
    // the whole parent made each exec step cost about a millisecond more), and unlike it we
    // can set PDEATHSIG. Signals stay blocked across the clone so that no handler of ours
    // runs in the child; it resets them before exec.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t pid = ::clone(child_main, static_cast<char*>(stack) + k_child_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
    int clone_error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    ::munmap(stack, k_child_stack);
    ::close(dev_null);
    ::close(out[1]);
    close_fd(guard[0]);
    child.m_guard_fd = guard[1]; // closed with the child: after reap the guard died with the group
    child.m_guard_pid = args.guard_pid;
    if (guard_stack != MAP_FAILED) {
        if (args.guard_pid > 0) {
            child.m_guard_stack = guard_stack;
        } else {
            ::munmap(guard_stack, k_guard_stack);
        }
    }
    if (pid < 0) {
        ::close(out[0]);
        throw errno_error(clone_error, "cannot run \"" + name + "\": clone");
    }
    child.m_pid = pid;
    child.m_out_fd = out[0];
    // CLONE_VFORK: the child has exec'd or exited by now; args says which.
    if (args.failed_stage != 0) {
        child.reap();
        throw errno_error(args.error, args.failed_stage == 2 ? "cannot run \"" + name + "\" in \"" + cwd + "\""
                                                             : "cannot run \"" + name + "\"");
    }
    ::fcntl(child.m_out_fd, F_SETFL, ::fcntl(child.m_out_fd, F_GETFL) | O_NONBLOCK);
#ifdef SYS_pidfd_open
    child.m_exit_fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); // close-on-exec by itself
#endif
    return child;
}

Subprocess::Subprocess(Subprocess&& other) noexcept
{
    *this = std::move(other);
}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept
{
    if (this != &other) {
        release();
        m_pid = std::exchange(other.m_pid, -1);
        m_out_fd = std::exchange(other.m_out_fd, -1);
        m_exit_fd = std::exchange(other.m_exit_fd, -1);
        m_guard_fd = std::exchange(other.m_guard_fd, -1);
        m_guard_pid = std::exchange(other.m_guard_pid, -1);
        m_guard_stack = std::exchange(other.m_guard_stack, nullptr);
        m_kill_grace_ms = other.m_kill_grace_ms;
        m_linger_ms = other.m_linger_ms;
        m_exited = other.m_exited;
        m_status = std::exchange(other.m_status, std::nullopt);
        m_timed_out = other.m_timed_out;
        m_cancelled = other.m_cancelled;
        m_timeout_ms = other.m_timeout_ms;
        m_kept = std::move(other.m_kept);
    }
    return *this;
}

Subprocess::~Subprocess()
{
    release();
}

void Subprocess::release() noexcept
{
    if (m_pid > 0 && !m_status) {
        reap();
    }
    close_fds();
    m_pid = -1;
}

void Subprocess::close_fds()
{
    close_fd(m_out_fd);
    close_fd(m_exit_fd);
    close_fd(m_guard_fd); // after reap: the guard died with the group
}

int Subprocess::pid() const
{
    return m_pid;
}

int Subprocess::output_fd() const
{
    return m_out_fd;
}

int Subprocess::exit_fd() const
{
    return m_status ? -1 : m_exit_fd;
}

void Subprocess::kill_group(int sig) const
{
    // Only while the leader is not reaped: until then its pid cannot be reused, so -pid
    // is still our group.
    if (m_pid > 0 && !m_status) {
        ::kill(-m_pid, sig);
    }
}

bool Subprocess::leader_exited()
{
    if (m_exited || m_status) {
        return true;
    }
    siginfo_t info{};
    int rc;
    while ((rc = ::waitid(P_PID, static_cast<id_t>(m_pid), &info, WEXITED | WNOHANG | WNOWAIT)) < 0 && errno == EINTR) {
    }
    // ECHILD: reaped behind our back (SIGCHLD ignored); reap() reports it as lost.
    m_exited = (rc == 0 && info.si_pid == m_pid) || (rc < 0 && errno == ECHILD);
    return m_exited;
}

void Subprocess::reap()
{
    if (m_pid <= 0 || m_status) {
        return;
    }
    // Whatever is left of the group (the leader, or its background children) dies with it.
    ::kill(-m_pid, SIGKILL);
    int raw = 0;
    pid_t rc;
    while ((rc = ::waitpid(m_pid, &raw, 0)) < 0 && errno == EINTR) {
    }
    if (m_guard_pid > 0) {
        ::kill(m_guard_pid, SIGKILL); // in the group, so already killed; this covers a guard that left it
        while (::waitpid(m_guard_pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        m_guard_pid = -1;
    }
    if (m_guard_stack) {
        ::munmap(m_guard_stack, k_guard_stack); // its guard is dead and reaped
        m_guard_stack = nullptr;
    }
    ExitStatus status;
    if (rc != m_pid) {
        status.exit_code = -1; // lost: reaped elsewhere
    } else if (WIFSIGNALED(raw)) {
        status.signaled = true;
        status.signal = WTERMSIG(raw);
    } else {
        status.exit_code = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    }
    status.timed_out = m_timed_out;
    status.cancelled = m_cancelled;
    status.timeout_ms = m_timeout_ms;
    m_status = status;
    m_exited = true;
    close_fd(m_exit_fd);
}

bool Subprocess::read_available(std::string& out)
{
    out += m_kept;
    m_kept.clear();
    char buf[65536];
    while (m_out_fd >= 0) {
        ssize_t got = ::read(m_out_fd, buf, sizeof buf);
        if (got > 0) {
            out.append(buf, static_cast<size_t>(got));
            if (got < static_cast<ssize_t>(sizeof buf)) {
                return true; // the pipe is empty now; the next read would say EAGAIN
            }
        } else if (got == 0) {
            close_fd(m_out_fd);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return true;
        } else if (errno != EINTR) {
            throw errno_error(errno, "reading the output of process " + std::to_string(m_pid));
        }
    }
    return false;
}

std::optional<ExitStatus> Subprocess::try_wait()
{
    if (!m_status && m_pid > 0 && leader_exited()) {
        reap();
    }
    return m_status;
}

void Subprocess::terminate_group()
{
    if (m_pid <= 0 || m_status) {
        return;
    }
    kill_group(SIGTERM);
    Clock::time_point kill_at = Clock::now() + std::chrono::milliseconds(m_kill_grace_ms);
    // Keep reading meanwhile: a child blocked on a full pipe would never see SIGTERM through.
    while (!leader_exited() && Clock::now() < kill_at) {
        pollfd fds[2];
        nfds_t n = 0;
        if (m_out_fd >= 0) {
            fds[n++] = {m_out_fd, POLLIN, 0};
        }
        if (m_exit_fd >= 0) {
            fds[n++] = {m_exit_fd, POLLIN, 0};
        }
        int wait_ms = std::min(ms_until(kill_at), m_exit_fd >= 0 ? 1 << 30 : k_exit_poll_ms);
        ::poll(fds, n, wait_ms);
        std::string chunk;
        try {
            read_available(chunk);
        } catch (const std::system_error&) {
            close_fd(m_out_fd);
        }
        m_kept.append(chunk, 0, std::min(chunk.size(), k_max_kept - std::min(k_max_kept, m_kept.size())));
    }
    reap();
}

ExitStatus Subprocess::wait(const std::function<void(std::string_view line)>& on_line, int timeout_ms,
                            const std::atomic<bool>* cancel)
{
    if (m_status || m_pid <= 0) {
        return m_status.value_or(ExitStatus{});
    }
    std::string pending = std::move(m_kept);
    m_kept.clear();
    // Hands every complete line in `pending` to on_line; `all`: the rest too (at the end).
    auto emit_lines = [&](bool all) {
        size_t begin = 0;
        while (begin < pending.size()) {
            size_t nl = pending.find('\n', begin);
            size_t length = (nl == std::string::npos ? pending.size() : nl) - begin;
            if (length > k_max_line) {
                on_line(std::string_view(pending).substr(begin, k_max_line)); // cut: memory stays bounded
                begin += k_max_line;
            } else if (nl != std::string::npos) {
                on_line(std::string_view(pending).substr(begin, length));
                begin = nl + 1;
            } else {
                if (all) {
                    on_line(std::string_view(pending).substr(begin, length)); // the last line had no '\n'
                    begin = pending.size();
                }
                break;
            }
        }
        pending.erase(0, begin);
    };
    auto read_lines = [&] {
        read_available(pending);
        emit_lines(false);
    };

    const Clock::time_point start = Clock::now();
    const bool has_timeout = timeout_ms > 0;
    const Clock::time_point deadline = start + std::chrono::milliseconds(std::max(timeout_ms, 0));
    bool stopping = false;
    bool killed = false;
    Clock::time_point kill_at;
    Clock::time_point linger_until;
    bool exit_seen = false;
    try {
        emit_lines(false);
        while (true) {
            Clock::time_point now = Clock::now();
            if (leader_exited()) {
                if (!exit_seen) {
                    exit_seen = true;
                    linger_until = now + std::chrono::milliseconds(m_linger_ms);
                }
                // A background child may hold the pipe for ever: after the linger it dies.
                if (m_out_fd < 0 || now >= linger_until) {
                    break;
                }
            } else if (!stopping) {
                if (cancel && cancel->load(std::memory_order_relaxed)) {
                    m_cancelled = true;
                } else if (has_timeout && now >= deadline) {
                    m_timed_out = true;
                    m_timeout_ms = timeout_ms;
                }
                if (m_cancelled || m_timed_out) {
                    stopping = true;
                    kill_group(SIGTERM);
                    kill_at = now + std::chrono::milliseconds(m_kill_grace_ms);
                }
            } else if (!killed && now >= kill_at) {
                killed = true;
                kill_group(SIGKILL);
            }

            int wait_ms = -1;
            auto at_most = [&](int ms) { wait_ms = wait_ms < 0 ? ms : std::min(wait_ms, ms); };
            if (exit_seen) {
                at_most(ms_until(linger_until));
            } else {
                if (!stopping && has_timeout) {
                    at_most(ms_until(deadline));
                }
                if (!stopping && cancel) {
                    at_most(k_cancel_poll_ms);
                }
                if (stopping && !killed) {
                    at_most(ms_until(kill_at));
                }
                if (m_exit_fd < 0) {
                    at_most(k_exit_poll_ms);
                }
            }
            pollfd fds[2];
            nfds_t n = 0;
            if (m_out_fd >= 0) {
                fds[n++] = {m_out_fd, POLLIN, 0};
            }
            if (m_exit_fd >= 0 && !exit_seen) {
                fds[n++] = {m_exit_fd, POLLIN, 0};
            }
            int ready = ::poll(fds, n, wait_ms);
            if (ready < 0 && errno != EINTR) {
                throw errno_error(errno, "waiting for process " + std::to_string(m_pid));
            }
            if (ready > 0 && m_out_fd >= 0 && fds[0].revents != 0) {
                read_lines();
            }
        }
        reap(); // kills what is left of the group
        // What the group wrote before it died; a writer that left the group (setsid) may
        // keep the pipe open, so EOF is awaited only briefly.
        Clock::time_point drain_until = Clock::now() + std::chrono::milliseconds(k_drain_ms);
        while (m_out_fd >= 0) {
            read_lines();
            if (m_out_fd < 0 || Clock::now() >= drain_until) {
                break;
            }
            pollfd fd{m_out_fd, POLLIN, 0};
            ::poll(&fd, 1, ms_until(drain_until));
        }
        close_fd(m_out_fd);
        emit_lines(true);
    } catch (...) {
        reap();
        close_fd(m_out_fd);
        throw;
    }
    return *m_status;
}

} // namespace mlrun
