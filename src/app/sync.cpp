#include "app/sync.hpp"

#include "app/adapter_plugin.hpp"
#include "app/mlflow_plugin.hpp"
#include "app/sync_cursor.hpp"

#include <set>

namespace mlrun {

using namespace sync_detail;

namespace {

MirrorState state_of(const std::optional<Json>& cursor)
{
    MirrorState s;
    if (!cursor || !cursor->is_object()) {
        return s;
    }
    s.tracked = true;
    s.server = display_server(str_of(*cursor, "server"));
    s.mlflow_run_id = str_of(*cursor, "run_id");
    if (cursor->value("needs_sync", false)) {
        const std::string error = str_of(*cursor, "error");
        s.behind = error.empty() ? "a send failed" : error;
    } else if (s.mlflow_run_id.empty()) {
        s.behind = "no MLflow run yet";
    }
    return s;
}

void add_reason(MirrorState& s, const std::string& why)
{
    if (s.behind.empty()) {
        s.behind = why;
    }
}

} // namespace

const MlflowEntry& mlflow_entry()
{
    static const MlflowEntry& k_entry = adapter_entry<MlflowEntry>(
        {"libmlrun_mlflow.so", "mlrun_mlflow_entry", "MLflow"});
    return k_entry;
}

bool is_mlflow_uri(const std::string& uri)
{
    return uri.rfind("http://", 0) == 0 || uri.rfind("https://", 0) == 0;
}

std::unique_ptr<ResultSink> open_mlflow_mirror(const std::string& uri, TaskStore& store)
{
    return mlflow_entry().open_mirror(uri, store);
}

SyncResult sync_to_mlflow(Backends& b, const SyncRequest& request)
{
    return mlflow_entry().sync(b, request);
}

RegistryBaseline fetch_registry_baseline(const std::string& tracking_uri, const std::string& ref)
{
    return mlflow_entry().fetch_registry_baseline(tracking_uri, ref);
}

MirrorState task_mirror_state(TaskStore& store, const Task& task)
{
    const std::optional<Json> cursor = store.get_record(k_cursor_kind, task.id);
    MirrorState s = state_of(cursor);
    if (!s.tracked) {
        return s;
    }
    if (!cursor->value("params_sent", false)) {
        add_reason(s, "params not sent");
    }
    const std::int64_t sent = int_of(*cursor, "scalars_sent");
    const std::int64_t stored = static_cast<std::int64_t>(store.read_scalars(task.id).size());
    if (sent < stored) {
        add_reason(s, std::to_string(sent) + " of " + std::to_string(stored) + " scalars sent");
    }
    std::set<std::string> artifacts;
    if (cursor->contains("artifacts_sent") && (*cursor)["artifacts_sent"].is_array()) {
        for (const Json& a : (*cursor)["artifacts_sent"]) {
            if (a.is_string()) {
                artifacts.insert(a.get<std::string>());
            }
        }
    }
    std::size_t missing = 0;
    for (const ArtifactRecord& a : task.artifacts) {
        missing += artifacts.count(a.name) ? 0 : 1;
    }
    if (missing > 0) {
        add_reason(s, std::to_string(missing) + " of " + std::to_string(task.artifacts.size()) + " artifacts not sent");
    }
    const std::string status = mlflow_status(std::string(to_string(task.status)));
    if (!status.empty() && str_of(*cursor, "status_sent") != status) {
        add_reason(s, "final status not sent");
    }
    s.synced = s.behind.empty();
    return s;
}

MirrorState run_mirror_state(TaskStore& store, const Json& run)
{
    MirrorState s = state_of(store.get_record(k_cursor_kind, run_key(run.value("id", ""))));
    if (!s.tracked) {
        return s;
    }
    const std::string status = mlflow_status(run.value("status", ""));
    const std::optional<Json> cursor = store.get_record(k_cursor_kind, run_key(run.value("id", "")));
    if (!status.empty() && str_of(*cursor, "status_sent") != status) {
        add_reason(s, "final status not sent");
    }
    s.synced = s.behind.empty();
    return s;
}

std::string mirror_line(const MirrorState& state)
{
    if (!state.tracked) {
        return "";
    }
    if (state.synced) {
        return "synced to " + state.server + ", run " + state.mlflow_run_id;
    }
    return "not synced to MLflow: " + state.behind;
}

} // namespace mlrun
