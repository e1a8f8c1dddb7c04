#pragma once
// A small HTTP client for a JSON REST server (the MLflow tracking API), on libcurl.
// One handle per client, reused across requests (keep-alive); not thread-safe: the MLflow
// mirror uses it from its one sender thread. Failures are values (HttpError), never
// exceptions, and never contain a credential.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace mlrun::mlflow {

// Where and how to connect. from_env() reads the MLflow client's variables.
struct HttpConfig {
    std::string base_url; // "http://host:port" (a path prefix is kept; no trailing '/')
    std::string token;    // MLFLOW_TRACKING_TOKEN: "Authorization: Bearer <token>"
    std::string username; // MLFLOW_TRACKING_USERNAME / _PASSWORD: basic auth
    std::string password;
    std::string ca_path;       // MLFLOW_TRACKING_SERVER_CERT_PATH: CA bundle for TLS
    bool insecure_tls = false; // MLFLOW_TRACKING_INSECURE_TLS=true: no TLS verification
    long connect_timeout_ms = 5000;
    long total_timeout_ms = 60000; // one attempt, upload included
    int max_attempts = 5;          // tries of one request (1 = no retry)
    long backoff_initial_ms = 200; // first retry delay; doubles per try, with jitter
    long backoff_max_ms = 10000;   // cap of a delay, Retry-After included
    std::string user_agent = "mlrun";

    // base_url plus the variables above from the environment. Throws UsageError for a
    // scheme other than http/https (one line, credentials masked).
    static HttpConfig from_env(std::string base_url);
};

// What went wrong with a request, after retries.
struct HttpError {
    enum class Kind {
        connection, // no answer: refused, unreachable, timed out, dropped (retryable)
        tls,        // certificate or handshake failure (configuration)
        auth,       // 401 / 403 (configuration)
        not_mlflow, // the server answered HTML or non-JSON at an API path (configuration)
        server,     // 5xx or 429 after every retry (retryable)
        client,     // another 4xx: error_code and message say why
        io,         // a local file could not be read
    };
    Kind kind = Kind::connection;
    long status = 0;        // HTTP status, 0 when there was no answer
    std::string error_code; // MLflow's error_code ("RESOURCE_ALREADY_EXISTS"), or ""
    std::string message;    // one line, credentials masked

    // True when the same request may succeed later (connection, server).
    bool retryable() const { return kind == Kind::connection || kind == Kind::server; }
    // True for wrong settings the user must fix (tls, auth, not_mlflow).
    bool configuration() const { return kind == Kind::tls || kind == Kind::auth || kind == Kind::not_mlflow; }
};

// A value or an HttpError.
template <class T>
class Result {
public:
    Result(T value) : m_v(std::move(value)) {}
    Result(HttpError error) : m_v(std::move(error)) {}
    bool ok() const { return m_v.index() == 0; }
    explicit operator bool() const { return ok(); }
    const T& value() const { return std::get<0>(m_v); }
    T& value() { return std::get<0>(m_v); }
    const HttpError& error() const { return std::get<1>(m_v); }

private:
    std::variant<T, HttpError> m_v;
};

// Empty when the call went well.
using HttpOutcome = std::optional<HttpError>;

// A 2xx answer.
struct HttpResponse {
    long status = 0;
    std::string body;
    std::string content_type;
};

// When a request may be retried after it was sent: an idempotent one after any retryable
// failure; a non-idempotent one (runs/create, model-versions/create) only when the server
// surely did not act on it (connection refused, 429), so a lost answer is never re-sent.
enum class Retry { idempotent, unsafe };

class HttpClient {
public:
    explicit HttpClient(HttpConfig config);
    ~HttpClient();
    HttpClient(HttpClient&&) noexcept;
    HttpClient& operator=(HttpClient&&) noexcept;
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // path_and_query is appended to base_url ("/api/2.0/mlflow/runs/get?run_id=…").
    // A 2xx answer that is not JSON at an API path is a not_mlflow error.
    Result<HttpResponse> get(const std::string& path_and_query);
    Result<HttpResponse> post_json(const std::string& path, const std::string& body, Retry retry = Retry::idempotent);
    // Streams the file from disk (never whole in memory), re-read from the start on a retry.
    Result<HttpResponse> put_file(const std::string& path, const std::filesystem::path& file);

    const HttpConfig& config() const;
    // base_url with any user:password@ replaced by ***@ (for messages and logs).
    std::string masked_base_url() const;
    // Requests sent (attempts included), for tests and benchmarks.
    std::uint64_t requests_sent() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Percent-encodes everything but unreserved characters; keep_slash leaves '/' as it is.
std::string url_encode(std::string_view text, bool keep_slash = false);
// url with "user:password@" replaced by "***@".
std::string mask_url(std::string_view url);

} // namespace mlrun::mlflow
