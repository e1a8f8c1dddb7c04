#include "engine/task_runner.hpp"

#include "core/error.hpp"
#include "engine/kinds.hpp"
#include "core/task_context.hpp"
#include "core/util.hpp"
#include "platform/self_path.hpp"
#include "store/backends.hpp"
#include "store/local_store.hpp"
#include "store/task_store.hpp"
#include "tracking/tracker.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>
#include <filesystem>

namespace mlrun {

namespace {

Task finish(Backends& b, const std::string& id, Status status, const std::string& error, const std::string& error_class,
            int exit_code)
{
    return b.store->update(id, [&](Task& t) {
        if (t.status == Status::aborted) {
            return; // `mlrun task abort` got there first: the abort stands
        }
        t.status = status;
        t.finished_ms = now_ms();
        t.error = error;
        t.error_class = error_class;
        t.exit_code = exit_code;
    });
}

// One cancel flag for the task: set by the caller's flag (Ctrl-C, the engine) or by
// `mlrun task abort` from another process, seen as the record turning `aborted`.
class AbortWatcher {
public:
    AbortWatcher(TaskStore& store, const std::string& id, const std::atomic<bool>* outer)
        : m_thread([this, &store, id, outer] {
              std::unique_lock<std::mutex> lock(m_mutex);
              for (int tick = 1; !m_done; ++tick) {
                  m_wake.wait_for(lock, std::chrono::milliseconds(50));
                  if (outer && outer->load()) {
                      m_flag = true;
                  }
                  if (tick % 10 == 0 && !m_done) { // the store every 0.5 s
                      try {
                          std::optional<Task> t = store.find(id);
                          if (t && t->status == Status::aborted) {
                              m_flag = true;
                          }
                      } catch (const std::exception&) {
                          // a record being replaced: look again next time
                      }
                  }
              }
          })
    {
    }
    ~AbortWatcher()
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_done = true;
        }
        m_wake.notify_all();
        m_thread.join();
    }
    const std::atomic<bool>* flag() const { return &m_flag; }

private:
    std::atomic<bool> m_flag{false};
    bool m_done = false;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::thread m_thread; // last: started once the members above exist
};

} // namespace

Task run_task(Backends& b, const std::string& task_id, const RunOptions& options)
{
    Task task = options.created_started ? *options.created_started : b.store->update(task_id, [&](Task& t) {
        check_transition(t.status, Status::in_progress);
        t.status = Status::in_progress;
        t.attempts += 1;
        t.started_ms = now_ms();
        t.finished_ms = 0;
        t.error.clear();
        t.error_class.clear();
        t.exit_code = 0;
    });

    auto log = [&](const std::string& line) {
        b.store->append_log(task.id, line + "\n");
        if (options.on_log) {
            options.on_log(line);
        }
    };

    TaskContext ctx;
    ctx.task = task;
    ctx.tracker = b.tracker.get();
    ctx.threads = std::max(1, options.threads);
    ctx.log = log;
    ctx.progress = [&](const std::string& stage, int done, int total) {
        if (options.on_progress) {
            options.on_progress(stage, done, total);
        }
    };
    AbortWatcher watcher(*b.store, task.id, options.cancel);
    ctx.cancel = watcher.flag();
    if (const Json* seed = get_path(task.params, "seed"); seed && seed->is_number_integer()) {
        ctx.seed = seed->get<std::uint64_t>();
    }
    fs::path task_dir = b.local->task_dir(task.id);
    ctx.work_dir = task_dir / "work";
    std::string exe = self_exe().string();
    const char* path = std::getenv("PATH");
    ctx.env = {{"MLRUN_HOME", b.local->root().string()},
               {"MLRUN_BIN", exe},
               {"PATH", fs::path(exe).parent_path().string() + ":" + (path ? path : "/usr/bin:/bin")}};

    try {
        std::error_code ec;
        fs::remove_all(ctx.work_dir, ec);
        fs::create_directories(ctx.work_dir);
        log("mlrun: task " + task.id + " (" + task.kind + (task.name.empty() ? "" : ", " + task.name) + ") started, attempt "
            + std::to_string(task.attempts));
        const KindFn& fn = KindRegistry::instance().get(task.kind);
        fn(ctx);
        ctx.check_cancel();
    } catch (const Aborted& e) {
        log("mlrun: aborted");
        return finish(b, task.id, Status::aborted, "aborted by the user", "Aborted", 0);
    } catch (const TaskFailed& e) {
        log(std::string("mlrun: failed: ") + e.what());
        return finish(b, task.id, Status::failed, e.what(), "TaskFailed", e.exit_code());
    } catch (const UsageError& e) {
        log(std::string("mlrun: failed: ") + e.what());
        return finish(b, task.id, Status::failed, e.what(), "UsageError", 0);
    } catch (const std::exception& e) {
        // libtorch and OpenCV throw their own std::exception subclasses: keep the first line.
        std::string what = e.what();
        std::string first = what.substr(0, what.find('\n'));
        log("mlrun: failed: " + what);
        return finish(b, task.id, Status::failed, first, "exception", 0);
    }
    std::error_code ec;
    fs::remove_all(ctx.work_dir, ec);
    log("mlrun: completed");
    return finish(b, task.id, Status::completed, "", "", 0);
}

} // namespace mlrun
