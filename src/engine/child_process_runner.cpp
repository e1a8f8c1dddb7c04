#include "engine/child_process_runner.hpp"

#include "core/util.hpp"
#include "store/task_store.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace mlrun {

namespace {

constexpr int k_kill_grace_ms = 2000;
constexpr size_t k_tail_bytes = 4096;

// A child in its own process group with stdout+stderr on a non-blocking pipe. A minimal
// private stand-in for platform/subprocess.hpp (same calls), to be replaced by it.
class Child {
public:
    // Throws std::runtime_error naming the program when it cannot start.
    static std::unique_ptr<Child> spawn(const std::vector<std::string>& argv,
                                        const std::vector<std::pair<std::string, std::string>>& env)
    {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
        }
        std::vector<std::string> env_strings;
        for (char** e = environ; *e; ++e) {
            std::string entry = *e;
            bool replaced = false;
            for (const auto& [k, v] : env) {
                replaced = replaced || entry.rfind(k + "=", 0) == 0;
            }
            if (!replaced) {
                env_strings.push_back(entry);
            }
        }
        for (const auto& [k, v] : env) {
            env_strings.push_back(k + "=" + v);
        }
        std::vector<char*> envp;
        for (std::string& s : env_strings) {
            envp.push_back(s.data());
        }
        envp.push_back(nullptr);
        std::vector<std::string> args = argv;
        std::vector<char*> argp;
        for (std::string& a : args) {
            argp.push_back(a.data());
        }
        argp.push_back(nullptr);

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t none;
        sigset_t defaults;
        sigemptyset(&none);
        sigemptyset(&defaults);
        for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD}) {
            sigaddset(&defaults, sig);
        }
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &defaults);
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        pid_t pid = -1;
        int rc = ::posix_spawn(&pid, argp[0], &actions, &attr, argp.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        ::close(fds[1]);
        if (rc != 0) {
            ::close(fds[0]);
            throw std::runtime_error("cannot start " + argv.front() + ": " + std::strerror(rc));
        }
        ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
        auto child = std::unique_ptr<Child>(new Child());
        child->m_pid = pid;
        child->m_fd = fds[0];
        return child;
    }

    // Kills the group (SIGKILL) if still running and reaps it.
    ~Child()
    {
        if (!m_status) {
            ::kill(-m_pid, SIGKILL);
            int status = 0;
            while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
        if (m_fd >= 0) {
            ::close(m_fd);
        }
    }

    int output_fd() const { return m_fd; }

    // Appends what can be read now; false at EOF (the pipe is then closed).
    bool read_available(std::string& out)
    {
        char buf[4096];
        while (m_fd >= 0) {
            ssize_t n = ::read(m_fd, buf, sizeof buf);
            if (n > 0) {
                out.append(buf, static_cast<size_t>(n));
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                ::close(m_fd);
                m_fd = -1;
            } else if (errno == EAGAIN) {
                return true;
            }
        }
        return false;
    }

    // The wait status once the leader exited (what is left of its group is killed then).
    std::optional<int> try_wait()
    {
        if (!m_status) {
            int status = 0;
            if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
                m_status = status;
                ::kill(-m_pid, SIGKILL);
            }
        }
        return m_status;
    }

    void signal_group(int sig) const
    {
        if (!m_status) {
            ::kill(-m_pid, sig);
        }
    }

private:
    Child() = default;
    pid_t m_pid = -1;
    int m_fd = -1;
    std::optional<int> m_status;
};

std::string describe(int status)
{
    if (WIFEXITED(status)) {
        return "exit code " + std::to_string(WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        return "signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
    }
    return "status " + std::to_string(status);
}

std::string last_line(const std::string& text)
{
    std::string t = text;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) {
        t.pop_back();
    }
    size_t nl = t.rfind('\n');
    return nl == std::string::npos ? t : t.substr(nl + 1);
}

struct Step {
    StepRequest request;
    StepCallbacks callbacks;
};

struct Running {
    Step step;
    std::unique_ptr<Child> child;
    std::string tail;  // the last k_tail_bytes of its output
};

} // namespace

struct ChildProcessStepRunner::Impl {
    TaskStore& store;
    std::filesystem::path exe;
    std::filesystem::path home;
    int max_children = 0;
    std::mutex mutex;
    std::deque<Step> queued;
    bool stop = false;
    std::atomic<int> active{0};
    std::atomic<bool> abort{false};
    int wake[2] = {-1, -1};
    std::thread waiter; // last: started once the members above exist

    Impl(TaskStore& s, std::filesystem::path e, std::filesystem::path h, int max)
        : store(s), exe(std::move(e)), home(std::move(h)), max_children(max)
    {
        if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
            throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
        }
        waiter = std::thread([this] { loop(); });
    }
    ~Impl()
    {
        {
            std::lock_guard<std::mutex> lock(mutex);
            stop = true;
        }
        poke();
        waiter.join();
        ::close(wake[0]);
        ::close(wake[1]);
    }

    void poke() const
    {
        char c = 1;
        [[maybe_unused]] ssize_t n = ::write(wake[1], &c, 1);
    }

    // Reports the end: the record as the child left it, or failed/aborted when it did not end it.
    void end(Step& step, const std::string& what, Status fallback)
    {
        Task ended = step.request.task;
        try {
            ended = store.update(step.request.task.id, [&](Task& t) {
                if (is_final(t.status)) {
                    return;
                }
                if (t.status == Status::queued && fallback == Status::failed) {
                    t.transition(Status::in_progress, now_ms()); // the attempt that did not get going
                }
                t.transition(fallback, now_ms());
                t.error = what;
                t.error_class = fallback == Status::aborted ? "Aborted" : "child process";
            });
        } catch (const std::exception& e) {
            // The store could not take the end: report it anyway, as failed.
            if (can_transition(ended.status, Status::failed)) {
                ended.transition(Status::failed, now_ms());
            }
            ended.error = e.what();
        }
        --active;
        step.callbacks.on_end(std::move(ended));
    }

    void loop()
    {
        std::vector<Running> running;
        bool terminated = false;
        auto kill_at = std::chrono::steady_clock::time_point::max();
        for (;;) {
            std::deque<Step> fresh;
            {
                std::lock_guard<std::mutex> lock(mutex);
                if (stop) {
                    return; // the Children's destructors kill and reap what is left
                }
                fresh.swap(queued);
            }
            for (Step& s : fresh) {
                if (abort) {
                    end(s, "aborted by the user", Status::aborted);
                    continue;
                }
                try {
                    // Spawned here, by the thread that lives as long as the children.
                    auto child = Child::spawn({exe.string(), "task", "run", "-q", "--threads",
                                               std::to_string(std::max(1, s.request.threads)), s.request.task.id},
                                              {{"MLRUN_HOME", home.string()}});
                    running.push_back(Running{std::move(s), std::move(child), ""});
                } catch (const std::exception& e) {
                    end(s, e.what(), Status::failed);
                }
            }
            if (abort && !terminated) {
                terminated = true;
                kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(k_kill_grace_ms);
                for (Running& r : running) {
                    r.child->signal_group(SIGTERM);
                }
            }
            if (std::chrono::steady_clock::now() >= kill_at) {
                for (Running& r : running) {
                    r.child->signal_group(SIGKILL);
                }
            }

            std::vector<pollfd> fds{{wake[0], POLLIN, 0}};
            bool unreaped_eof = false;
            for (Running& r : running) {
                if (r.child->output_fd() >= 0) {
                    fds.push_back({r.child->output_fd(), POLLIN, 0});
                } else {
                    unreaped_eof = true;
                }
            }
            // A closed pipe means the child is exiting: look again soon rather than in 50 ms.
            ::poll(fds.data(), fds.size(), unreaped_eof ? 1 : 50);
            char drain[64];
            while (::read(wake[0], drain, sizeof drain) > 0) {
            }
            for (size_t i = 0; i < running.size();) {
                Running& r = running[i];
                r.child->read_available(r.tail);
                if (r.tail.size() > k_tail_bytes) {
                    r.tail.erase(0, r.tail.size() - k_tail_bytes);
                }
                std::optional<int> status = r.child->try_wait();
                if (!status) {
                    ++i;
                    continue;
                }
                r.child->read_available(r.tail);
                std::string line = last_line(r.tail);
                Status fallback = abort ? Status::aborted : Status::failed;
                end(r.step, "mlrun task run ended with " + describe(*status) + (line.empty() ? "" : ": " + line),
                    fallback);
                running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
            }
        }
    }
};

ChildProcessStepRunner::ChildProcessStepRunner(TaskStore& store, std::filesystem::path exe, std::filesystem::path home,
                                               int max_children)
    : m_impl(std::make_unique<Impl>(store, std::move(exe), std::move(home), max_children))
{
}

ChildProcessStepRunner::~ChildProcessStepRunner() = default;

void ChildProcessStepRunner::start(StepRequest request, StepCallbacks callbacks)
{
    ++m_impl->active;
    Step step{std::move(request), std::move(callbacks)};
    try {
        // The child's `task run` starts the record (queued -> in_progress) and counts the
        // attempt; the one counted when the loop created it is handed back with it.
        step.request.task = m_impl->store.update(step.request.task.id, [](Task& t) {
            t.transition(Status::queued, now_ms());
            t.attempts = std::max(0, t.attempts - 1);
        });
    } catch (const std::exception& e) {
        m_impl->end(step, e.what(), Status::failed);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(m_impl->mutex);
        m_impl->queued.push_back(std::move(step));
    }
    m_impl->poke();
}

bool ChildProcessStepRunner::can_run_more() const
{
    return m_impl->max_children <= 0 || m_impl->active.load() < m_impl->max_children;
}

void ChildProcessStepRunner::abort_all()
{
    m_impl->abort = true;
    m_impl->poke();
}

} // namespace mlrun
