#include "engine/environment.hpp"

#include "core/kind_names.hpp"
#include "engine/kinds.hpp"
#include "platform/subprocess.hpp"
#include "ports/task_store.hpp"

#include <map>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace mlrun {

namespace {

// stdout of `git -C dir ARGS` (trimmed), or nullopt when it fails.
std::optional<std::string> git(const std::filesystem::path& dir, std::vector<std::string> args)
{
    args.insert(args.begin(), {"git", "-C", dir.string()});
    try {
        SubprocessOptions o;
        o.argv = std::move(args);
        o.merge_stderr = true;                 // "not a git repository" stays off the user's terminal
        o.env = {{"GIT_OPTIONAL_LOCKS", "0"}}; // a status never takes the index lock
        Subprocess p = Subprocess::spawn(o);
        std::string out;
        ExitStatus s = p.wait([&](std::string_view line) { out += std::string(line) + "\n"; }, 10'000);
        if (s.signaled || s.exit_code != 0) {
            return std::nullopt;
        }
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
            out.pop_back();
        }
        return out;
    } catch (const std::exception&) {
        return std::nullopt; // no git on this machine
    }
}

// Asked once per process (every task's environment record carries it).
std::string host_name()
{
    static const std::string name = [] {
        char host[256] = {};
        return ::gethostname(host, sizeof host - 1) != 0 ? std::string() : std::string(host);
    }();
    return name;
}

// The run's git state, read from its record once per process: the record of a wide run is
// large, and reading it for each of its tasks made dispatch quadratic.
Json cached_run_git_state(TaskStore& store, const std::string& run_id)
{
    static std::mutex mu;
    static std::map<std::string, Json> cache;
    {
        std::lock_guard<std::mutex> lk(mu);
        if (auto it = cache.find(run_id); it != cache.end()) {
            return it->second;
        }
    }
    Json g;
    try {
        std::optional<Json> run = store.get_record("runs", run_id);
        if (!run) {
            return Json(); // not written yet: look again next time
        }
        g = run_git_state(*run);
    } catch (const std::exception&) {
        return Json(); // an unreadable run record: no git state
    }
    std::lock_guard<std::mutex> lk(mu);
    cache[run_id] = g;
    return g;
}

} // namespace

Json git_state(const std::filesystem::path& file)
{
    static std::mutex mu;
    static std::map<std::string, Json> cache;
    std::error_code ec;
    const std::filesystem::path dir = std::filesystem::absolute(file, ec).parent_path();
    {
        std::lock_guard<std::mutex> lk(mu);
        auto it = cache.find(dir.string());
        if (it != cache.end()) {
            return it->second;
        }
    }
    Json out;
    const std::optional<std::string> top = git(dir, {"rev-parse", "--show-toplevel"});
    const std::optional<std::string> commit = top ? git(dir, {"rev-parse", "HEAD"}) : std::nullopt;
    if (top && commit) {
        // Tracked files only: build folders and stores beside the pipeline do not count.
        const std::optional<std::string> status = git(dir, {"status", "--porcelain", "--untracked-files=no"});
        out = Json{{"commit", *commit}, {"dirty", !status || !status->empty()}, {"repo", *top}};
    }
    std::lock_guard<std::mutex> lk(mu);
    cache[dir.string()] = out;
    return out;
}

Json run_git_state(const Json& run)
{
    if (!run.is_object()) {
        return Json();
    }
    if (run.contains("git")) {
        return run["git"];
    }
    const std::string file = run.value("file", "");
    return file.empty() ? Json() : git_state(file);
}

Json task_environment(TaskStore& store, const Task& task, int cores)
{
    Json env = Json::object();
    env["host"] = host_name();
    env["mlrun"] = MLRUN_VERSION;
    env["cores"] = cores;
    env["cores_online"] = static_cast<int>(std::thread::hardware_concurrency());
    if (is_plugin_kind(task.kind)) {
        try {
            Json libs = KindRegistry::instance().library_versions(task.kind);
            if (libs.is_object() && !libs.empty()) {
                env["libraries"] = std::move(libs);
            }
        } catch (const std::exception&) {
            // the plugin cannot load: the task fails with that error when its kind is looked up
        }
    }
    if (!task.run_id.empty()) {
        if (Json g = cached_run_git_state(store, task.run_id); !g.is_null()) {
            env["git"] = std::move(g); // recorded once per run: no git process per task
        }
    }
    return env;
}

} // namespace mlrun

namespace mlrun {

void record_environment(TaskStore& store, const Task& task, int cores)
{
    try {
        store.put_record_soon(k_environment_kind, task.id, task_environment(store, task, cores));
    } catch (const std::exception&) {
        // the task runs without its environment record
    }
}

Json stored_environment(TaskStore& store, const std::string& task_id)
{
    try {
        std::optional<Json> r = store.get_record(k_environment_kind, task_id);
        return r && r->is_object() ? *r : Json::object();
    } catch (const std::exception&) {
        return Json::object();
    }
}

} // namespace mlrun
