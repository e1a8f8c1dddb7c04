#include "engine/child_process_runner.hpp"

#include "core/crash.hpp"
#include "core/util.hpp"
#include "platform/subprocess.hpp"
#include "ports/task_store.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace mlrun {

namespace {

constexpr int k_kill_grace_ms = 2000;
constexpr size_t k_tail_bytes = 4096;

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
    Subprocess child;
    std::string tail; // the last k_tail_bytes of its output
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
    // `error_class` (when failed): "child process" unless said otherwise.
    void end(Step& step, const std::string& what, Status fallback, const std::string& error_class = "child process")
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
                t.error_class = fallback == Status::aborted ? "Aborted" : error_class;
            });
        } catch (const std::exception& e) {
            // The store could not take the end: report it anyway, as failed.
            if (can_transition(ended.status, Status::failed)) {
                ended.transition(Status::failed, now_ms());
            }
            ended.error = e.what();
        }
        --active;
        try {
            step.callbacks.on_end(std::move(ended));
        } catch (const std::exception&) {
            // on_end never throws by contract; the waiter must outlive a broken one
        }
    }

    // Ends every running step as failed with `what` (their children are killed and reaped).
    void fail_all(std::vector<Running>& running, const std::string& what)
    {
        for (Running& r : running) {
            try {
                end(r.step, what, Status::failed);
            } catch (...) {
                // end() does not throw; keep going for the others
            }
        }
        running.clear();
    }

    // Appends what the child wrote, keeping the last k_tail_bytes.
    static void read_tail(Running& r)
    {
        if (r.child.output_fd() >= 0) {
            r.child.read_available(r.tail);
        }
        if (r.tail.size() > k_tail_bytes) {
            r.tail.erase(0, r.tail.size() - k_tail_bytes);
        }
    }

    // The waiter thread: nothing escapes it (an exception there would end the process); a
    // failure of the loop itself fails the steps it was watching and the loop goes on.
    void loop()
    {
        std::vector<Running> running;
        bool terminated = false;
        for (;;) {
            try {
                if (!step_loop(running, terminated)) {
                    return; // each Subprocess's destructor kills and reaps what is left
                }
            } catch (const std::exception& e) {
                fail_all(running, std::string("the child-process waiter failed: ") + e.what());
            } catch (...) {
                fail_all(running, "the child-process waiter failed: an exception of an unknown type");
            }
        }
    }

    // One round: starts the queued steps, waits a little, ends the children that exited.
    // False once asked to stop.
    bool step_loop(std::vector<Running>& running, bool& terminated)
    {
        {
            std::deque<Step> fresh;
            {
                std::lock_guard<std::mutex> lock(mutex);
                if (stop) {
                    return false;
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
                    SubprocessOptions options;
                    options.argv = {exe.string(),
                                    "task",
                                    "run",
                                    "-q",
                                    "--threads",
                                    std::to_string(std::max(1, s.request.threads)),
                                    s.request.task.id};
                    options.env = {{"MLRUN_HOME", home.string()}};
                    options.die_with_parent = true; // spawned by this thread, which outlives the child
                    options.kill_grace_ms = k_kill_grace_ms;
                    Subprocess child = Subprocess::spawn(options);
                    running.push_back(Running{std::move(s), std::move(child), ""});
                } catch (const std::exception& e) {
                    end(s, std::string("cannot start mlrun task run: ") + e.what(), Status::failed);
                }
            }
            if (abort && !terminated) {
                // SIGTERM lets each child mark its task aborted; the group is killed after the grace.
                terminated = true;
                for (Running& r : running) {
                    r.child.terminate_group();
                }
            }

            std::vector<pollfd> fds{{wake[0], POLLIN, 0}};
            bool unwatched = false;
            for (Running& r : running) {
                if (r.child.output_fd() >= 0) {
                    fds.push_back({r.child.output_fd(), POLLIN, 0});
                }
                if (r.child.exit_fd() >= 0) {
                    fds.push_back({r.child.exit_fd(), POLLIN, 0});
                } else if (r.child.output_fd() < 0) {
                    unwatched = true;
                }
            }
            // Without a pidfd, a child whose pipe closed is exiting: look again soon.
            ::poll(fds.data(), fds.size(), unwatched ? 1 : 50);
            char drain[64];
            while (::read(wake[0], drain, sizeof drain) > 0) {
            }
            for (size_t i = 0; i < running.size();) {
                Running& r = running[i];
                std::optional<ExitStatus> status;
                try {
                    read_tail(r);
                    status = r.child.try_wait();
                    if (status) {
                        read_tail(r);
                    }
                } catch (const std::exception& e) {
                    r.tail += std::string("\n") + e.what(); // a read error: the exit status still decides
                    status = r.child.try_wait();
                }
                if (!status) {
                    ++i;
                    continue;
                }
                std::string line = last_line(r.tail);
                Status fallback = abort ? Status::aborted : Status::failed;
                // A child killed by a signal nobody here sent crashed (SIGSEGV, the OOM killer):
                // its record, left in_progress, ends failed with the signal named.
                const bool crashed = status->signaled && !abort;
                end(r.step,
                    std::string("mlrun task run ") + (crashed ? "" : "ended with ") + status->describe()
                        + (line.empty() ? "" : ": " + line),
                    fallback, crashed ? k_error_class_crash : "child process");
                running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
            }
        }
        return true;
    }
};

ChildProcessStepRunner::ChildProcessStepRunner(TaskStore& store, std::filesystem::path exe, std::filesystem::path home,
                                               int max_children)
    : m_impl(std::make_unique<Impl>(store, std::move(exe), std::move(home), max_children))
{}

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
