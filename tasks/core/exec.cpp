#include "core/core_kinds.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "ports/reporter.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace mlrun::kinds {

namespace {

std::vector<std::string> command_argv(const Json& params)
{
    const Json* cmd = get_path(params, "command");
    if (!cmd || cmd->is_null()) {
        throw UsageError("exec task needs params.command (a string or a list of arguments)");
    }
    if (cmd->is_string()) {
        if (cmd->get<std::string>().empty()) {
            throw UsageError("params.command is empty");
        }
        return {"/bin/sh", "-c", cmd->get<std::string>()};
    }
    if (cmd->is_boolean() || cmd->is_number()) {
        // `--set command=true` types the value; a command is text all the same.
        return {"/bin/sh", "-c", cmd->dump()};
    }
    if (cmd->is_array() && !cmd->empty()) {
        std::vector<std::string> argv;
        for (const Json& a : *cmd) {
            argv.push_back(a.is_string() ? a.get<std::string>() : a.dump());
        }
        return argv;
    }
    throw UsageError("params.command must be a string or a non-empty list of arguments");
}

// Scalars and values a command wrote to MLRUN_OUTPUT_DIR/metrics.jsonl:
// {"title","series","iteration","value"} lines are scalars, {"name","value"} lines values.
void import_metrics_file(TaskContext& ctx, const fs::path& path)
{
    std::ifstream in(path);
    std::string line;
    std::vector<Scalar> scalars;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        Json j = Json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("value")) {
            throw TaskFailed("metrics.jsonl:" + std::to_string(number)
                             + ": expected {\"title\",\"series\",\"iteration\",\"value\"} or {\"name\",\"value\"}");
        }
        if (j.contains("name")) {
            ctx.report().log_value(j["name"].get<std::string>(), j["value"]);
        } else if (j["value"].is_number()) {
            scalars.push_back({j.value("title", "metric"), j.value("series", "value"), j.value("iteration", std::int64_t{0}),
                               j["value"].get<double>()});
        }
    }
    ctx.report().log_scalars(scalars);
}

} // namespace

void run_exec(TaskContext& ctx)
{
    std::vector<std::string> argv = command_argv(ctx.task.params);
    int timeout_s = ctx.task.params.value("timeout_s", 0);

    fs::path params_file = ctx.work_dir.parent_path() / "params.json";
    write_file_atomic(params_file, dump_json(ctx.task.params, 2));

    // Environment: ours, plus the task's, plus params.env (a map of strings).
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        size_t eq = kv.find('=');
        if (eq != std::string::npos) {
            env[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
    }
    for (const auto& [k, v] : ctx.env) {
        env[k] = v;
    }
    env["MLRUN_TASK_ID"] = ctx.task.id;
    env["MLRUN_PARAMS"] = params_file.string();
    env["MLRUN_OUTPUT_DIR"] = ctx.work_dir.string();
    env["MLRUN_THREADS"] = std::to_string(ctx.threads);
    if (const Json* extra = get_path(ctx.task.params, "env"); extra && extra->is_object()) {
        for (const auto& [k, v] : extra->items()) {
            env[k] = v.is_string() ? v.get<std::string>() : v.dump();
        }
    }
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) {
        env_strings.push_back(k + "=" + v);
    }
    std::vector<char*> envp;
    for (std::string& s : env_strings) {
        envp.push_back(s.data());
    }
    envp.push_back(nullptr);
    std::vector<char*> args;
    for (std::string& a : argv) {
        args.push_back(a.data());
    }
    args.push_back(nullptr);

    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Own process group, so that abort and timeout reach the command's children too.
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(pipefd[1]);
    if (rc != 0) {
        ::close(pipefd[0]);
        throw TaskFailed("cannot run \"" + argv[0] + "\": " + std::strerror(rc), 127);
    }

    auto start = std::chrono::steady_clock::now();
    std::string pending;
    bool killed_for_timeout = false;
    bool killed_for_abort = false;
    int kill_stage = 0;
    std::chrono::steady_clock::time_point kill_time;
    char buf[8192];
    int status = 0;
    bool exited = false;
    std::chrono::steady_clock::time_point exit_time;
    while (true) {
        // A background child of the command may keep the pipe open for ever: once the
        // command itself exited, read what is left for a moment, then stop.
        if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) {
            exited = true;
            exit_time = std::chrono::steady_clock::now();
        }
        if (exited && std::chrono::steady_clock::now() - exit_time > std::chrono::milliseconds(300)) {
            break;
        }
        pollfd pfd{pipefd[0], POLLIN, 0};
        int n = ::poll(&pfd, 1, exited ? 20 : 100);
        if (n > 0) {
            ssize_t got = ::read(pipefd[0], buf, sizeof buf);
            if (got <= 0) {
                break; // EOF: every writer closed (the command and its children)
            }
            pending.append(buf, static_cast<size_t>(got));
            size_t nl;
            while ((nl = pending.find('\n')) != std::string::npos) {
                ctx.log(pending.substr(0, nl));
                pending.erase(0, nl + 1);
            }
        }
        bool over_time = timeout_s > 0 && std::chrono::steady_clock::now() - start > std::chrono::seconds(timeout_s);
        if (kill_stage == 0 && (ctx.cancelled() || over_time)) {
            killed_for_abort = ctx.cancelled();
            killed_for_timeout = !killed_for_abort;
            ::kill(-pid, SIGTERM);
            kill_stage = 1;
            kill_time = std::chrono::steady_clock::now();
        } else if (kill_stage == 1 && std::chrono::steady_clock::now() - kill_time > std::chrono::seconds(3)) {
            ::kill(-pid, SIGKILL);
            kill_stage = 2;
        }
    }
    ::close(pipefd[0]);
    if (!pending.empty()) {
        ctx.log(pending);
    }
    if (!exited) {
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }

    if (killed_for_abort) {
        throw Aborted("aborted");
    }
    if (killed_for_timeout) {
        throw TaskFailed("command timed out after " + std::to_string(timeout_s) + " s", 124);
    }
    fs::path metrics = ctx.work_dir / "metrics.jsonl";
    if (fs::exists(metrics)) {
        import_metrics_file(ctx, metrics);
    }
    for (const fs::directory_entry& e : fs::directory_iterator(ctx.work_dir)) {
        std::string name = e.path().filename().string();
        if (name != "metrics.jsonl" && name.front() != '.') {
            ctx.report().log_artifact(name, e.path());
        }
    }
    if (WIFSIGNALED(status)) {
        throw TaskFailed("command killed by signal " + std::to_string(WTERMSIG(status)), 128 + WTERMSIG(status));
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (code != 0) {
        throw TaskFailed("command exited with code " + std::to_string(code), code);
    }
}

} // namespace mlrun::kinds
