#include "tasks/core/core_kinds.hpp"

#include "core/crash.hpp"
#include "core/error.hpp"
#include "core/util.hpp"
#include "platform/subprocess.hpp"
#include "ports/reporter.hpp"

#include <fstream>
#include <optional>
#include <system_error>

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
            scalars.push_back({j.value("title", "metric"), j.value("series", "value"),
                               j.value("iteration", std::int64_t{0}), j["value"].get<double>()});
        }
    }
    ctx.report().log_scalars(scalars);
}

} // namespace

void run_exec(TaskContext& ctx)
{
    SubprocessOptions options;
    options.argv = command_argv(ctx.task.params);
    int timeout_s = ctx.task.params.value("timeout_s", 0);

    fs::path params_file = ctx.work_dir.parent_path() / "params.json";
    write_file_atomic(params_file, dump_json(ctx.task.params, 2));

    // Environment: ours, plus the task's, plus params.env (a map of strings); a later one wins.
    options.env = ctx.env;
    options.env.emplace_back("MLRUN_TASK_ID", ctx.task.id);
    options.env.emplace_back("MLRUN_PARAMS", params_file.string());
    options.env.emplace_back("MLRUN_OUTPUT_DIR", ctx.work_dir.string());
    options.env.emplace_back("MLRUN_THREADS", std::to_string(ctx.threads));
    // Under an agent's lease, `mlrun log` from the command is fenced by it too.
    options.env.emplace_back("MLRUN_LEASE_EPOCH", std::to_string(ctx.task.lease_epoch));
    if (const Json* extra = get_path(ctx.task.params, "env"); extra && extra->is_object()) {
        for (const auto& [k, v] : extra->items()) {
            options.env.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
        }
    }
    options.kill_grace_ms = 3000;
    // `mlrun task run` SIGKILLed (by its agent's death, the OOM killer): the command's whole
    // group dies too, never left orphaned.
    options.kill_group_with_parent = true;

    std::optional<Subprocess> child;
    try {
        child.emplace(Subprocess::spawn(options));
    } catch (const std::system_error& e) {
        throw TaskFailed(e.what(), 127); // "cannot run \"prog\": No such file or directory"
    }
    // The command's process group (its children too) is stopped on timeout and abort, and
    // does not outlive the step; a throw while logging kills and reaps it as well.
    ExitStatus status = child->wait([&](std::string_view line) { ctx.log(std::string(line)); },
                                    timeout_s > 0 ? timeout_s * 1000 : 0, ctx.cancel);

    if (status.cancelled) {
        throw Aborted("aborted");
    }
    if (status.timed_out) {
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
    if (status.signaled) {
        // "command killed by signal 11 (SIGSEGV)": the command crashed (or was killed from outside).
        throw Crashed("command " + status.describe(), status.shell_code());
    }
    if (status.exit_code != 0) {
        throw TaskFailed("command exited with code " + std::to_string(status.exit_code), status.exit_code);
    }
}

} // namespace mlrun::kinds
