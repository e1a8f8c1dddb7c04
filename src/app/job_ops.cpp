#include "app/job_ops.hpp"

#include "app/dataset_ops.hpp"
#include "app/pipeline_job.hpp"
#include "app/sync.hpp"
#include "app/task_ops.hpp"
#include "app/wiring.hpp"
#include "core/param_schema.hpp"
#include "core/util.hpp"
#include "engine/pipeline_spec.hpp"
#include "engine/run_record.hpp"
#include "ml/leaderboard.hpp"
#include "ports/inputs.hpp"
#include "ports/task_store.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

namespace mlrun {

namespace {

constexpr const char* k_submissions = "server_submissions";
constexpr const char* k_jobs = "server_jobs";
constexpr const char* k_idempotency = "server_idempotency";
constexpr std::size_t k_max_key = 200;

// The params the server sets itself from the submission: never a client's.
const std::vector<std::string>& server_keys()
{
    static const std::vector<std::string> keys{"data.dataset_id", "data.path", "data.target", "inputs", "base_dir"};
    return keys;
}

bool is_server_key(const std::string& key)
{
    for (const std::string& k : server_keys()) {
        if (key == k || key.rfind(k + ".", 0) == 0 || k.rfind(key + ".", 0) == 0) {
            return true;
        }
    }
    return false;
}

// What an exec-kind template runs and the environment it runs with (PATH, LD_PRELOAD...) are
// the admin's, from the template file: a client setting them could run any command on the
// agents. Never editable through the server, whatever the template's `editable` says.
bool is_fixed_key(const Template& tmpl, const std::string& key)
{
    if (tmpl.kind != "exec") {
        return false;
    }
    for (const std::string k : {"command", "env"}) {
        if (key == k || key.rfind(k + ".", 0) == 0 || k.rfind(key + ".", 0) == 0) {
            return true;
        }
    }
    return false;
}

std::string trim(std::string s)
{
    const auto b = s.find_first_not_of(" \t");
    const auto e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool is_pipeline_entry(const std::string& item)
{
    auto ends = [&](const std::string& suffix) {
        return item.size() > suffix.size() && item.compare(item.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    return item.find('/') != std::string::npos || ends(".yaml") || ends(".yml");
}

// The editable keys of a template with their schema rows, each key prefixed.
void add_editable(Challenge& c, const Template& tmpl, const std::string& prefix)
{
    const Json rows = schema_to_json(tmpl.schema, tmpl.params);
    for (const std::string& key : tmpl.editable) {
        if (is_server_key(key) || is_fixed_key(tmpl, key)) {
            continue;
        }
        c.editable.push_back(prefix + key);
    }
    for (const Json& row : rows) {
        const std::string key = row.value("key", "");
        if (is_server_key(key) || is_fixed_key(tmpl, key) || !is_editable(key, tmpl.editable)) {
            continue;
        }
        Json r = row;
        r["key"] = prefix + key;
        c.schema.push_back(r);
    }
}

Challenge pipeline_challenge(const std::string& item, const std::string& templates_dir)
{
    Challenge c;
    c.kind = "pipeline";
    c.pipeline = fs::absolute(item).lexically_normal();
    const PipelineSpec spec = load_pipeline(c.pipeline);
    c.pipeline_text = read_file(c.pipeline);
    c.name = spec.name;
    c.primary_metric = spec.primary_metric;
    c.templates_dir = templates_dir;
    for (std::size_t i : topological_order(spec)) {
        const StepSpec& step = spec.steps[i];
        if (c.data_step.empty() && step.template_name == "preprocess") {
            c.data_step = step.name;
        }
        add_editable(c, find_template(step.template_name, templates_dir), step.name + ".");
    }
    if (c.data_step.empty()) {
        throw UsageError(item + ": no preprocess step to feed submissions to");
    }
    return c;
}

const Template* step_template(const Challenge& c, const std::string& step, Template& holder)
{
    const PipelineSpec spec = load_pipeline(c.pipeline);
    for (const StepSpec& s : spec.steps) {
        if (s.name == step) {
            holder = find_template(s.template_name, c.templates_dir);
            return &holder;
        }
    }
    return nullptr;
}

std::string join(const std::vector<std::string>& items)
{
    std::string out;
    for (const std::string& s : items) {
        out += (out.empty() ? "" : ", ") + s;
    }
    return out;
}

// A --set value as text: strings as they are (typed string params take any text), the
// rest as JSON.
std::string set_text(const Json& v)
{
    return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string job_state(Status s)
{
    switch (s) {
    case Status::draft:
    case Status::queued: return "queued";
    case Status::in_progress: return "running";
    case Status::completed:
    case Status::published: return "completed";
    case Status::failed: return "failed";
    case Status::aborted: return "aborted";
    }
    return "queued";
}

bool ended(Status s)
{
    return s == Status::completed || s == Status::published || s == Status::failed || s == Status::aborted;
}

// The pipeline run id from the first run_started event of the wrapper task's log.
std::string run_id_from_log(const std::string& log)
{
    std::size_t start = 0;
    while (start < log.size()) {
        std::size_t end = log.find('\n', start);
        const std::string line = log.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (line.find("\"run_started\"") != std::string::npos) {
            const Json j = Json::parse(line, nullptr, false);
            if (j.is_object() && j.value("event", "") == "run_started") {
                return j.value("run_id", "");
            }
        }
        if (end == std::string::npos) {
            break;
        }
        start = end + 1;
    }
    return "";
}

// The job's run id: from its record, else its log (then kept on the record).
std::string job_run_id(Backends& b, const Json& job)
{
    std::string run_id = job.value("run_id", "");
    if (!run_id.empty() || job.value("kind", "") != "pipeline") {
        return run_id;
    }
    const std::string task_id = job.value("task_id", "");
    run_id = run_id_from_log(b.store->read_log(task_id));
    if (!run_id.empty()) {
        b.store->update_record(k_jobs, job.value("id", ""), [&](Json& r) {
            if (r.is_object()) {
                r["run_id"] = run_id;
            }
        });
    }
    return run_id;
}

Json task_leaderboard(Backends& b, const Task& t)
{
    if (t.kind != "summary" || !ended(t.status)) {
        return Json();
    }
    try {
        Json lb = Json::parse(read_file(b.inputs->fetch_artifact(t.id, "leaderboard.json")), nullptr, false);
        return lb.is_discarded() ? Json() : lb;
    } catch (const std::exception&) {
        return Json();
    }
}

Json mlflow_entry(const MirrorState& m, const std::string& task_id, const std::string& step,
                  const std::string& tracking)
{
    return Json{{"task_id", task_id},
                {"step", step},
                {"run_id", m.mlflow_run_id},
                {"synced", m.synced},
                {"url", tracking + "/#/runs/" + m.mlflow_run_id}};
}

// The job's leaderboard and the ids of the tasks it ran (pipeline nodes, or the one task).
struct JobView {
    Json leaderboard;
    Json run; // the pipeline run record, or null
};

JobView view_job(Backends& b, const Json& job, const Task& t)
{
    JobView v;
    if (job.value("kind", "") == "pipeline") {
        const std::string run_id = job_run_id(b, job);
        if (!run_id.empty() && b.store->get_record("runs", run_id)) {
            v.run = load_run(b.ports(), run_id);
            v.leaderboard = run_leaderboard(b, v.run);
        }
    } else {
        v.leaderboard = task_leaderboard(b, t);
    }
    return v;
}

} // namespace

std::vector<Challenge> load_challenges(const std::string& allow_list, const std::string& templates_dir)
{
    std::vector<Challenge> out;
    std::set<std::string> seen;
    std::size_t start = 0;
    while (start <= allow_list.size()) {
        std::size_t comma = allow_list.find(',', start);
        const std::string item = trim(
            allow_list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        start = comma == std::string::npos ? allow_list.size() + 1 : comma + 1;
        if (item.empty()) {
            continue;
        }
        Challenge c;
        if (is_pipeline_entry(item)) {
            c = pipeline_challenge(item, templates_dir);
        } else {
            c.kind = "task";
            c.tmpl = find_template(item, templates_dir);
            c.name = c.tmpl.name;
            c.primary_metric = "roc_auc";
            c.templates_dir = templates_dir;
            add_editable(c, c.tmpl, "");
        }
        if (!seen.insert(c.name).second) {
            throw UsageError("--templates: \"" + c.name + "\" is given twice");
        }
        out.push_back(std::move(c));
    }
    if (out.empty()) {
        throw UsageError("--templates: the allow-list is empty");
    }
    return out;
}

const Challenge* find_challenge(const std::vector<Challenge>& challenges, const std::string& name)
{
    for (const Challenge& c : challenges) {
        if (c.name == name) {
            return &c;
        }
    }
    return nullptr;
}

void check_job_params(const Challenge& c, const Json& params)
{
    if (!params.is_object()) {
        throw UsageError("params: expected an object of param: value");
    }
    for (const auto& [key, value] : params.items()) {
        check_utf8(key, "param name");
        if (is_server_key(key) || (c.kind == "pipeline" && is_server_key(key.substr(key.find('.') + 1)))) {
            throw UsageError("param \"" + key + "\" is set by the server from the submission");
        }
        Template holder;
        const std::size_t dot = key.find('.');
        const Template* owner = c.kind == "task" ? &c.tmpl : step_template(c, key.substr(0, dot), holder);
        if (owner
            && is_fixed_key(*owner, c.kind == "task" ? key : key.substr(dot == std::string::npos ? 0 : dot + 1))) {
            throw UsageError("param \"" + key
                             + "\" is fixed by the server's template: what an exec step runs is never "
                               "set by a job");
        }
        if (!is_editable(key, c.editable)) {
            std::string near = nearest(key, c.editable);
            throw UsageError("param \"" + key + "\" is not editable in " + c.name
                             + (near.empty() ? "" : " (did you mean \"" + near + "\"?)")
                             + "; editable: " + join(c.editable));
        }
        if (c.kind == "task") {
            check_param(c.tmpl.schema, key, value, "");
        } else {
            const Template* t = step_template(c, key.substr(0, dot), holder);
            if (t && dot != std::string::npos) {
                check_param(t->schema, key.substr(dot + 1), value, "");
            }
        }
    }
}

Json create_submission(Backends& b, const SubmissionRequest& r)
{
    check_utf8(r.name, "name");
    check_name(r.name, "submission name");
    check_utf8(r.target, "target");
    if (r.target.empty()) {
        throw UsageError("target: the label column is required");
    }
    if (r.task_type != "classification" && r.task_type != "regression") {
        throw UsageError("task_type: expected classification or regression, found \"" + r.task_type + "\"");
    }
    check_name(r.file_name, "file name");
    DatasetRequest d;
    d.name = r.name;
    d.project = "server/" + r.owner;
    d.paths = {r.file};
    const Json dataset = create_dataset(b, d);
    Json rec{{"id", new_id()},           {"owner", r.owner},         {"name", r.name},
             {"target", r.target},       {"task_type", r.task_type}, {"dataset_id", dataset.value("id", "")},
             {"file_name", r.file_name}, {"size", r.size},           {"sha256", r.sha256},
             {"created_ms", now_ms()}};
    b.store->put_record(k_submissions, rec["id"].get<std::string>(), rec);
    return rec;
}

std::optional<Json> find_submission(Backends& b, const std::string& id)
{
    if (id.empty() || id.size() > 64
        || id.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz") != std::string::npos) {
        return std::nullopt;
    }
    return b.store->get_record(k_submissions, id);
}

std::vector<Json> list_submissions(Backends& b, const std::string& owner)
{
    std::vector<Json> out;
    for (const std::string& id : b.store->list_records(k_submissions)) {
        std::optional<Json> r = b.store->get_record(k_submissions, id);
        if (r && (owner.empty() || r->value("owner", "") == owner)) {
            out.push_back(std::move(*r));
        }
    }
    return out;
}

std::vector<std::int64_t> submission_times(Backends& b, const std::string& owner, std::int64_t since_ms)
{
    std::vector<std::int64_t> out;
    for (const Json& r : list_submissions(b, owner)) {
        const std::int64_t t = r.value("created_ms", std::int64_t{0});
        if (t >= since_ms) {
            out.push_back(t);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

JobCreated create_job(Backends& b, const Challenge& c, const JobRequest& r)
{
    const std::optional<Json> sub = find_submission(b, r.submission_id);
    if (!sub || (!r.owner.empty() && sub->value("owner", "") != r.owner)) {
        throw NotFound("unknown submission \"" + r.submission_id + "\"");
    }
    check_job_params(c, r.params);
    require_queue(b, r.queue);
    if (r.idempotency_key.size() > k_max_key) {
        throw UsageError("Idempotency-Key: longer than " + std::to_string(k_max_key) + " bytes");
    }
    check_utf8(r.idempotency_key, "Idempotency-Key");
    const std::string request_hash = sha256_hex(c.name + "\n" + r.submission_id + "\n" + r.params.dump());

    // `id`: the job's (= its task's) id, chosen before the task exists when a key reserves it.
    auto make = [&](const std::string& id) {
        const std::string dataset_id = sub->value("dataset_id", "");
        const std::string file_name = sub->value("file_name", "");
        const std::string target = sub->value("target", "");
        Task t;
        t.id = id;
        t.name = sub->value("name", "submission");
        t.project = "server/" + c.name;
        t.tags = {"server"};
        t.queue = r.queue;
        if (c.kind == "task") {
            t.type = c.tmpl.type;
            t.kind = c.tmpl.kind;
            t.template_name = c.tmpl.name;
            t.params = c.tmpl.params;
            t.editable = c.tmpl.editable;
            for (const auto& [key, value] : r.params.items()) {
                set_path(t.params, key, value);
            }
            if (c.tmpl.schema.find("data.dataset_id")) {
                set_path(t.params, "data.dataset_id", dataset_id);
                set_path(t.params, "data.path", file_name);
                set_path(t.params, "data.target", target);
            } else {
                set_path(t.params, "env.MLRUN_DATASET_ID", dataset_id);
                set_path(t.params, "env.MLRUN_DATASET_FILE", file_name);
                set_path(t.params, "env.MLRUN_TARGET", target);
            }
        } else {
            const Template exec = find_template("exec", c.templates_dir);
            t.type = "controller";
            t.kind = exec.kind;
            t.template_name = exec.name;
            t.params = exec.params;
            t.editable = exec.editable;
            // Whichever agent claims it runs it, on another machine too: that agent's own mlrun
            // ($MLRUN_BIN, set by its task runner) on its store (MLRUN_HOME: its store URI), from
            // the pipeline's text carried in the task and written to the task's scratch folder
            // (the server's path of the file means nothing there); the data is the submission's
            // dataset version in the store, never a file of the server's.
            Json command = Json::array(
                {"sh", "-c",
                 "f=\"$MLRUN_OUTPUT_DIR/pipeline.yaml\"; printf '%s' \"$MLRUN_JOB_PIPELINE\" >\"$f\" || exit 1; "
                 "if [ -n \"$MLRUN_JOB_TEMPLATES\" ]; then "
                 "exec \"${MLRUN_BIN:-mlrun}\" --templates \"$MLRUN_JOB_TEMPLATES\" pipeline run \"$f\" \"$@\"; fi; "
                 "exec \"${MLRUN_BIN:-mlrun}\" pipeline run \"$f\" \"$@\"",
                 "mlrun", "--json"});
            set_path(t.params, "env.MLRUN_JOB_PIPELINE", c.pipeline_text);
            // A custom templates folder must be at the same path on the agents (the built-in
            // templates are the agent's own).
            set_path(t.params, "env.MLRUN_JOB_TEMPLATES",
                     c.templates_dir.empty() ? std::string() : fs::absolute(c.templates_dir).string());
            auto set = [&](const std::string& key, const std::string& value) {
                command.push_back("--set");
                command.push_back(key + "=" + value);
            };
            set(c.data_step + ".data.dataset_id", dataset_id);
            set(c.data_step + ".data.path", file_name);
            set(c.data_step + ".data.target", target);
            for (const auto& [key, value] : r.params.items()) {
                set(key, set_text(value));
            }
            t.params["command"] = command;
        }
        b.store->create(t);
        Json job{{"id", t.id},
                 {"owner", r.owner},
                 {"challenge", c.name},
                 {"kind", c.kind},
                 {"submission_id", r.submission_id},
                 {"task_id", t.id},
                 {"run_id", ""},
                 {"params", r.params},
                 {"queue", r.queue},
                 {"created_ms", now_ms()}};
        b.store->put_record(k_jobs, t.id, job);
        enqueue_task(b, t.id, r.queue, 0);
        return job;
    };

    if (r.idempotency_key.empty()) {
        return JobCreated{make(""), true};
    }
    // The key is reserved with the job id first, then the job made outside that record's
    // transaction (making it writes the store too, and SQLite does not nest transactions).
    const std::string key_id = sha256_hex(r.owner + "\n" + r.idempotency_key);
    std::string reserved;
    std::string existing;
    b.store->update_record(k_idempotency, key_id, [&](Json& rec) {
        if (rec.is_object() && rec.contains("job_id")) {
            if (rec.value("request", "") != request_hash) {
                throw Conflict("Idempotency-Key was used for a different request");
            }
            existing = rec.value("job_id", "");
            return;
        }
        reserved = new_id();
        rec = Json{{"job_id", reserved}, {"request", request_hash}, {"created_ms", now_ms()}};
    });
    if (!reserved.empty()) {
        try {
            return JobCreated{make(reserved), true};
        } catch (...) {
            // Free the key, so that a retry with it makes the job instead of finding none.
            b.store->update_record(k_idempotency, key_id, [&](Json& rec) {
                if (rec.value("job_id", "") == reserved) {
                    rec = Json::object();
                }
            });
            throw;
        }
    }
    // Another request holds the key: its job exists once that request has made it.
    for (int i = 0; i < 250; ++i) {
        if (std::optional<Json> job = find_job(b, existing)) {
            return JobCreated{*job, false};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw NotFound("the job of this Idempotency-Key is gone");
}

std::optional<Json> find_idempotent_job(Backends& b, const std::string& owner, const std::string& key)
{
    if (key.empty()) {
        return std::nullopt;
    }
    const std::optional<Json> rec = b.store->get_record(k_idempotency, sha256_hex(owner + "\n" + key));
    if (!rec || !rec->contains("job_id")) {
        return std::nullopt;
    }
    return find_job(b, rec->value("job_id", ""));
}

std::optional<Json> find_job(Backends& b, const std::string& id)
{
    if (id.empty() || id.size() > 64
        || id.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz") != std::string::npos) {
        return std::nullopt;
    }
    return b.store->get_record(k_jobs, id);
}

std::vector<Json> list_jobs(Backends& b, const std::string& owner)
{
    std::vector<Json> out;
    std::vector<std::string> ids = b.store->list_records(k_jobs);
    std::sort(ids.rbegin(), ids.rend());
    for (const std::string& id : ids) {
        std::optional<Json> r = b.store->get_record(k_jobs, id);
        if (r && (owner.empty() || r->value("owner", "") == owner)) {
            out.push_back(std::move(*r));
        }
    }
    return out;
}

int active_jobs(Backends& b, const std::string& owner)
{
    int n = 0;
    for (const Json& job : list_jobs(b, owner)) {
        if (!job_finished(b, job)) {
            ++n;
        }
    }
    return n;
}

Json job_status(Backends& b, const Json& job)
{
    const std::optional<Task> t = b.store->find(job.value("task_id", ""));
    Json s{{"id", job["id"]},
           {"challenge", job.value("challenge", "")},
           {"submission_id", job.value("submission_id", "")},
           {"created_ms", job.value("created_ms", std::int64_t{0})}};
    if (!t) {
        s["status"] = "failed";
        s["error"] = "the job's task is gone";
        return s;
    }
    s["status"] = job_state(t->status);
    s["started_ms"] = t->started_ms;
    s["finished_ms"] = t->finished_ms;
    s["attempts"] = t->attempts;
    s["error"] = t->error;
    s["run_id"] = job.value("kind", "") == "pipeline" && t->status != Status::queued ? job_run_id(b, job)
                                                                                     : job.value("run_id", "");
    return s;
}

bool job_finished(Backends& b, const Json& job)
{
    const std::optional<Task> t = b.store->find(job.value("task_id", ""));
    return !t || ended(t->status);
}

std::string job_log(Backends& b, const Json& job, std::uint64_t offset)
{
    return b.store->read_log(job.value("task_id", ""), offset);
}

Json job_results(Backends& b, const Json& job, const std::string& tracking)
{
    const Task t = b.store->get(job.value("task_id", ""));
    const JobView v = view_job(b, job, t);
    Json out{{"id", job["id"]}, {"status", job_state(t.status)}, {"run_id", job_run_id(b, job)}};
    out["leaderboard"] = v.leaderboard;
    out["recommended"] = v.leaderboard.is_object() ? v.leaderboard.value("recommended", Json()) : Json();
    Json metrics = Json();
    if (out["recommended"].is_object()) {
        const std::string best = out["recommended"].value("task_id", "");
        for (const Json& row : v.leaderboard.value("models", Json::array())) {
            if (row.value("task_id", "") == best) {
                metrics = row.value("test", Json());
            }
        }
    } else if (ended(t.status)) {
        metrics = t.values;
    }
    out["metrics"] = metrics;
    if (tracking.empty()) {
        out["mlflow"] = Json();
        return out;
    }
    Json runs = Json::array();
    auto add_task = [&](const std::string& id, const std::string& step) {
        const std::optional<Task> task = b.store->find(id);
        if (!task) {
            return;
        }
        const MirrorState m = task_mirror_state(*b.store, *task);
        if (m.tracked && !m.mlflow_run_id.empty()) {
            runs.push_back(mlflow_entry(m, id, step, tracking));
        }
    };
    add_task(t.id, "job");
    if (v.run.is_object()) {
        const MirrorState m = run_mirror_state(*b.store, v.run);
        if (m.tracked && !m.mlflow_run_id.empty()) {
            runs.push_back(mlflow_entry(m, "", "pipeline", tracking));
        }
        for (const Json& n : v.run.value("nodes", Json::array())) {
            if (n.value("task_id", "") != "") {
                add_task(n.value("task_id", ""), n.value("name", n.value("step", "")));
            }
        }
    }
    out["mlflow"] = Json{{"server", tracking}, {"runs", runs}};
    return out;
}

Json abort_job(Backends& b, const Json& job)
{
    const Task t = b.store->get(job.value("task_id", ""));
    if (ended(t.status)) {
        throw Conflict("job " + t.id + " already ended (" + job_state(t.status) + ")");
    }
    abort_task(b, t.id);
    return job_status(b, job);
}

Json challenge_leaderboard(Backends& b, const Challenge& c)
{
    std::vector<ml::ModelResult> results;
    std::map<std::string, Json> job_of; // by job id = ModelResult.name
    std::map<std::string, Json> sub_of;
    for (const Json& job : list_jobs(b, "")) {
        if (job.value("challenge", "") != c.name) {
            continue;
        }
        const std::optional<Task> t = b.store->find(job.value("task_id", ""));
        if (!t || !(t->status == Status::completed || t->status == Status::published)) {
            continue;
        }
        const JobView v = view_job(b, job, *t);
        if (!v.leaderboard.is_object() || !v.leaderboard["recommended"].is_object()) {
            continue;
        }
        const std::string best = v.leaderboard["recommended"].value("task_id", "");
        const std::optional<Task> model = b.store->find(best);
        if (!model) {
            continue;
        }
        ml::ModelResult m;
        m.task_id = best;
        m.name = job.value("id", "");
        m.kind = v.leaderboard["recommended"].value("kind", "");
        m.status = "completed";
        m.values = model->values;
        results.push_back(std::move(m));
        job_of[job.value("id", "")] = job;
    }
    Json rows = Json::array();
    if (!results.empty()) {
        const ml::Leaderboard board = ml::build_leaderboard(results, c.primary_metric);
        std::set<std::string> seen;
        for (const Json& row : board.rows) {
            const Json& job = job_of[row.value("model", "")];
            const std::string sub_id = job.value("submission_id", "");
            if (!seen.insert(sub_id).second) {
                continue;
            }
            if (!sub_of.count(sub_id)) {
                sub_of[sub_id] = find_submission(b, sub_id).value_or(Json::object());
            }
            rows.push_back(Json{{"rank", rows.size() + 1},
                                {"submission_id", sub_id},
                                {"submission", sub_of[sub_id].value("name", "")},
                                {"job_id", job.value("id", "")},
                                {"model", row.value("kind", "")},
                                {"task_id", row.value("task_id", "")},
                                // Ranked as the summary ranks: on validation (or the cv mean),
                                // the test figure beside it, never used to choose.
                                {"score", row.value("score", Json())},
                                {"selection", row.value("selection", Json())},
                                {"test_score", row.value("test_score", Json())},
                                {"test", row.value("test", Json())},
                                {"latency_ms_per_row", row.value("latency_ms_per_row", Json())},
                                {"model_size_bytes", row.value("model_size_bytes", Json())}});
        }
    }
    return Json{{"challenge", c.name}, {"primary_metric", c.primary_metric}, {"rows", rows}};
}

} // namespace mlrun
