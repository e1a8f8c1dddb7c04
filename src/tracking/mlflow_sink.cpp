#include "tracking/mlflow_sink.hpp"

#include "core/params.hpp"
#include "core/util.hpp"
#include "tracking/mlflow_client.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace mlrun::mlflow {

namespace {

using Clock = std::chrono::steady_clock;

// What the rare events carry; kept out of Event so that a scalars event stays small.
struct EventDetail {
    Json run;
    Task task;
    ArtifactRecord record;
    std::filesystem::path stored;
    ModelRecord model;
};

struct Event {
    enum class Type { run_started, run_ended, task_started, task_ended, scalars, artifact, model };
    Type type = Type::scalars;
    std::string task_id;
    std::vector<Scalar> scalars;
    std::int64_t first_index = 0;   // index of scalars[0] among the task's scalars
    std::unique_ptr<EventDetail> d; // all but scalars
};

// What the sink knows of one task (key = task id) or pipeline run (key = "run:<id>").
struct SyncState {
    std::string experiment_id;
    std::string run_id;
    std::int64_t scalars_seen = 0; // given to the sink
    std::int64_t scalars_sent = 0; // confirmed by the server: a prefix
    std::int64_t skip = 0;         // from a restored cursor: already on the server
    std::int64_t broken_at = -1;   // first scalar index not sent (dropped or failed)
    bool params_sent = false;
    bool values_sent = false;
    std::set<std::string> artifacts_sent;
    std::string status_sent;
    std::map<std::string, std::string> models_sent; // "name@local version" -> MLflow version
    std::string error;                              // why it needs sync

    bool needs_sync() const { return broken_at >= 0 || !error.empty(); }
};

std::string run_key(const std::string& run_id)
{
    return "run:" + run_id;
}

std::string mlflow_status(std::string_view status)
{
    if (status == "completed" || status == "published") {
        return "FINISHED";
    }
    if (status == "failed") {
        return "FAILED";
    }
    if (status == "aborted") {
        return "KILLED";
    }
    return "";
}

std::string metric_key(const Scalar& s)
{
    if (s.series.empty() || s.series == s.title) {
        return sanitize_key(s.title);
    }
    return sanitize_key(s.title + "/" + s.series);
}

void add_tag(std::vector<KeyValue>& tags, std::string key, const std::string& value)
{
    if (!value.empty()) {
        tags.push_back({std::move(key), truncate_value(value, k_max_tag_value)});
    }
}

// The task's environment record as tags: mlrun.env.<dotted key> (strings), and MLflow's
// own mlflow.source.git.commit from its git state. Tags overwrite, so a re-send is harmless.
void environment_tags(const Json& env, std::vector<KeyValue>& tags)
{
    if (!env.is_object() || env.empty()) {
        return;
    }
    const Json flat = flatten(env);
    for (const auto& [k, v] : flat.items()) {
        add_tag(tags, sanitize_key("mlrun.env." + k), v.is_string() ? v.get<std::string>() : dump_json(v));
    }
    if (const Json* commit = get_path(env, "git.commit"); commit && commit->is_string()) {
        add_tag(tags, "mlflow.source.git.commit", commit->get<std::string>());
    }
}

// The primary metric of a recommended model and whether lower is better, from the reason
// the leaderboard gives ("highest roc_auc 0.8712 of 6 models; ..."); nullopt when the
// reason says neither.
std::optional<std::pair<std::string, bool>> primary_of(const ModelRecord& m)
{
    for (const auto& [word, lower] : {std::pair<std::string, bool>{"highest ", false}, {"lowest ", true}}) {
        if (m.reason.rfind(word, 0) == 0) {
            const std::string rest = m.reason.substr(word.size());
            const std::string metric = rest.substr(0, rest.find(' '));
            if (!metric.empty()) {
                return std::make_pair(metric, lower);
            }
        }
    }
    return std::nullopt;
}

} // namespace

bool model_wins(const Json& metrics, const std::string& primary, bool lower_is_better,
                const std::vector<KeyValue>& current_tags)
{
    if (!metrics.is_object() || !metrics.contains(primary) || !metrics[primary].is_number()) {
        return true; // nothing to compare with: the pipeline's recommendation stands
    }
    const std::string key = "mlrun.metric." + sanitize_key(primary);
    for (const KeyValue& tag : current_tags) {
        if (tag.key != key) {
            continue;
        }
        char* end = nullptr;
        const double before = std::strtod(tag.value.c_str(), &end);
        if (end == tag.value.c_str()) {
            return true;
        }
        const double now = metrics[primary].get<double>();
        return lower_is_better ? now < before : now > before;
    }
    return true; // the version holding the alias does not say: replace it
}

struct MlflowSink::Impl {
    MlflowSinkOptions opt;
    MlflowClient client;
    std::string user;
    std::string server; // masked base URL

    mutable std::mutex mu;
    std::condition_variable cv_work;
    std::condition_variable cv_idle;
    std::deque<Event> queue;
    std::size_t queued_scalars = 0;
    bool busy = false;
    bool stopping = false;
    int flushers = 0;
    std::map<std::string, SyncState> states;
    std::map<std::string, std::string> steps; // task id -> its pipeline step, as heard
    std::map<std::string, Json> environments; // task id -> its environment record
    std::function<void(const std::string&, const Json&)> listener;
    std::string fatal;          // a configuration error: nothing is tried any more
    std::string offline_reason; // the last "server unreachable" error
    Clock::time_point offline_until{};

    // Sender thread only.
    std::map<std::string, std::string> experiments; // name -> id
    struct Pending {
        std::string task_id;
        std::int64_t first_index = 0;
        std::vector<MetricPoint> points;
    } pending;

    std::thread thread;

    explicit Impl(MlflowSinkOptions o) : opt(std::move(o)), client(opt.http)
    {
        user = opt.user;
        if (user.empty()) {
            const char* u = std::getenv("USER");
            user = u && *u ? u : "mlrun";
        }
        server = client.http().masked_base_url();
    }

    // ---- enqueue side ----

    Outcome push(Event e)
    {
        {
            std::lock_guard<std::mutex> lk(mu);
            queue.push_back(std::move(e));
        }
        cv_work.notify_one();
        return ok();
    }

    // ---- state helpers (lock held by the caller) ----

    Json cursor_locked(const std::string& key) const
    {
        auto it = states.find(key);
        if (it == states.end()) {
            return nullptr;
        }
        const SyncState& s = it->second;
        Json models = Json::object();
        for (const auto& [k, v] : s.models_sent) {
            models[k] = v;
        }
        return Json{
            {"server", server},
            {"experiment_id", s.experiment_id},
            {"run_id", s.run_id},
            {"params_sent", s.params_sent},
            {"scalars_sent", s.scalars_sent},
            {"values_sent", s.values_sent},
            {"artifacts_sent", Json(std::vector<std::string>(s.artifacts_sent.begin(), s.artifacts_sent.end()))},
            {"status_sent", s.status_sent},
            {"models_sent", models},
            {"needs_sync", s.needs_sync()},
            {"error", s.error}};
    }

    void notify(const std::string& key)
    {
        std::function<void(const std::string&, const Json&)> l;
        Json c;
        {
            std::lock_guard<std::mutex> lk(mu);
            if (!listener) {
                return;
            }
            l = listener;
            c = cursor_locked(key);
        }
        l(key, c);
    }

    Json environment_of(const std::string& task_id) const
    {
        std::lock_guard<std::mutex> lk(mu);
        auto it = environments.find(task_id);
        return it == environments.end() ? Json::object() : it->second;
    }

    // ---- sender side ----

    // Empty when the network may be used; else why not (offline or misconfigured).
    std::string blocked()
    {
        std::lock_guard<std::mutex> lk(mu);
        if (!fatal.empty()) {
            return fatal;
        }
        if (Clock::now() < offline_until) {
            return offline_reason;
        }
        return "";
    }

    void fail(const std::string& key, const std::string& message)
    {
        std::lock_guard<std::mutex> lk(mu);
        SyncState& s = states[key];
        if (s.error.empty()) {
            s.error = message;
        }
    }

    // Records the error on key and, for a server that is down or misconfigured, stops
    // trying for a while (or for good).
    void fail(const std::string& key, const HttpError& e)
    {
        std::lock_guard<std::mutex> lk(mu);
        SyncState& s = states[key];
        if (s.error.empty()) {
            s.error = e.message;
        }
        if (e.configuration()) {
            fatal = e.message;
        } else if (e.retryable()) {
            offline_reason = e.message;
            offline_until = Clock::now() + std::chrono::milliseconds(opt.offline_ms);
        }
    }

    Result<std::string> experiment(const std::string& project)
    {
        const std::string name = project.empty() ? opt.default_experiment : project;
        auto it = experiments.find(name);
        if (it != experiments.end()) {
            return it->second;
        }
        auto r = client.ensure_experiment(name);
        if (r.ok()) {
            experiments[name] = r.value();
        }
        return r;
    }

    // The run tagged key=value, created when there is none. runs/create is not idempotent,
    // so after a create whose outcome is unknown the search runs again before any retry.
    Result<std::string> ensure_run(const std::string& experiment_id, const std::string& key, const std::string& value,
                                   const std::string& name, std::int64_t start_ms, const std::vector<KeyValue>& tags)
    {
        std::optional<HttpError> last;
        for (int attempt = 0; attempt < 3; ++attempt) {
            auto found = client.find_run_by_tag(experiment_id, key, value);
            if (!found.ok()) {
                return found.error();
            }
            if (found.value()) {
                return found.value()->run_id;
            }
            auto created = client.create_run(experiment_id, name, start_ms, tags);
            if (created.ok()) {
                return created.value().run_id;
            }
            if (!created.error().retryable()) {
                return created.error();
            }
            last = created.error();
            std::this_thread::sleep_for(std::chrono::milliseconds(opt.http.backoff_initial_ms << attempt));
        }
        return *last;
    }

    std::string known_run(const std::string& key)
    {
        std::lock_guard<std::mutex> lk(mu);
        auto it = states.find(key);
        return it == states.end() ? std::string() : it->second.run_id;
    }

    void set_run(const std::string& key, const std::string& experiment_id, const std::string& run_id)
    {
        std::lock_guard<std::mutex> lk(mu);
        SyncState& s = states[key];
        s.experiment_id = experiment_id;
        s.run_id = run_id;
    }

    // The MLflow run of the pipeline run record, found or created.
    Result<std::string> pipeline_run(const Json& run, std::string& experiment_id)
    {
        const std::string id = run.value("id", "");
        const std::string key = run_key(id);
        auto exp = experiment(run.value("project", ""));
        if (!exp.ok()) {
            return exp.error();
        }
        experiment_id = exp.value();
        std::string known = known_run(key);
        if (!known.empty()) {
            return known;
        }
        std::vector<KeyValue> tags;
        add_tag(tags, "mlrun.pipeline_run", id);
        add_tag(tags, "mlrun.run_id", id);
        add_tag(tags, "mlrun.kind", "pipeline");
        add_tag(tags, "mlrun.pipeline", run.value("pipeline", ""));
        add_tag(tags, "mlflow.runName", run.value("pipeline", id));
        add_tag(tags, "mlflow.user", user);
        add_tag(tags, "mlflow.source.name", run.value("file", ""));
        add_tag(tags, "mlflow.source.git.commit", run.value("git_commit", ""));
        const std::int64_t start = run.value("started_ms", std::int64_t{0});
        auto r = ensure_run(experiment_id, "mlrun.pipeline_run", id, run.value("pipeline", id),
                            start > 0 ? start : now_ms(), tags);
        if (r.ok()) {
            set_run(key, experiment_id, r.value());
        }
        return r;
    }

    // The MLflow run id of the parent: the parent task's run (search trials), else the
    // pipeline run's; "" when neither exists on the server.
    Result<std::string> parent_of(const Task& t, const std::string& experiment_id)
    {
        // A pipeline step's parent is the step before it in the DAG: it nests under the
        // pipeline run. A search trial (no step of its own, or its parent's) nests under it.
        bool under_parent = !t.parent.empty() && t.step.empty();
        if (!t.parent.empty() && !t.step.empty()) {
            std::lock_guard<std::mutex> lk(mu);
            auto it = steps.find(t.parent);
            under_parent = it != steps.end() && it->second == t.step;
        }
        if (under_parent) {
            std::string known = known_run(t.parent);
            if (!known.empty()) {
                return known;
            }
            auto found = client.find_run_by_tag(experiment_id, "mlrun.task_id", t.parent);
            if (!found.ok()) {
                return found.error();
            }
            if (found.value()) {
                return found.value()->run_id;
            }
        }
        if (!t.run_id.empty()) {
            std::string known = known_run(run_key(t.run_id));
            if (!known.empty()) {
                return known;
            }
            auto found = client.find_run_by_tag(experiment_id, "mlrun.pipeline_run", t.run_id);
            if (!found.ok()) {
                return found.error();
            }
            if (found.value()) {
                return found.value()->run_id;
            }
        }
        return std::string();
    }

    Result<std::string> task_run(const Task& t)
    {
        std::string known = known_run(t.id);
        if (!known.empty()) {
            return known;
        }
        auto exp = experiment(t.project);
        if (!exp.ok()) {
            return exp.error();
        }
        auto parent = parent_of(t, exp.value());
        if (!parent.ok()) {
            return parent.error();
        }
        std::vector<KeyValue> tags;
        add_tag(tags, "mlrun.task_id", t.id);
        add_tag(tags, "mlrun.run_id", t.run_id);
        add_tag(tags, "mlrun.step", t.step);
        add_tag(tags, "mlrun.template", t.template_name);
        add_tag(tags, "mlrun.kind", t.kind);
        add_tag(tags, "mlrun.status", std::string(to_string(t.status)));
        add_tag(tags, "mlflow.runName", t.name.empty() ? t.id : t.name);
        add_tag(tags, "mlflow.user", user);
        add_tag(tags, "mlflow.parentRunId", parent.value());
        std::string labels;
        for (const std::string& tag : t.tags) {
            labels += (labels.empty() ? "" : ",") + tag;
        }
        add_tag(tags, "mlrun.tags", labels);
        const std::int64_t start = t.started_ms ? t.started_ms : (t.created_ms ? t.created_ms : now_ms());
        auto r = ensure_run(exp.value(), "mlrun.task_id", t.id, t.name.empty() ? t.id : t.name, start, tags);
        if (r.ok()) {
            set_run(t.id, exp.value(), r.value());
        }
        return r;
    }

    // Sends the params (once per sink) with the given tags; uploads the full params as
    // mlrun/params.json when a value had to be truncated.
    bool send_params_and_tags(const Task& t, const std::string& run_id, const std::vector<MetricPoint>& metrics,
                              const std::vector<KeyValue>& tags, bool with_values)
    {
        bool params_sent = false;
        std::string experiment_id;
        {
            std::lock_guard<std::mutex> lk(mu);
            params_sent = states[t.id].params_sent;
            experiment_id = states[t.id].experiment_id;
        }
        std::vector<KeyValue> params;
        bool truncated = false;
        const Json redacted = redact_secrets(t.params);
        if (!params_sent) {
            const Json flat = flatten(redacted);
            for (const auto& [k, v] : flat.items()) {
                std::string value = v.is_string() ? v.get<std::string>() : dump_json(v);
                truncated = truncated || value.size() > k_max_param_value;
                params.push_back({sanitize_key(k), truncate_value(value, k_max_param_value)});
            }
        }
        if (auto e = client.log_batch(run_id, metrics, params, tags)) {
            fail(t.id, *e);
            return false;
        }
        {
            std::lock_guard<std::mutex> lk(mu);
            states[t.id].params_sent = true;
            states[t.id].values_sent = states[t.id].values_sent || with_values;
        }
        if (truncated) {
            const auto tmp = std::filesystem::temp_directory_path() / ("mlrun_params_" + new_id() + ".json");
            write_file_atomic(tmp, dump_json(redacted, 2));
            auto e = client.put_artifact(experiment_id, run_id, "mlrun/params.json", tmp);
            std::error_code ec;
            std::filesystem::remove(tmp, ec);
            if (e) {
                fail(t.id, *e);
                return false;
            }
        }
        return true;
    }

    void on_task_started(const Task& t)
    {
        auto run = task_run(t);
        if (!run.ok()) {
            fail(t.id, run.error());
            return;
        }
        std::vector<KeyValue> tags{{"mlrun.status", std::string(to_string(t.status))}};
        environment_tags(environment_of(t.id), tags);
        (void)send_params_and_tags(t, run.value(), {}, tags, false);
    }

    void on_task_ended(const Task& t)
    {
        auto run = task_run(t);
        if (!run.ok()) {
            fail(t.id, run.error());
            return;
        }
        // Values as metrics at step 0, stamped with the task's end: a re-send is then equal
        // to the first and the server keeps one point.
        std::vector<MetricPoint> values;
        const std::int64_t stamp = t.finished_ms ? t.finished_ms : (t.updated_ms ? t.updated_ms : t.started_ms);
        const Json flat = flatten(t.values);
        for (const auto& [k, v] : flat.items()) {
            if (v.is_number() || v.is_boolean()) {
                values.push_back(
                    {sanitize_key(k), v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>(), stamp, 0});
            }
        }
        std::vector<KeyValue> tags{{"mlrun.status", std::string(to_string(t.status))}};
        add_tag(tags, "mlrun.error", t.error);
        add_tag(tags, "mlrun.error_class", t.error_class);
        add_tag(tags, "mlrun.cache_key", t.cache_key);
        environment_tags(environment_of(t.id), tags);
        if (!send_params_and_tags(t, run.value(), values, tags, true)) {
            return;
        }
        const std::string status = mlflow_status(to_string(t.status));
        std::string sent;
        {
            std::lock_guard<std::mutex> lk(mu);
            sent = states[t.id].status_sent;
        }
        if (!status.empty() && sent != status) {
            if (auto e = client.update_run(run.value(), status, stamp > 0 ? stamp : now_ms())) {
                fail(t.id, *e);
                return;
            }
            std::lock_guard<std::mutex> lk(mu);
            states[t.id].status_sent = status;
        }
    }

    void on_run(const Json& run, bool ended)
    {
        const std::string key = run_key(run.value("id", ""));
        std::string experiment_id;
        auto r = pipeline_run(run, experiment_id);
        if (!r.ok()) {
            fail(key, r.error());
            return;
        }
        const std::string local = run.value("status", "");
        if (auto e = client.log_batch(r.value(), {}, {}, {{"mlrun.status", local}})) {
            fail(key, *e);
            return;
        }
        const std::string status = mlflow_status(local);
        if (ended && !status.empty()) {
            std::int64_t end = run.contains("finished_ms") && run["finished_ms"].is_number_integer()
                                   ? run["finished_ms"].get<std::int64_t>()
                                   : now_ms();
            if (auto e = client.update_run(r.value(), status, end)) {
                fail(key, *e);
                return;
            }
            std::lock_guard<std::mutex> lk(mu);
            states[key].status_sent = status;
        }
    }

    void on_artifact(const std::string& task_id, const ArtifactRecord& record, const std::filesystem::path& stored)
    {
        std::string run_id, experiment_id;
        {
            std::lock_guard<std::mutex> lk(mu);
            SyncState& s = states[task_id];
            if (s.artifacts_sent.count(record.name)) {
                return;
            }
            run_id = s.run_id;
            experiment_id = s.experiment_id;
        }
        if (run_id.empty()) {
            fail(task_id, "artifact " + record.name + " not sent: the task's MLflow run is not known");
            return;
        }
        std::error_code ec;
        if (std::filesystem::is_regular_file(stored, ec)) {
            if (!record.sha256.empty() && sha256_file(stored) != record.sha256) {
                fail(task_id, "artifact " + record.name + " not sent: its file no longer matches the stored sha256");
                return;
            }
            if (auto e = client.put_artifact(experiment_id, run_id, record.name, stored)) {
                fail(task_id, *e);
                return;
            }
        } else if (std::filesystem::is_directory(stored, ec)) {
            std::vector<std::filesystem::path> files;
            for (const auto& entry : std::filesystem::recursive_directory_iterator(stored, ec)) {
                if (entry.is_regular_file()) {
                    files.push_back(entry.path());
                }
            }
            std::sort(files.begin(), files.end());
            for (const auto& f : files) {
                const std::string rel = record.name + "/" + std::filesystem::relative(f, stored).generic_string();
                if (auto e = client.put_artifact(experiment_id, run_id, rel, f)) {
                    fail(task_id, *e);
                    return;
                }
            }
        } else {
            fail(task_id, "artifact " + record.name + " not sent: " + stored.string() + " is missing");
            return;
        }
        std::lock_guard<std::mutex> lk(mu);
        states[task_id].artifacts_sent.insert(record.name);
    }

    void on_model(const ModelRecord& m)
    {
        const std::string key = m.name + "@" + std::to_string(m.version);
        std::string run_id, experiment_id;
        {
            std::lock_guard<std::mutex> lk(mu);
            SyncState& s = states[m.task_id];
            if (s.models_sent.count(key)) {
                return;
            }
            run_id = s.run_id;
            experiment_id = s.experiment_id;
        }
        if (run_id.empty()) {
            fail(m.task_id, "model " + key + " not registered: the training task's MLflow run is not known");
            return;
        }
        if (auto e = client.ensure_registered_model(m.name)) {
            fail(m.task_id, *e);
            return;
        }
        std::vector<KeyValue> tags;
        add_tag(tags, "mlrun.version", std::to_string(m.version));
        add_tag(tags, "mlrun.task_id", m.task_id);
        add_tag(tags, "mlrun.run_id", m.run_id);
        add_tag(tags, "mlrun.source_task", m.source_task);
        add_tag(tags, "mlrun.kind", m.kind);
        add_tag(tags, "mlrun.reason", m.reason);
        add_tag(tags, "mlrun.pipeline_run", m.run_id);
        const auto primary = primary_of(m);
        if (primary) {
            add_tag(tags, "mlrun.primary_metric", primary->first);
            add_tag(tags, "mlrun.higher_is_better", primary->second ? "false" : "true");
        }
        if (m.metrics.is_object()) {
            for (const auto& [k, v] : m.metrics.items()) {
                if (v.is_number()) {
                    add_tag(tags, "mlrun.metric." + sanitize_key(k), dump_json(v));
                }
            }
        }
        const std::string source = "mlflow-artifacts:/" + experiment_id + "/" + run_id + "/artifacts/"
                                   + (m.artifact.empty() ? std::string("model") : m.artifact);
        std::string version;
        // model-versions/create is not idempotent: look up by run id first, and again after
        // a create whose outcome is unknown.
        for (int attempt = 0; attempt < 3 && version.empty(); ++attempt) {
            auto existing = client.versions_of_run(m.name, run_id);
            if (!existing.ok()) {
                fail(m.task_id, existing.error());
                return;
            }
            for (const ModelVersion& v : existing.value()) {
                if (v.source == source && (version.empty() || std::stol(v.version) < std::stol(version))) {
                    version = v.version;
                }
            }
            if (!version.empty()) {
                break;
            }
            auto created = client.create_model_version(m.name, source, run_id, tags);
            if (created.ok()) {
                version = created.value().version;
            } else if (!created.error().retryable()) {
                fail(m.task_id, created.error());
                return;
            } else if (attempt == 2) {
                fail(m.task_id, created.error());
                return;
            }
        }
        if (!opt.alias.empty()) {
            // The alias moves only to a better model than the one holding it (by the primary
            // metric both versions carry as tags): a worse run never takes it.
            auto current = client.get_alias(m.name, opt.alias);
            if (!current.ok()) {
                fail(m.task_id, current.error());
                return;
            }
            const bool wins = !current.value() || !primary
                              || (current.value()->version != version
                                  && model_wins(m.metrics, primary->first, primary->second, current.value()->tags));
            if (wins && (!current.value() || current.value()->version != version)) {
                if (auto e = client.set_alias(m.name, opt.alias, version)) {
                    fail(m.task_id, *e);
                    return;
                }
            }
        }
        std::lock_guard<std::mutex> lk(mu);
        states[m.task_id].models_sent[key] = version;
    }

    // Adds a scalars event to the pending batch (points already on the server skipped,
    // points after a loss dropped); sends whole requests' worth as they fill.
    void add_scalars(Event& e)
    {
        std::int64_t skip = 0, broken_at = -1;
        {
            std::lock_guard<std::mutex> lk(mu);
            SyncState& s = states[e.task_id];
            skip = s.skip;
            broken_at = s.broken_at;
        }
        if (pending.task_id != e.task_id) {
            send_pending(false);
            pending.task_id = e.task_id;
        }
        for (std::size_t i = 0; i < e.scalars.size(); ++i) {
            const std::int64_t index = e.first_index + static_cast<std::int64_t>(i);
            if (index < skip || (broken_at >= 0 && index >= broken_at)) {
                continue;
            }
            if (pending.points.empty()) {
                pending.first_index = index;
            }
            const Scalar& s = e.scalars[i];
            pending.points.push_back({metric_key(s), s.value, s.timestamp_ms, s.iteration});
        }
        if (pending.points.size() >= k_max_batch_metrics) {
            send_pending(true);
        }
    }

    // Sends the pending points (whole requests only when whole_only), advancing the
    // task's cursor by what the server confirmed.
    void send_pending(bool whole_only)
    {
        if (pending.points.empty()) {
            return;
        }
        const std::string task_id = pending.task_id;
        std::size_t count = pending.points.size();
        if (whole_only) {
            count -= count % k_max_batch_metrics;
        }
        if (count == 0) {
            return;
        }
        std::vector<MetricPoint> points(pending.points.begin(), pending.points.begin() + static_cast<long>(count));
        pending.points.erase(pending.points.begin(), pending.points.begin() + static_cast<long>(count));
        const std::int64_t first = pending.first_index;
        pending.first_index += static_cast<std::int64_t>(count);

        auto mark_broken = [&](std::int64_t at, const std::string& why) {
            std::lock_guard<std::mutex> lk(mu);
            SyncState& s = states[task_id];
            if (s.broken_at < 0 || at < s.broken_at) {
                s.broken_at = at;
            }
            if (s.error.empty()) {
                s.error = why;
            }
        };
        std::string why = blocked();
        const std::string run_id = known_run(task_id);
        if (why.empty() && run_id.empty()) {
            why = "scalars not sent: the task's MLflow run is not known";
        }
        if (!why.empty()) {
            mark_broken(first, why);
            pending.points.clear();
        } else {
            std::size_t done = 0;
            auto e = client.log_batch(run_id, points, {}, {}, &done);
            const std::size_t arrived = MlflowClient::metrics_in_requests(points.size(), 0, 0, done);
            {
                std::lock_guard<std::mutex> lk(mu);
                SyncState& s = states[task_id];
                if (first <= s.scalars_sent) {
                    s.scalars_sent = std::max(s.scalars_sent, first + static_cast<std::int64_t>(arrived));
                }
            }
            if (e) {
                fail(task_id, *e);
                mark_broken(first + static_cast<std::int64_t>(arrived), e->message);
                pending.points.clear();
            }
        }
        notify(task_id);
    }

    void handle(Event& e)
    {
        if (e.type == Event::Type::scalars) {
            add_scalars(e);
            return;
        }
        send_pending(false);
        const std::string key = e.type == Event::Type::run_started || e.type == Event::Type::run_ended
                                    ? run_key(e.d->run.value("id", ""))
                                : e.type == Event::Type::task_started || e.type == Event::Type::task_ended
                                    ? e.d->task.id
                                : e.type == Event::Type::model ? e.d->model.task_id
                                                               : e.task_id;
        const std::string why = blocked();
        if (!why.empty()) {
            fail(key, why);
            notify(key);
            return;
        }
        switch (e.type) {
        case Event::Type::run_started: on_run(e.d->run, false); break;
        case Event::Type::run_ended: on_run(e.d->run, true); break;
        case Event::Type::task_started: on_task_started(e.d->task); break;
        case Event::Type::task_ended: on_task_ended(e.d->task); break;
        case Event::Type::artifact: on_artifact(e.task_id, e.d->record, e.d->stored); break;
        case Event::Type::model: on_model(e.d->model); break;
        case Event::Type::scalars: break;
        }
        notify(key);
    }

    void loop()
    {
        std::unique_lock<std::mutex> lk(mu);
        while (true) {
            if (queue.empty() && pending.points.empty()) {
                busy = false;
                cv_idle.notify_all();
                if (stopping) {
                    return;
                }
                cv_work.wait(lk, [&] { return !queue.empty() || stopping; });
                continue;
            }
            if (!queue.empty()) {
                std::deque<Event> batch;
                batch.swap(queue);
                queued_scalars = 0;
                busy = true;
                lk.unlock();
                for (Event& e : batch) {
                    // The sender thread: an exception escaping it would end the process.
                    try {
                        handle(e);
                    } catch (const std::exception& ex) {
                        fail(e.task_id, std::string("mirror sender: ") + ex.what());
                    } catch (...) {
                        fail(e.task_id, "mirror sender: an exception of an unknown type");
                    }
                }
                lk.lock();
                continue;
            }
            if (!pending.points.empty()) {
                if (!stopping && flushers == 0) {
                    // Linger: a partial batch waits a little for more points.
                    cv_work.wait_for(lk, std::chrono::milliseconds(opt.linger_ms),
                                     [&] { return !queue.empty() || stopping || flushers > 0; });
                    if (!queue.empty()) {
                        continue;
                    }
                }
                lk.unlock();
                try {
                    send_pending(false);
                } catch (const std::exception& ex) {
                    fail(pending.task_id, std::string("mirror sender: ") + ex.what());
                    pending.points.clear(); // kept in the local store; `mlrun sync` sends them later
                }
                lk.lock();
            }
        }
    }
};

MlflowSink::MlflowSink(MlflowSinkOptions options) : m_impl(std::make_unique<Impl>(std::move(options)))
{
    m_impl->thread = std::thread([this] { m_impl->loop(); });
}

MlflowSink::~MlflowSink()
{
    {
        std::lock_guard<std::mutex> lk(m_impl->mu);
        m_impl->stopping = true;
    }
    m_impl->cv_work.notify_all();
    if (m_impl->thread.joinable()) {
        m_impl->thread.join();
    }
}

Outcome MlflowSink::run_started(const Json& run)
{
    Event e;
    e.d = std::make_unique<EventDetail>();
    e.type = Event::Type::run_started;
    e.d->run = run;
    return m_impl->push(std::move(e));
}

Outcome MlflowSink::run_ended(const Json& run)
{
    Event e;
    e.d = std::make_unique<EventDetail>();
    e.type = Event::Type::run_ended;
    e.d->run = run;
    return m_impl->push(std::move(e));
}

Outcome MlflowSink::task_started(const Task& task)
{
    {
        std::lock_guard<std::mutex> lk(m_impl->mu);
        m_impl->steps[task.id] = task.step;
    }
    Event e;
    e.d = std::make_unique<EventDetail>();
    e.type = Event::Type::task_started;
    e.d->task = task;
    return m_impl->push(std::move(e));
}

Outcome MlflowSink::task_ended(const Task& task)
{
    {
        std::lock_guard<std::mutex> lk(m_impl->mu);
        m_impl->steps[task.id] = task.step;
    }
    Event e;
    e.d = std::make_unique<EventDetail>();
    e.type = Event::Type::task_ended;
    e.d->task = task;
    return m_impl->push(std::move(e));
}

Outcome MlflowSink::scalars(const std::string& task_id, const std::vector<Scalar>& batch)
{
    if (batch.empty()) {
        return ok();
    }
    Impl& m = *m_impl;
    bool wake = false;
    {
        std::lock_guard<std::mutex> lk(m.mu);
        SyncState& s = m.states[task_id];
        const std::int64_t first = s.scalars_seen;
        s.scalars_seen += static_cast<std::int64_t>(batch.size());
        if (m.queued_scalars + batch.size() > m.opt.queue_capacity) {
            if (s.broken_at < 0 || first < s.broken_at) {
                s.broken_at = first;
            }
            const std::string why = "MLflow mirror queue full: scalars of task " + task_id + " from #"
                                    + std::to_string(first) + " not sent (`mlrun sync` sends them)";
            if (s.error.empty()) {
                s.error = why;
            }
            return failure(why, true);
        }
        // Wake the sender only when it sleeps or a request's worth is waiting: a wake-up per
        // call would cost the training thread a context switch per step.
        wake = !m.busy
               || (m.queued_scalars < k_max_batch_metrics && m.queued_scalars + batch.size() >= k_max_batch_metrics);
        m.queued_scalars += batch.size();
        Event e;
        e.type = Event::Type::scalars;
        e.task_id = task_id;
        e.scalars = batch;
        e.first_index = first;
        m.queue.push_back(std::move(e));
    }
    if (wake) {
        m.cv_work.notify_one();
    }
    return ok();
}

Outcome MlflowSink::artifact(const std::string& task_id, const ArtifactRecord& record,
                             const std::filesystem::path& stored)
{
    Event e;
    e.d = std::make_unique<EventDetail>();
    e.type = Event::Type::artifact;
    e.task_id = task_id;
    e.d->record = record;
    e.d->stored = stored;
    return m_impl->push(std::move(e));
}

Outcome MlflowSink::model_registered(const ModelRecord& record)
{
    Event e;
    e.d = std::make_unique<EventDetail>();
    e.type = Event::Type::model;
    e.d->model = record;
    return m_impl->push(std::move(e));
}

Outcome MlflowSink::flush()
{
    Impl& m = *m_impl;
    std::unique_lock<std::mutex> lk(m.mu);
    ++m.flushers;
    m.cv_work.notify_all();
    m.cv_idle.wait(lk, [&] { return m.queue.empty() && !m.busy; });
    --m.flushers;
    std::size_t count = 0;
    std::string first;
    for (const auto& [key, s] : m.states) {
        if (s.needs_sync()) {
            if (count++ == 0) {
                first = key + ": " + s.error;
            }
        }
    }
    if (count == 0) {
        return ok();
    }
    return failure("MLflow mirror: " + std::to_string(count) + (count == 1 ? " task needs" : " tasks need")
                       + " `mlrun sync` (" + first + ")",
                   m.fatal.empty());
}

Json MlflowSink::task_cursor(const std::string& task_id) const
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    return m_impl->cursor_locked(task_id);
}

Json MlflowSink::run_cursor(const std::string& run_id) const
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    Json c = m_impl->cursor_locked(run_key(run_id));
    if (c.is_null()) {
        return c;
    }
    return Json{{"experiment_id", c["experiment_id"]},
                {"run_id", c["run_id"]},
                {"status_sent", c["status_sent"]},
                {"needs_sync", c["needs_sync"]},
                {"error", c["error"]}};
}

void MlflowSink::restore_cursor(const std::string& task_id, const Json& cursor)
{
    if (!cursor.is_object()) {
        return;
    }
    std::lock_guard<std::mutex> lk(m_impl->mu);
    SyncState& s = m_impl->states[task_id];
    s.experiment_id = cursor.value("experiment_id", "");
    s.run_id = cursor.value("run_id", "");
    s.scalars_sent = cursor.value("scalars_sent", std::int64_t{0});
    s.skip = s.scalars_sent;
    s.params_sent = cursor.value("params_sent", false);
    s.values_sent = cursor.value("values_sent", false);
    s.status_sent = cursor.value("status_sent", "");
    if (cursor.contains("artifacts_sent") && cursor["artifacts_sent"].is_array()) {
        for (const Json& a : cursor["artifacts_sent"]) {
            if (a.is_string()) {
                s.artifacts_sent.insert(a.get<std::string>());
            }
        }
    }
    if (cursor.contains("models_sent") && cursor["models_sent"].is_object()) {
        for (const auto& [k, v] : cursor["models_sent"].items()) {
            if (v.is_string()) {
                s.models_sent[k] = v.get<std::string>();
            }
        }
    }
}

void MlflowSink::set_environment(const std::string& task_id, const Json& environment)
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    m_impl->environments[task_id] = environment;
}

void MlflowSink::on_cursor(std::function<void(const std::string& task_id, const Json& cursor)> listener)
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    m_impl->listener = std::move(listener);
}

std::vector<std::string> MlflowSink::needs_sync() const
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    std::vector<std::string> out;
    for (const auto& [key, s] : m_impl->states) {
        if (s.needs_sync()) {
            out.push_back(key);
        }
    }
    return out;
}

std::uint64_t MlflowSink::requests_sent() const
{
    return m_impl->client.http().requests_sent();
}

} // namespace mlrun::mlflow
