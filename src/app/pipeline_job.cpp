#include "app/pipeline_job.hpp"

#include "app/ci_reports.hpp"
#include "app/sync.hpp"
#include "app/wiring.hpp"
#include "core/error.hpp"
#include "core/util.hpp"
#include "ports/inputs.hpp"
#include "ports/task_store.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>

namespace mlrun {

Json run_leaderboard(Backends& b, const Json& run)
{
    for (const Json& n : run["nodes"]) {
        std::string id = n.value("task_id", "");
        if (id.empty() || (n["state"] != "completed" && n["state"] != "cached")) {
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

PipelineJobResult run_pipeline_job(Backends& b, PipelineJobRequest request)
{
    if (!request.queue.empty()) {
        throw UsageError("pipeline run --queue: running steps on agents is not implemented yet; run without "
                         "--queue to run the pipeline here");
    }
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

    PipelineJobResult result;
    result.run = run_pipeline(ports, request.file, request.options);
    if (request.options.dry_run) {
        // Nothing ran and nothing was written: the record shows what would run; no gates.
        result.exit_status = 0;
        return result;
    }
    gates.insert(gates.end(), result.run.gates.begin(), result.run.gates.end()); // the file's gates:
    Json run = load_run(ports, result.run.run_id);
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
