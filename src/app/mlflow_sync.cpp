// The network half of app/sync.hpp, in libmlrun_mlflow.so: the mirror with its cursors in
// the store, `mlrun sync` and the registry baseline (the state readers stay in mlrun_core,
// app/sync.cpp).
#include "app/mlflow_plugin.hpp"

#include "app/sync_cursor.hpp"
#include "app/uri.hpp"
#include "app/wiring.hpp"
#include "core/error.hpp"
#include "engine/environment.hpp"
#include "ports/inputs.hpp"
#include "tracking/mlflow_client.hpp"
#include "tracking/mlflow_sink.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

namespace mlrun::plugin_impl {

using namespace sync_detail;

namespace {

constexpr std::size_t k_replay_batch = 1000; // scalars per sink call during a sync

// The MlflowSink with its cursors kept in the store: saved on every change (from the
// sender thread, so a store failure is only reported), restored once per task or run.
class StoredCursorMirror : public ResultSink {
public:
    StoredCursorMirror(mlflow::MlflowSinkOptions options, TaskStore& store)
        : m_server(mlflow::mask_url(options.http.base_url)),
          m_sink(std::make_unique<mlflow::MlflowSink>(std::move(options))), m_store(store)
    {
        m_sink->on_cursor([this](const std::string& key, const Json& cursor) { save(key, cursor); });
    }
    ~StoredCursorMirror() override
    {
        (void)m_sink->flush();
        m_sink.reset(); // the sender stops before the store reference goes
    }

    Outcome run_started(const Json& run) override
    {
        restore_once(run_key(run.value("id", "")), false);
        return m_sink->run_started(with_git_commit(run));
    }
    Outcome run_ended(const Json& run) override
    {
        restore_once(run_key(run.value("id", "")), false);
        return m_sink->run_ended(with_git_commit(run));
    }
    Outcome task_started(const Task& task) override
    {
        // A task that starts (again: a retry, a reset, a resumed run) keeps its MLflow run but
        // not what an earlier attempt sent: its outputs start over.
        restore_once(task.id, task.status == Status::in_progress);
        if (!task.parent.empty()) {
            restore_once(task.parent, false);
        }
        give_environment(task.id);
        return m_sink->task_started(task);
    }
    Outcome task_ended(const Task& task) override
    {
        restore_once(task.id, false);
        give_environment(task.id);
        pick_up_outside_reports(task);
        return m_sink->task_ended(task);
    }
    Outcome scalars(const std::string& task_id, const std::vector<Scalar>& batch) override
    {
        {
            std::lock_guard<std::mutex> lk(m_mu);
            std::vector<std::uint64_t>& given = m_given[task_id];
            for (const Scalar& s : batch) {
                given.push_back(fingerprint(s));
            }
        }
        return m_sink->scalars(task_id, batch);
    }
    Outcome artifact(const std::string& task_id, const ArtifactRecord& record,
                     const std::filesystem::path& stored) override
    {
        {
            std::lock_guard<std::mutex> lk(m_mu);
            m_given_artifacts[task_id].insert(record.name);
        }
        return m_sink->artifact(task_id, record, stored);
    }
    Outcome model_registered(const ModelRecord& record) override { return m_sink->model_registered(record); }
    Outcome flush() override { return m_sink->flush(); }

    mlflow::MlflowSink& sink() { return *m_sink; }
    // The cursor was made against this mirror's server (or says nothing of it).
    bool same_server(const Json& cursor) const
    {
        const std::string server = str_of(cursor, "server");
        return server.empty() || server == m_server;
    }

    // The stored cursor of key, given to the sink the first time key is seen (a cursor of
    // another server is ignored). restarted: only the MLflow run ids are kept.
    void restore_once(const std::string& key, bool restarted)
    {
        {
            std::lock_guard<std::mutex> lk(m_mu);
            if (!m_restored.insert(key).second) {
                return;
            }
        }
        std::optional<Json> cursor;
        try {
            cursor = m_store.get_record(k_cursor_kind, key);
        } catch (const std::exception&) {
            return; // an unreadable cursor: the sink finds the run by its tags
        }
        if (!cursor || !cursor->is_object() || !same_server(*cursor)) {
            return; // another server's runs mean nothing here: start over
        }
        if (restarted) {
            cursor = Json{{"experiment_id", str_of(*cursor, "experiment_id")}, {"run_id", str_of(*cursor, "run_id")}};
        } else if (str_of(*cursor, "scalars_order") == "mixed") {
            // The sent prefix is in the mirror's order, not the store's: send every point
            // again (the server keeps one of each exact re-send).
            (*cursor)["scalars_sent"] = 0;
            std::lock_guard<std::mutex> lk(m_mu);
            m_mixed.insert(key);
        }
        m_sink->restore_cursor(key, *cursor);
    }

private:
    // Identity of a scalar as stored (title, series, step, value, timestamp), for matching
    // what the mirror was given against what the store holds.
    static std::uint64_t fingerprint(const Scalar& s)
    {
        std::uint64_t bits = 0;
        std::memcpy(&bits, &s.value, sizeof bits);
        std::uint64_t h = std::hash<std::string>{}(s.title) * 0x9E3779B97F4A7C15ULL;
        h ^= std::hash<std::string>{}(s.series) + 0x7F4A7C159E3779B9ULL + (h << 6) + (h >> 2);
        for (std::uint64_t v :
             {static_cast<std::uint64_t>(s.iteration), bits, static_cast<std::uint64_t>(s.timestamp_ms)}) {
            h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
        }
        return h;
    }

    // The run record with "git_commit" of its pipeline file's repository, when it has one.
    static Json with_git_commit(const Json& run)
    {
        const Json git = run_git_state(run);
        if (!git.is_object() || !git.contains("commit")) {
            return run;
        }
        Json out = run;
        out["git_commit"] = git["commit"];
        return out;
    }

    void give_environment(const std::string& task_id)
    {
        Json env = stored_environment(m_store, task_id);
        if (!env.empty()) {
            m_sink->set_environment(task_id, env);
        }
    }

    // What a task's exec children reported with `mlrun log scalar|artifact` went straight to
    // the store, past the recorder: at the task's end, the scalars and artifacts the store
    // holds but the mirror was never given are given now (before the end, so the final
    // status follows them). Their order in the mirror then differs from the store's: the
    // cursor says so ("scalars_order": "mixed") and a later sync re-sends every point.
    void pick_up_outside_reports(const Task& task)
    {
        std::vector<std::uint64_t> given;
        std::set<std::string> given_artifacts;
        {
            std::lock_guard<std::mutex> lk(m_mu);
            given.swap(m_given[task.id]);
            m_given.erase(task.id);
            given_artifacts.swap(m_given_artifacts[task.id]);
            m_given_artifacts.erase(task.id);
        }
        try {
            for (const ArtifactRecord& a : task.artifacts) {
                if (!given_artifacts.count(a.name)) {
                    if (std::optional<std::filesystem::path> path = m_store.artifact_path(task.id, a.name)) {
                        (void)m_sink->artifact(task.id, a, *path);
                    }
                }
            }
            const std::vector<Scalar> stored = m_store.read_scalars(task.id);
            if (stored.size() <= given.size()) {
                return;
            }
            std::sort(given.begin(), given.end());
            std::vector<bool> used(given.size(), false);
            std::vector<Scalar> extra;
            for (const Scalar& s : stored) {
                const std::uint64_t f = fingerprint(s);
                auto it = std::lower_bound(given.begin(), given.end(), f);
                while (it != given.end() && *it == f && used[static_cast<std::size_t>(it - given.begin())]) {
                    ++it;
                }
                if (it != given.end() && *it == f) {
                    used[static_cast<std::size_t>(it - given.begin())] = true;
                } else {
                    extra.push_back(s);
                }
            }
            if (extra.empty()) {
                return;
            }
            {
                std::lock_guard<std::mutex> lk(m_mu);
                m_mixed.insert(task.id);
            }
            for (std::size_t i = 0; i < extra.size(); i += k_replay_batch) {
                const auto end = extra.begin()
                                 + static_cast<std::ptrdiff_t>(std::min(extra.size(), i + k_replay_batch));
                (void)m_sink->scalars(task.id,
                                      std::vector<Scalar>(extra.begin() + static_cast<std::ptrdiff_t>(i), end));
            }
        } catch (const std::exception& e) {
            std::fprintf(stderr, "mlrun: warning: MLflow mirror: cannot read what task %s stored: %s\n",
                         task.id.c_str(), e.what());
        }
    }

    void save(const std::string& key, const Json& cursor_in)
    {
        if (cursor_in.is_null()) {
            return;
        }
        Json cursor = cursor_in;
        {
            std::lock_guard<std::mutex> lk(m_mu);
            if (m_mixed.count(key)) {
                cursor["scalars_order"] = "mixed";
            }
        }
        try {
            m_store.put_record(k_cursor_kind, key, cursor);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "mlrun: warning: MLflow sync cursor of %s not saved: %s\n", key.c_str(), e.what());
        }
    }

    std::string m_server; // masked base URL, as cursors record it
    std::unique_ptr<mlflow::MlflowSink> m_sink;
    TaskStore& m_store;
    std::mutex m_mu;
    std::set<std::string> m_restored;
    std::map<std::string, std::vector<std::uint64_t>> m_given;      // task -> fingerprints of scalars given
    std::map<std::string, std::set<std::string>> m_given_artifacts; // task -> artifact names given
    std::set<std::string> m_mixed; // tasks whose mirror order of scalars is not the store's
};

// Checks the server and builds the mirror (UsageError when the server cannot be used).
std::unique_ptr<StoredCursorMirror> make_mirror(const std::string& uri, TaskStore& store)
{
    mlflow::HttpConfig http = mlflow::HttpConfig::from_env(uri);
    {
        mlflow::HttpConfig quick = http;
        quick.max_attempts = 2; // a configuration check: fail fast when nothing answers
        mlflow::MlflowClient client(quick);
        if (mlflow::HttpOutcome e = client.check_server()) {
            throw UsageError("tracking server " + redact_uri(uri) + ": " + e->message);
        }
    }
    mlflow::MlflowSinkOptions options;
    options.http = std::move(http);
    return std::make_unique<StoredCursorMirror>(std::move(options), store);
}

// A run record by id or unique prefix (UsageError otherwise).
Json find_run(TaskStore& store, const std::string& id)
{
    if (std::optional<Json> run = store.get_record("runs", id)) {
        return *run;
    }
    std::vector<std::string> matches;
    for (const std::string& r : store.list_records("runs")) {
        if (r.rfind(id, 0) == 0) {
            matches.push_back(r);
        }
    }
    if (matches.size() != 1) {
        throw UsageError(matches.empty() ? "unknown pipeline run \"" + id + "\""
                                         : "pipeline run prefix \"" + id + "\" is ambiguous");
    }
    return *store.get_record("runs", matches[0]);
}

} // namespace

std::unique_ptr<ResultSink> open_mlflow_mirror(const std::string& uri, TaskStore& store)
{
    return make_mirror(uri, store);
}

RegistryBaseline fetch_registry_baseline(const std::string& tracking_uri, const std::string& ref)
{
    const std::size_t at = ref.rfind('@');
    if (at == std::string::npos || at == 0 || at + 1 == ref.size()) {
        throw UsageError("--baseline-model \"" + ref + "\": expected NAME@ALIAS, e.g. titanic@recommended");
    }
    const std::string name = ref.substr(0, at);
    const std::string alias = ref.substr(at + 1);
    const std::string uri = resolve_tracking_uri(tracking_uri);
    if (!is_mlflow_uri(uri)) {
        throw UsageError("--baseline-model needs an MLflow server: --tracking http(s)://host:port, "
                         "MLRUN_TRACKING_URI or MLFLOW_TRACKING_URI");
    }
    mlflow::HttpConfig http = mlflow::HttpConfig::from_env(uri);
    http.max_attempts = 2; // a configuration check: fail fast when nothing answers
    mlflow::MlflowClient client(http);
    const std::string where = "--baseline-model " + ref + " on " + display_server(uri) + ": ";
    auto found = client.get_alias(name, alias);
    if (!found.ok()) {
        if (found.error().status == 404) {
            throw UsageError(where + "no registered model named \"" + name + "\"");
        }
        throw UsageError(where + found.error().message);
    }
    if (!found.value()) {
        throw UsageError(where + "model \"" + name + "\" has no alias \"" + alias + "\" (or does not exist)");
    }
    const mlflow::ModelVersion& v = *found.value();
    Json test = Json::object();
    const std::string prefix = "mlrun.metric.";
    for (const mlflow::KeyValue& tag : v.tags) {
        if (tag.key.rfind(prefix, 0) == 0) {
            Json value = Json::parse(tag.value, nullptr, false);
            if (value.is_number()) {
                test[mlflow::unsanitize_key(tag.key.substr(prefix.size()))] = value;
            }
        }
    }
    if (test.empty() && !v.run_id.empty()) {
        // A version registered by another client: its run's test.<metric> values.
        auto run = client.get_run(v.run_id);
        if (run.ok()) {
            for (const mlflow::MetricPoint& m : run.value().metrics) {
                const std::string key = mlflow::unsanitize_key(m.key);
                for (const char* p : {"test.", "test/"}) {
                    if (key.rfind(p, 0) == 0) {
                        test[key.substr(std::strlen(p))] = m.value;
                    }
                }
            }
        }
    }
    RegistryBaseline out;
    out.label = ref + " (version " + v.version + ")";
    const std::string id = "mlflow:" + name + "/" + v.version;
    out.leaderboard = Json{{"recommended", {{"task_id", id}, {"name", ref}}},
                           {"models", Json::array({Json{{"task_id", id}, {"test", test}}})}};
    return out;
}

SyncResult sync_to_mlflow(Backends& b, const SyncRequest& request)
{
    const std::string uri = resolve_tracking_uri(request.tracking);
    if (!is_mlflow_uri(uri)) {
        throw UsageError(uri.empty() ? "mlrun sync needs an MLflow server: --tracking http(s)://host:port, "
                                       "MLRUN_TRACKING_URI or MLFLOW_TRACKING_URI"
                                     : "mlrun sync needs an http(s):// MLflow server, not \"" + redact_uri(uri) + "\"");
    }
    if (!request.run_id.empty() && !request.task_id.empty()) {
        throw UsageError("give --run or --task, not both");
    }
    TaskStore& store = *b.store;

    // What to look at: one task, one run's tasks, or every task.
    std::vector<Task> tasks;
    std::map<std::string, Json> runs; // run id -> record
    if (!request.task_id.empty()) {
        tasks.push_back(store.get(store.resolve(request.task_id)));
    } else if (!request.run_id.empty()) {
        Json run = find_run(store, request.run_id);
        TaskFilter f;
        f.run_id = run.value("id", "");
        tasks = store.list(f);
        runs[f.run_id] = std::move(run);
    } else {
        tasks = store.list(TaskFilter{});
        for (const std::string& id : store.list_records("runs")) {
            if (std::optional<Json> run = store.get_record("runs", id)) {
                runs[id] = std::move(*run);
            }
        }
    }

    SyncResult result;
    result.server = display_server(uri);
    const std::string target = mlflow::mask_url(mlflow::HttpConfig::from_env(uri).base_url);
    auto synced_here = [&](const std::string& key, const MirrorState& s) {
        if (!s.tracked || !s.synced) {
            return false;
        }
        const std::optional<Json> c = store.get_record(k_cursor_kind, key);
        return c && (str_of(*c, "server").empty() || str_of(*c, "server") == target);
    };
    std::vector<Task> behind;
    for (Task& t : tasks) {
        if (!is_final(t.status)) {
            continue; // drafts, queued and running tasks are mirrored when they run
        }
        if (synced_here(t.id, task_mirror_state(store, t))) {
            ++result.up_to_date;
            continue;
        }
        if (!t.run_id.empty() && !runs.count(t.run_id)) {
            if (std::optional<Json> run = store.get_record("runs", t.run_id)) {
                runs[t.run_id] = std::move(*run);
            }
        }
        behind.push_back(std::move(t));
    }
    // A run is fed when one of its tasks is, or when it is behind itself.
    std::set<std::string> task_runs;
    for (const Task& t : behind) {
        task_runs.insert(t.run_id);
    }
    std::vector<Json> fed_runs;
    for (auto& [id, run] : runs) {
        if (task_runs.count(id) || !synced_here(run_key(id), run_mirror_state(store, run))) {
            fed_runs.push_back(run);
        } else {
            ++result.up_to_date;
        }
    }
    if (behind.empty() && fed_runs.empty()) {
        return result;
    }

    std::unique_ptr<StoredCursorMirror> mirror = make_mirror(uri, store);
    mlflow::MlflowSink& sink = mirror->sink();
    std::map<std::string, Json> before; // key -> cursor before the sync
    auto note = [&](const std::string& key) {
        std::optional<Json> c = store.get_record(k_cursor_kind, key);
        before[key] = c ? *c : Json(nullptr);
    };

    std::map<std::string, std::vector<ModelRecord>> models; // training task -> versions
    for (ModelRecord& m : b.inputs->models("")) {
        models[m.task_id].push_back(std::move(m));
    }
    for (const Json& run : fed_runs) {
        note(run_key(run.value("id", "")));
        (void)mirror->run_started(run);
    }
    for (const Task& t : behind) {
        note(t.id);
        mirror->restore_once(t.id, false);
        // Scalars already sent are skipped by the cursor; never more than the store holds.
        (void)mirror->task_started(t);
        const std::vector<Scalar> scalars = store.read_scalars(t.id);
        for (std::size_t i = 0; i < scalars.size(); i += k_replay_batch) {
            const auto end = scalars.begin()
                             + static_cast<std::ptrdiff_t>(std::min(scalars.size(), i + k_replay_batch));
            (void)mirror->scalars(t.id, std::vector<Scalar>(scalars.begin() + static_cast<std::ptrdiff_t>(i), end));
        }
        for (const ArtifactRecord& a : t.artifacts) {
            if (std::optional<std::filesystem::path> path = store.artifact_path(t.id, a.name)) {
                (void)mirror->artifact(t.id, a, *path);
            }
        }
        (void)mirror->task_ended(t);
        for (const ModelRecord& m : models[t.id]) {
            (void)mirror->model_registered(m);
        }
    }
    for (const Json& run : fed_runs) {
        if (!mlflow_status(run.value("status", "")).empty()) {
            (void)mirror->run_ended(run);
        }
    }
    (void)mirror->flush();

    auto line_of = [&](const std::string& key, const std::string& name, const Json& cursor) {
        SyncLine line;
        line.key = key;
        line.name = name;
        if (cursor.is_object()) {
            store.put_record(k_cursor_kind, key, cursor);
        }
        const Json& old = before[key];
        line.synced = cursor.is_object() && !cursor.value("needs_sync", false) && !str_of(cursor, "run_id").empty();
        const std::int64_t scalars = int_of(cursor, "scalars_sent")
                                     - (old.is_object() ? int_of(old, "scalars_sent") : 0);
        const std::size_t artifacts = (cursor.contains("artifacts_sent") ? cursor["artifacts_sent"].size() : 0)
                                      - (old.is_object() && old.contains("artifacts_sent")
                                             ? old["artifacts_sent"].size()
                                             : 0);
        line.sent = scalars > 0 || artifacts > 0 || !old.is_object() || old != cursor;
        if (line.synced) {
            line.detail = "run " + str_of(cursor, "run_id") + ": " + std::to_string(scalars) + " scalars, "
                          + std::to_string(artifacts) + " artifacts sent";
        } else {
            line.detail = "not sent: " + (cursor.is_object() ? str_of(cursor, "error") : std::string("nothing known"));
        }
        return line;
    };
    for (const Json& run : fed_runs) {
        const std::string key = run_key(run.value("id", ""));
        Json cursor = sink.task_cursor(key);
        if (cursor.is_null()) {
            continue;
        }
        SyncLine line = line_of(key, run.value("pipeline", ""), cursor);
        result.exit_status = line.synced ? result.exit_status : 1;
        result.lines.push_back(std::move(line));
    }
    for (const Task& t : behind) {
        SyncLine line = line_of(t.id, t.name, sink.task_cursor(t.id));
        if (line.synced) {
            // Recheck against the store: everything stored is now confirmed.
            const MirrorState s = task_mirror_state(store, t);
            if (!s.synced) {
                line.synced = false;
                line.detail = "not synced: " + s.behind;
            }
        }
        result.exit_status = line.synced ? result.exit_status : 1;
        result.lines.push_back(std::move(line));
    }
    return result;
}

} // namespace mlrun::plugin_impl
