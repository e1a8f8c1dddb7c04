#include "engine/task_runner.hpp"

#include "core/crash.hpp"
#include "core/error.hpp"
#include "core/util.hpp"
#include "engine/environment.hpp"
#include "engine/kinds.hpp"
#include "engine/task_recorder.hpp"
#include "platform/self_path.hpp"
#include "ports/task_context.hpp"
#include "ports/task_store.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace mlrun {

namespace {

// Watches every task running in this process from one thread (not a thread per task: a
// pipeline of no-op steps paid a thread start and join for each): each watched task's flag
// is set from its caller's flag (Ctrl-C, the engine), looked at every 50 ms, or by `mlrun
// task abort` from another process, seen as its record turning `aborted` (every 0.5 s). The
// thread starts with the first task and ends after a second without any.
class AbortWatchers {
public:
    struct Entry {
        TaskStore* store;
        std::string id;
        const std::atomic<bool>* outer;
        std::atomic<bool> flag{false};
    };

    static AbortWatchers& instance()
    {
        static AbortWatchers watchers;
        return watchers;
    }
    std::shared_ptr<Entry> add(TaskStore& store, const std::string& id, const std::atomic<bool>* outer)
    {
        auto entry = std::make_shared<Entry>();
        entry->store = &store;
        entry->id = id;
        entry->outer = outer;
        std::lock_guard<std::mutex> lock(m_mutex);
        m_entries.push_back(entry);
        if (!m_running) {
            if (m_thread.joinable()) {
                m_thread.join(); // the last one ended on its own
            }
            m_running = true;
            m_thread = std::thread([this] { loop(); });
        }
        return entry;
    }
    // After it returns, the watcher no longer touches the entry's store.
    void remove(const std::shared_ptr<Entry>& entry)
    {
        std::lock_guard<std::mutex> lock(m_mutex); // held by the thread while it reads a store
        m_entries.erase(std::remove(m_entries.begin(), m_entries.end(), entry), m_entries.end());
    }
    ~AbortWatchers()
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_stop = true;
        }
        m_wake.notify_all();
        if (m_thread.joinable()) {
            m_thread.join();
        }
    }

private:
    void loop()
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        int idle = 0;
        for (int tick = 1; !m_stop; ++tick) {
            m_wake.wait_for(lock, std::chrono::milliseconds(50));
            if (m_entries.empty()) {
                if (++idle >= 20) {
                    break;
                }
                continue;
            }
            idle = 0;
            for (const std::shared_ptr<Entry>& e : m_entries) {
                if (e->outer && e->outer->load()) {
                    e->flag = true;
                }
                if (tick % 10 == 0 && !e->flag) {
                    try {
                        std::optional<Task> t = e->store->find(e->id);
                        if (t && t->status == Status::aborted) {
                            e->flag = true;
                        }
                    } catch (const std::exception&) {
                        // a record being replaced: look again next time
                    }
                }
            }
        }
        m_running = false;
    }

    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::vector<std::shared_ptr<Entry>> m_entries;
    bool m_running = false;
    bool m_stop = false;
    std::thread m_thread;
};

// One task's cancel flag, watched by the process's AbortWatchers while it lives.
class AbortWatcher {
public:
    AbortWatcher(TaskStore& store, const std::string& id, const std::atomic<bool>* outer)
        : m_entry(AbortWatchers::instance().add(store, id, outer))
    {}
    ~AbortWatcher() { AbortWatchers::instance().remove(m_entry); }
    AbortWatcher(const AbortWatcher&) = delete;
    AbortWatcher& operator=(const AbortWatcher&) = delete;
    const std::atomic<bool>* flag() const { return &m_entry->flag; }

private:
    std::shared_ptr<AbortWatchers::Entry> m_entry;
};

// The end record when the recorder could not write it (the disk is full, the store is gone):
// a direct update of the status, else the record in memory. Never throws.
Task finish_anyway(TaskStore& store, const Task& task, Status status, const std::string& error,
                   const std::string& error_class, const std::exception& why)
{
    const std::string cls = is_io_error(why) ? std::string(k_error_class_io) : error_class;
    const std::string message = error.empty() ? std::string("cannot record the end: ") + why.what()
                                              : error + " (and the end could not be recorded: " + why.what() + ")";
    const Status end = status == Status::completed ? Status::failed : status;
    try {
        return store.update(task.id, [&](Task& t) {
            if (can_transition(t.status, end)) {
                t.transition(end, now_ms());
            }
            t.error = message;
            t.error_class = cls;
        });
    } catch (const std::exception&) {
        Task t = task;
        if (can_transition(t.status, end)) {
            t.transition(end, now_ms());
        }
        t.error = message;
        t.error_class = cls;
        return t;
    }
}

} // namespace

Task start_task(TaskStore& store, const std::string& id)
{
    return store.update(store.resolve(id), [](Task& t) { t.transition(Status::in_progress, now_ms()); });
}

Task run_task(const Ports& ports, const Task& started, const RunOptions& options)
{
    TaskStore& store = *ports.store;
    const Task& task = started;
    // A kind that writes no file (noop) gets a log file only when there is something to read
    // in it: the engine's own lines wait here until the kind logs a line or the task does not
    // complete, so a quick no-op step creates no folder and no file.
    std::mutex held_mutex;
    std::string held;
    bool holding = !kind_writes_files(task.kind);
    auto flush_held = [&] {
        std::lock_guard<std::mutex> lock(held_mutex);
        holding = false;
        if (!held.empty()) {
            store.append_log(task.id, held);
            held.clear();
        }
    };
    auto log = [&](const std::string& line) {
        flush_held();
        store.append_log(task.id, line + "\n");
        if (options.on_log) {
            options.on_log(line);
        }
    };
    auto engine_log = [&](const std::string& line) {
        {
            std::lock_guard<std::mutex> lock(held_mutex);
            if (holding) {
                held += line + "\n";
                if (options.on_log) {
                    options.on_log(line);
                }
                return;
            }
        }
        log(line);
    };
    // Before task_started: a mirror reads it from the store then (MLflow: tags).
    record_environment(store, started, std::max(1, options.threads));
    TaskRecorder recorder(ports, started, log);

    TaskContext ctx;
    ctx.task = task;
    ctx.reporter = &recorder;
    ctx.inputs_port = ports.inputs;
    ctx.threads = std::max(1, options.threads);
    ctx.log = log;
    ctx.progress = [&](const std::string& stage, int done, int total) {
        if (options.on_progress) {
            options.on_progress(stage, done, total);
        }
    };
    AbortWatcher watcher(store, task.id, options.cancel);
    ctx.cancel = watcher.flag();
    if (const Json* seed = get_path(task.params, "seed"); seed && seed->is_number_integer()) {
        ctx.seed = seed->get<std::uint64_t>();
    }
    fs::path task_dir = store.task_dir(task.id);
    // One scratch folder per attempt: a stale attempt still running cannot mix its files into a newer one's.
    ctx.work_dir = task_dir / "work" / std::to_string(task.attempts);
    std::string exe = self_exe().string();
    const char* path = std::getenv("PATH");
    ctx.env = {{"MLRUN_HOME", store.uri()},
               {"MLRUN_BIN", exe},
               {"PATH", fs::path(exe).parent_path().string() + ":" + (path ? path : "/usr/bin:/bin")}};

    // An uncaught exception in any thread while the task runs: the task ends failed.
    CrashScope crash([&store, id = task.id](const std::string& what) {
        store.update(id, [&](Task& t) {
            if (can_transition(t.status, Status::failed)) {
                t.transition(Status::failed, now_ms());
            }
            t.error = what;
            t.error_class = k_error_class_crash;
        });
    });
    // The end, recorded: a log line that cannot be written is not a reason to lose the end.
    auto end = [&](Status status, const std::string& line, const std::string& error, const std::string& cls,
                   int code) -> Task {
        try {
            if (status == Status::completed) {
                engine_log(line); // still held: dropped with the rest
            } else {
                log(line);
            }
        } catch (const std::exception&) {
            // the log is on the same full disk: the record says it
        }
        if (cls == k_error_class_io) {
            std::error_code ec;
            fs::remove_all(ctx.work_dir, ec); // scratch files: give the space back first
        }
        try {
            return recorder.finish(status, error, cls, code);
        } catch (const std::exception& e) {
            return finish_anyway(store, task, status, error, cls, e);
        }
    };

    try {
        recorder.started();
        if (kind_writes_files(task.kind)) {
            std::error_code ec;
            fs::remove_all(ctx.work_dir, ec);
            fs::create_directories(ctx.work_dir);
        }
        engine_log("mlrun: task " + task.id + " (" + task.kind + (task.name.empty() ? "" : ", " + task.name)
                   + ") started, attempt " + std::to_string(task.attempts));
        const KindFn& fn = KindRegistry::instance().get(task.kind);
        fn(ctx);
        ctx.check_cancel();
        recorder.flush_scalars(); // a store that cannot take them fails the task
    } catch (const Aborted& e) {
        return end(Status::aborted, "mlrun: aborted", "aborted by the user", "Aborted", 0);
    } catch (const TaskFailed& e) {
        const bool crashed = dynamic_cast<const Crashed*>(&e) != nullptr;
        return end(Status::failed, std::string("mlrun: failed: ") + e.what(), e.what(),
                   crashed ? k_error_class_crash : "TaskFailed", e.exit_code());
    } catch (const UsageError& e) {
        return end(Status::failed, std::string("mlrun: failed: ") + e.what(), e.what(), "UsageError", 0);
    } catch (const std::exception& e) {
        // libtorch and OpenCV throw their own std::exception subclasses: keep the first line.
        std::string what = e.what();
        std::string first = what.substr(0, what.find('\n'));
        return end(Status::failed, "mlrun: failed: " + what, first, is_io_error(e) ? k_error_class_io : "exception", 0);
    } catch (...) {
        return end(Status::failed, "mlrun: failed: an exception of an unknown type", "an exception of an unknown type",
                   "exception", 0);
    }
    std::error_code ec;
    fs::remove_all(ctx.work_dir, ec);
    return end(Status::completed, "mlrun: completed", "", "", 0);
}

} // namespace mlrun
