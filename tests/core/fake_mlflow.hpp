#pragma once
// A strict fake MLflow 2.10.2 tracking server for the tests: a real HTTP server
// (cpp-httplib) on 127.0.0.1 at a free port, in memory, that answers as the recorded
// server in shared/mlflow-contract/ does: string ids, integer ms times, the log-batch
// limits with their recorded 400 messages, wrong-typed fields silently dropped (and
// noted in violations()), HTML for unknown routes and wrong methods, exact metric
// re-sends deduplicated, runs/create and model-versions/create not idempotent.
// It can be told to fail: status answers (500, 429 + Retry-After), delays, dropped
// connections, and "store, then lose the answer".
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mlrun::test {

struct FakePoint {
    double value = 0;
    std::int64_t timestamp = 0;
    std::int64_t step = 0;
};

struct FakeRun {
    std::string run_id;
    std::string experiment_id;
    std::string run_name;
    std::string user_id;
    std::string status = "RUNNING";
    std::string lifecycle_stage = "active";
    std::int64_t start_time = 0;
    std::int64_t end_time = 0;
    std::vector<std::pair<std::string, std::string>> tags;
    std::vector<std::pair<std::string, std::string>> params;
    std::map<std::string, std::vector<FakePoint>> metrics; // every point, in arrival order

    // The tag's value, or "" when absent.
    std::string tag(const std::string& key) const;
    std::string param(const std::string& key) const;
};

struct FakeVersion {
    std::string name;
    std::string version;
    std::string source;
    std::string run_id;
    std::vector<std::pair<std::string, std::string>> tags;
};

// An artifact PUT whose body did not arrive whole (the client died or cut it): the real
// server (werkzeug reading a Content-Length body) raises and keeps no file; so does the fake.
struct FakePartialUpload {
    std::string path; // the request path
    std::size_t received = 0;
    std::size_t expected = 0; // Content-Length (0 when chunked)
};

// A port on 127.0.0.1 where nothing listens (bound, then closed): "server down".
int free_port();

class FakeMlflow {
public:
    // Listening when constructed; stopped (and joined) when destroyed.
    FakeMlflow();
    ~FakeMlflow();
    FakeMlflow(const FakeMlflow&) = delete;
    FakeMlflow& operator=(const FakeMlflow&) = delete;

    int port() const;
    std::string url() const; // "http://127.0.0.1:<port>"

    // Faults, for requests whose path or body contains path_part ("" = every API request),
    // the next n of them (a retry is a request too):
    // answer `status` without acting (500 INTERNAL_ERROR JSON; 429 with Retry-After).
    void fail_next(int n, int status, const std::string& path_part = "");
    // close the connection mid-answer without acting.
    void drop_next(int n, const std::string& path_part = "");
    // act (store) and then close the connection instead of answering.
    void lose_answer_next(int n, const std::string& path_part = "");
    void set_retry_after(int seconds);
    void set_delay_ms(int ms); // before every API answer
    // Auth as a proxy in front of MLflow would do it: 401 unless the header matches.
    void require_bearer(const std::string& token);
    void require_basic(const std::string& user, const std::string& password);
    // Every path answers an HTML page: some web server, not MLflow.
    void set_html_mode(bool on);
    // Every API request answers 403 (an auth proxy that knows the caller but refuses it).
    void set_forbidden(bool on);
    // Artifact PUT bodies are read in chunks, sleeping this long after each (a slow link),
    // so that a test can kill the client mid-upload.
    void set_upload_delay_ms(int ms);
    // runs/log-batch answers {} at once without reading or storing the batch (benchmarks:
    // what the client costs, without the fake's own JSON parsing).
    void set_ack_only(bool on);

    // State, copied under the lock.
    std::vector<FakeRun> runs() const;
    std::optional<FakeRun> run(const std::string& run_id) const;
    std::vector<FakeRun> runs_tagged(const std::string& key, const std::string& value) const;
    std::vector<std::string> experiment_names() const;
    std::vector<FakeVersion> versions(const std::string& model) const;
    std::string alias(const std::string& model, const std::string& alias) const; // version or ""
    // Artifacts of a run: path (relative to its artifact root) -> bytes.
    std::map<std::string, std::string> artifacts(const std::string& run_id) const;
    // Uploads cut before their end (never stored), in arrival order.
    std::vector<FakePartialUpload> partial_uploads() const;
    // Bytes received so far of artifact PUTs in progress whose path contains path_part.
    std::size_t upload_bytes_in_progress(const std::string& path_part = "") const;
    // Requests whose path contains path_part ("" = all), faulty ones included.
    int count(const std::string& path_part = "") const;
    // Requests that broke a rule our client must keep (a field of the wrong type, a
    // missing start_time or timestamp, ...): the real server drops such data silently.
    std::vector<std::string> violations() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace mlrun::test
