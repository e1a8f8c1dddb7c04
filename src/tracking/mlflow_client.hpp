#pragma once
// Typed calls of the MLflow REST API 2.0 that the mirror uses, written against the
// recorded exchanges in shared/mlflow-contract/. Ids are strings, times integer ms.
// Every call returns its failure as an HttpError value; none throws.
#include "tracking/mlflow_http.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlrun::mlflow {

// The server's limits (shared/mlflow-contract/limits.txt).
constexpr std::size_t k_max_batch_metrics = 1000;
constexpr std::size_t k_max_batch_params = 100;
constexpr std::size_t k_max_batch_tags = 100;
constexpr std::size_t k_max_batch_entities = 1000;
constexpr std::size_t k_max_key_length = 250;
constexpr std::size_t k_max_param_value = 6000;
constexpr std::size_t k_max_tag_value = 5000;

// Keys (metric, param and tag names) in the server's character set [A-Za-z0-9_\-. /],
// one to one. A key made only of [A-Za-z0-9_\-./] is sent as it is ("model.lr",
// "loss/train"). Otherwise every byte outside that set, and the space itself, becomes a
// space and two uppercase hex digits ("a:b" -> "a 3Ab", "a b" -> "a 20b", "é" -> " C3 A9");
// in a key that would read as a path with an empty, "." or ".." part ("../x", "a//b") the
// '.' and '/' bytes are escaped too. The space only ever starts an escape, so
// unsanitize_key() restores the original. A result over 250 characters keeps its first
// 231 characters, then " -" (never made by escaping) and 16 hex digits of the original
// key's SHA-256.
std::string sanitize_key(std::string_view key);
// The inverse of sanitize_key for keys that were not shortened.
std::string unsanitize_key(std::string_view key);
// value cut to at most `limit` bytes (whole UTF-8 characters) ending with the marker
// " …[truncated from N bytes]"; unchanged when it fits.
std::string truncate_value(std::string_view value, std::size_t limit);

struct KeyValue {
    std::string key;
    std::string value;
};

struct MetricPoint {
    std::string key;
    double value = 0;
    std::int64_t timestamp_ms = 0;
    std::int64_t step = 0;
};

struct RunInfo {
    std::string run_id;
    std::string experiment_id;
    std::string run_name;
    std::string status;       // RUNNING, FINISHED, FAILED, KILLED, SCHEDULED
    std::string artifact_uri; // mlflow-artifacts:/<experiment>/<run>/artifacts
    std::string lifecycle_stage;
    std::int64_t start_time = 0;
    std::int64_t end_time = 0;
    std::vector<KeyValue> tags;
    std::vector<KeyValue> params;
    std::vector<MetricPoint> metrics; // the latest point per key, as runs/get answers

    // The tag's value, or nullptr.
    const std::string* tag(std::string_view key) const;
};

struct ArtifactEntry {
    std::string path; // relative to the run's artifact root
    bool is_dir = false;
    std::int64_t file_size = 0;
};

struct ModelVersion {
    std::string name;
    std::string version; // "1", "2" (a string, like every id)
    std::string source;
    std::string run_id;
    std::vector<KeyValue> tags;
};

class MlflowClient {
public:
    explicit MlflowClient(HttpConfig config);

    // Checks that the server is an MLflow tracking server we may use (auth included):
    // one experiments/get-by-name request; a JSON 404 is fine. For configuration checks
    // before a run starts (kind tls, auth, not_mlflow, connection).
    HttpOutcome check_server();

    // The id of the experiment with this name; nullopt when there is none.
    Result<std::optional<std::string>> experiment_by_name(const std::string& name);
    // Gets or creates; a concurrent creator (RESOURCE_ALREADY_EXISTS) is fine.
    Result<std::string> ensure_experiment(const std::string& name);

    // runs/create. Not idempotent: it is never re-sent once the server may have acted on
    // it; callers search by tag first (find_run_by_tag) and after an ambiguous failure.
    Result<RunInfo> create_run(const std::string& experiment_id, const std::string& run_name,
                               std::int64_t start_time_ms, const std::vector<KeyValue>& tags);
    // status: RUNNING | FINISHED | FAILED | KILLED; end_time_ms 0 = not sent.
    HttpOutcome update_run(const std::string& run_id, const std::string& status, std::int64_t end_time_ms);
    Result<RunInfo> get_run(const std::string& run_id);
    // Every active run of the experiment matching the filter ("tags.mlrun.task_id = 'x'"),
    // all pages.
    Result<std::vector<RunInfo>> search_runs(const std::string& experiment_id, const std::string& filter);
    // The oldest active run whose tag `key` equals value, or nullopt.
    Result<std::optional<RunInfo>> find_run_by_tag(const std::string& experiment_id, const std::string& key,
                                                   const std::string& value);
    // Every point of one metric (metrics/get-history), for checks and tests.
    Result<std::vector<MetricPoint>> metric_history(const std::string& run_id, const std::string& key);

    // runs/log-batch split into requests within the server's limits: params and tags
    // first (with metrics filling each request up to 1000 entities), then 1000 metrics per
    // request, in order. Keys must already be sanitised, param values at most 6000 and
    // tag values at most 5000 bytes (log_batch does not change them). Stops at the first
    // failing request; *requests_done (when given) counts the requests that succeeded, so a
    // caller knows which prefix of `metrics` arrived: see metrics_in_requests().
    HttpOutcome log_batch(const std::string& run_id, const std::vector<MetricPoint>& metrics,
                          const std::vector<KeyValue>& params, const std::vector<KeyValue>& tags,
                          std::size_t* requests_done = nullptr);
    // How many of the metrics the first `requests` requests of log_batch carried.
    static std::size_t metrics_in_requests(std::size_t metrics, std::size_t params, std::size_t tags,
                                           std::size_t requests);
    HttpOutcome set_tag(const std::string& run_id, const std::string& key, const std::string& value);

    // PUT of a file to <artifact root>/<rel_path> through the proxied artifact API,
    // streamed from disk. Last write wins on the server.
    HttpOutcome put_artifact(const std::string& experiment_id, const std::string& run_id, const std::string& rel_path,
                             const std::filesystem::path& file);
    // The entries directly under rel_path ("" = the root).
    Result<std::vector<ArtifactEntry>> list_artifacts(const std::string& run_id, const std::string& rel_path = "");

    // registered-models/create; an existing model is fine.
    HttpOutcome ensure_registered_model(const std::string& name);
    // model-versions/create. Not idempotent (twice = versions "1" and "2"): look up with
    // versions_of_run() first.
    Result<ModelVersion> create_model_version(const std::string& name, const std::string& source,
                                              const std::string& run_id, const std::vector<KeyValue>& tags);
    // Versions of model `name` made from run_id (model-versions/search, GET).
    Result<std::vector<ModelVersion>> versions_of_run(const std::string& name, const std::string& run_id);
    HttpOutcome set_alias(const std::string& name, const std::string& alias, const std::string& version);
    // The version the alias points at; nullopt for an unknown alias (the server's 400).
    Result<std::optional<ModelVersion>> get_alias(const std::string& name, const std::string& alias);
    HttpOutcome set_model_version_tag(const std::string& name, const std::string& version, const std::string& key,
                                      const std::string& value);

    HttpClient& http() { return m_http; }

private:
    HttpClient m_http;
};

// JSON string literal of text (quotes included), for hand-built request bodies.
std::string json_quote(std::string_view text);

} // namespace mlrun::mlflow
