#include "app/pipeline_job.hpp"

#include "app/ci_reports.hpp"
#include "app/data_preflight.hpp"
#include "app/dataset_ops.hpp"
#include "app/sync.hpp"
#include "app/task_ops.hpp"
#include "app/wiring.hpp"
#include "core/error.hpp"
#include "core/params.hpp"
#include "core/template.hpp"
#include "core/util.hpp"
#include "engine/queue_step_runner.hpp"
#include "ports/agent_registry.hpp"
#include "ports/inputs.hpp"
#include "ports/queue.hpp"
#include "ports/task_store.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

namespace mlrun {

namespace {

// The spec as the run will see it: the resumed run's file, smoke profile and --set values,
// then the new ones (as pipeline_runner's load_run_input does).
PipelineSpec spec_as_run(Backends& b, const PipelineJobRequest& request, std::vector<std::string>& sets_out)
{
    std::string file = request.file;
    std::vector<std::string> sets;
    bool smoke = request.options.smoke;
    if (!request.options.resume_run.empty()) {
        Ports ports = b.ports();
        std::optional<Json> previous = b.store->get_record("runs", resolve_run(ports, request.options.resume_run));
        if (previous) {
            if (file.empty()) {
                file = previous->value("file", "");
            }
            sets = previous->value("sets", std::vector<std::string>{});
            smoke = smoke || previous->value("smoke", false);
        }
    }
    if (file.empty()) {
        throw UsageError("pipeline run: give a pipeline FILE or --resume RUN");
    }
    sets.insert(sets.end(), request.options.sets.begin(), request.options.sets.end());
    PipelineSpec spec = load_pipeline(file);
    if (smoke) {
        apply_smoke(spec);
    }
    apply_step_sets(spec, sets, "--set");
    sets_out = sets;
    return spec;
}

// (path inside the dataset, sha256) of each file a dataset of `path` would hold, sorted, as
// store/datasets.cpp names them.
std::vector<std::pair<std::string, std::string>> dataset_files(const fs::path& path)
{
    std::vector<std::pair<std::string, std::string>> files;
    if (fs::is_regular_file(path)) {
        files.emplace_back(path.filename().string(), sha256_file(path));
    } else {
        fs::path base = fs::absolute(path).lexically_normal();
        if (base.filename().empty()) {
            base = base.parent_path();
        }
        for (const fs::directory_entry& e : fs::recursive_directory_iterator(base)) {
            if (e.is_regular_file()) {
                files.emplace_back((base.filename() / fs::relative(e.path(), base)).generic_string(),
                                   sha256_file(e.path()));
            }
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

// A dataset version named `name` holding exactly `path`'s files: an existing one, else new.
std::string dataset_for(Backends& b, const std::string& name, const std::string& project, const fs::path& path)
{
    const auto wanted = dataset_files(path);
    for (const Json& d : list_datasets(b)) {
        if (d.value("name", "") != name || !d.contains("files") || !d["files"].is_array()) {
            continue;
        }
        std::vector<std::pair<std::string, std::string>> have;
        for (const Json& f : d["files"]) {
            have.emplace_back(f.value("path", ""), f.value("sha256", ""));
        }
        std::sort(have.begin(), have.end());
        if (have == wanted) {
            return d.value("id", "");
        }
    }
    DatasetRequest request;
    request.name = name;
    request.project = project;
    request.paths = {path};
    return create_dataset(b, request).value("id", "");
}

// A step's data.path as the kinds would find it (as given, else under base_dir); nullopt
// when neither exists (the step itself will say so).
std::optional<fs::path> local_data_path(const std::string& path, const fs::path& base_dir)
{
    std::error_code ec;
    for (const fs::path& p : {fs::path(path), base_dir / path}) {
        if (fs::exists(p, ec)) {
            return fs::absolute(p).lexically_normal();
        }
    }
    return std::nullopt;
}

// A resume without --queue of a run whose steps are still on agents would take them for
// abandoned and run them here a second time: refused, naming the queue to resume on.
void refuse_local_resume_of_remote_run(Backends& b, const std::string& run_id)
{
    TaskFilter filter;
    filter.run_id = run_id;
    for (const Task& t : b.store->list(filter)) {
        // Claimed by an agent at least once (a local run never sets an epoch).
        if ((t.status == Status::queued || t.status == Status::in_progress) && !t.queue.empty() && t.lease_epoch > 0) {
            throw UsageError("run " + run_id + ": step " + t.step + " is still " + std::string(to_string(t.status))
                             + " on queue " + t.queue + "; resume it on agents with --resume " + run_id + " --queue "
                             + t.queue);
        }
    }
}

} // namespace

std::vector<std::string> preflight_remote_run(Backends& b, PipelineJobRequest& request)
{
    std::vector<std::string> sets;
    PipelineSpec spec = spec_as_run(b, request, sets);
    std::set<std::string> queues;
    for (const StepSpec& step : spec.steps) {
        queues.insert(step.queue.empty() ? request.queue : step.queue);
    }
    std::vector<std::string> known;
    for (const QueueInfo& q : b.queue->list()) {
        known.push_back(q.name);
    }
    for (const std::string& q : queues) {
        check_name(q, "queue name");
        if (!b.queue->exists(q)) {
            std::string names;
            for (const std::string& n : known) {
                names += (names.empty() ? "" : ", ") + n;
            }
            std::string near = nearest(q, known);
            throw UsageError("pipeline run --queue: unknown queue \"" + q
                             + "\" (known: " + (names.empty() ? "none" : names) + ")"
                             + (near.empty() ? "" : "; did you mean " + near + "?")
                             + "; create it with `mlrun queue create " + q + "`");
        }
        if (request.require_agent) {
            check_agent(b, q, true);
        }
    }
    // Local data files become dataset versions now, on the submitting machine.
    for (const StepSpec& step : spec.steps) {
        Json params = find_template(step.template_name, request.options.templates_dir).params;
        merge_params(params, step.params);
        const Json* path = get_path(params, "data.path");
        const Json* dataset = get_path(params, "data.dataset_id");
        if (!path || !path->is_string() || path->get<std::string>().empty()
            || (dataset && dataset->is_string() && !dataset->get<std::string>().empty())) {
            continue;
        }
        std::optional<fs::path> local = local_data_path(path->get<std::string>(), spec.base_dir);
        if (!local) {
            continue;
        }
        const std::string id = dataset_for(b, spec.name + "." + step.name, spec.project, *local);
        request.options.sets.push_back(step.name + ".data.dataset_id=" + id);
        request.options.sets.push_back(step.name + ".data.path=" + local->filename().string());
    }
    return {queues.begin(), queues.end()};
}

Json run_leaderboard(Backends& b, const Json& run)
{
    // The run's summary tasks in one indexed query (a cached summary belongs to its older
    // run: looked up by id), not a read of every node's task.
    std::set<std::string> summaries;
    TaskFilter filter;
    filter.run_id = run.value("id", "");
    filter.kind = "summary";
    filter.light = true;
    b.store->each(filter, [&](const Task& t) { summaries.insert(t.id); });
    for (const Json& n : run["nodes"]) {
        std::string id = n.value("task_id", "");
        if (id.empty() || (n["state"] != "completed" && n["state"] != "cached")) {
            continue;
        }
        if (n["state"] == "completed" && !summaries.count(id)) {
            continue;
        }
        std::optional<Task> t = b.store->find(id);
        if (t && t->kind == "summary") {
            Json lb = Json::parse(read_file(b.inputs->fetch_artifact(id, "leaderboard.json")), nullptr, false);
            return lb.is_discarded() ? Json() : lb;
        }
    }
    return Json();
}

namespace {

// The controller of a run on agents as an exec task on `request.controller_queue`: it runs the
// claiming agent's own mlrun on the pipeline's text carried in the task (no path of this
// machine), with this command's sets (data files already turned into dataset versions by the
// preflight). Requeued after its agent died, it finds the run id of its first attempt in its
// log (the --json run_started event) and resumes that run, adopting the steps in flight.
Task enqueue_controller(Backends& b, const PipelineJobRequest& request)
{
    check_name(request.controller_queue, "queue name");
    if (!b.queue->exists(request.controller_queue)) {
        throw UsageError("pipeline run --controller-queue: unknown queue \"" + request.controller_queue
                         + "\"; create it with `mlrun queue create " + request.controller_queue + "`");
    }
    if (request.require_agent) {
        check_agent(b, request.controller_queue, true);
    }
    const Template exec = find_template("exec", request.options.templates_dir);
    Task t;
    t.name = "controller";
    t.type = "controller";
    t.kind = exec.kind;
    t.template_name = exec.name;
    t.params = exec.params;
    t.editable = exec.editable;
    t.tags = {"controller"};
    Json command = Json::array(
        {"sh", "-c",
         "f=\"$MLRUN_OUTPUT_DIR/pipeline.yaml\"; printf '%s' \"$MLRUN_CONTROLLER_PIPELINE\" >\"$f\" || exit 1; "
         "m=\"${MLRUN_BIN:-mlrun}\"; "
         "r=$(\"$m\" task logs \"$MLRUN_TASK_ID\" 2>/dev/null | sed -n "
         "'s/.*\"event\":\"run_started\".*\"run_id\":\"\\([^\"]*\\)\".*/\\1/p' | head -n 1); "
         "if [ -n \"$r\" ]; then exec \"$m\" pipeline run --resume \"$r\" --json --queue \"$MLRUN_CONTROLLER_QUEUE\"; "
         "fi; "
         "exec \"$m\" pipeline run \"$f\" \"$@\"",
         "mlrun", "--json", "--queue", request.queue, "--priority", std::to_string(request.priority)});
    for (const std::string& set : request.options.sets) {
        command.push_back("--set");
        command.push_back(set);
    }
    for (const std::string& g : request.gates) {
        command.push_back("--gate");
        command.push_back(g);
    }
    if (request.options.smoke) {
        command.push_back("--smoke");
    }
    if (request.options.no_cache) {
        command.push_back("--no-cache");
    }
    t.params["command"] = command;
    set_path(t.params, "env.MLRUN_CONTROLLER_PIPELINE", read_file(request.file));
    set_path(t.params, "env.MLRUN_CONTROLLER_QUEUE", request.queue);
    set_path(t.params, "timeout_s", 0);
    b.store->create(t);
    enqueue_task(b, t.id, request.controller_queue, request.priority);
    return t;
}

} // namespace

PipelineJobResult run_pipeline_job(Backends& b, PipelineJobRequest request)
{
    if (request.file.empty() && request.options.resume_run.empty()) {
        throw UsageError("pipeline run: give a pipeline FILE or --resume RUN");
    }
    // Bad gate syntax is bad input: refuse it before anything runs.
    std::vector<Gate> gates;
    for (const std::string& g : request.gates) {
        gates.push_back(parse_gate(g));
    }
    std::map<std::string, double> max_drop;
    for (const std::string& d : request.max_drop) {
        max_drop.insert(parse_max_drop(d));
    }
    // A gate on a metric no model reports would fail only after the whole run.
    check_gate_metrics(gates);
    check_drop_metrics(max_drop);
    if (!request.file.empty()) {
        check_gate_metrics(load_pipeline(request.file).gates, request.file + ": ");
    }
    if (!max_drop.empty() && request.baseline.empty() && request.baseline_model.empty()) {
        throw UsageError("--max-drop needs --baseline RUN or --baseline-model NAME@ALIAS");
    }
    if (!request.baseline.empty() && max_drop.empty()) {
        throw UsageError("--baseline needs at least one --max-drop METRIC=AMOUNT");
    }
    if (!request.baseline_model.empty() && max_drop.empty()) {
        throw UsageError("--baseline-model needs at least one --max-drop METRIC=AMOUNT");
    }
    Ports ports = b.ports();
    std::string baseline_run = request.baseline.empty() ? "" : resolve_run(ports, request.baseline);
    // Read now, before any step: this run's own model may move the alias when it ends.
    std::optional<RegistryBaseline> baseline_model;
    if (!request.baseline_model.empty()) {
        baseline_model = fetch_registry_baseline(request.tracking, request.baseline_model);
    }
    // Reports are written after the run: refuse a folder that does not exist now.
    for (const std::string& out : {request.junit, request.summary_md}) {
        if (out.empty()) {
            continue;
        }
        std::filesystem::path parent = std::filesystem::absolute(out).parent_path();
        if (!std::filesystem::is_directory(parent)) {
            throw UsageError("cannot write " + out + ": folder " + parent.string() + " does not exist");
        }
    }

    if (request.queue.empty() && !request.options.resume_run.empty() && !request.options.dry_run) {
        refuse_local_resume_of_remote_run(b, resolve_run(ports, request.options.resume_run));
    }
    PipelineJobResult result;
    // The data each step names, header only, before anything is written (app/data_preflight.hpp):
    // here after the engine's param checks; before the datasets an agent run makes.
    const DatasetFolder datasets = [&](const std::string& id) { return b.inputs->fetch_dataset(id); };
    request.options.preflight = [&](const PipelineSpec& spec) {
        check_pipeline_data(spec, request.options.templates_dir, datasets);
    };
    if (!request.controller_queue.empty()) {
        if (request.queue.empty() || request.file.empty() || request.options.dry_run
            || !request.options.resume_run.empty() || !request.junit.empty() || !request.summary_md.empty()
            || !request.baseline.empty() || !request.baseline_model.empty()) {
            throw UsageError("pipeline run --controller-queue needs FILE and --queue, and takes no --dry-run, "
                             "--resume, --junit, --summary-md or baseline (the controller's files stay on its agent)");
        }
    }
    std::optional<QueueStepRunner> remote;
    if (!request.queue.empty()) {
        std::vector<std::string> sets;
        request.options.preflight(spec_as_run(b, request, sets));
        preflight_remote_run(b, request);
        if (!request.controller_queue.empty()) {
            result.controller_task = enqueue_controller(b, request).id;
            return result;
        }
        if (!request.options.dry_run) {
            remote.emplace(*ports.queue, *ports.store, QueueRunnerOptions{request.queue, request.priority});
            request.options.runner = &*remote;
            request.options.adopt_in_flight = true;
        }
    }
    result.run = run_pipeline(ports, request.file, request.options);
    remote.reset(); // every step ended: the waiter stops
    if (request.options.dry_run) {
        // Nothing ran and nothing was written: the record shows what would run; no gates.
        result.exit_status = 0;
        return result;
    }
    gates.insert(gates.end(), result.run.gates.begin(), result.run.gates.end()); // the file's gates:
    // The record the run wrote at its end is the truth now: no re-read of its tasks.
    Json run = result.run.record.is_object() ? result.run.record : load_run(ports, result.run.run_id);
    result.leaderboard = run_leaderboard(b, run);
    result.gates = check_gates(result.leaderboard, gates, request.gate_each);
    if (!baseline_run.empty()) {
        std::vector<GateResult> drops = check_baseline(
            result.leaderboard, run_leaderboard(b, load_run(ports, baseline_run)), baseline_run, max_drop);
        result.gates.insert(result.gates.end(), drops.begin(), drops.end());
    }
    if (baseline_model) {
        std::vector<GateResult> drops = check_baseline(result.leaderboard, baseline_model->leaderboard,
                                                       baseline_model->label, max_drop);
        result.gates.insert(result.gates.end(), drops.begin(), drops.end());
    }
    result.gates_passed = std::all_of(result.gates.begin(), result.gates.end(),
                                      [](const GateResult& g) { return g.passed; });
    if (!request.junit.empty()) {
        write_junit(request.junit, *b.store, run, result.gates);
    }
    if (!request.summary_md.empty()) {
        write_summary_markdown(request.summary_md, run, result.leaderboard, result.gates);
    }
    const std::string& status = result.run.status;
    result.exit_status = status == "aborted" ? 130 : status == "completed" && result.gates_passed ? 0 : 1;
    return result;
}

} // namespace mlrun
