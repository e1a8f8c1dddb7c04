#include "tracking/mlflow_http.hpp"

#include "core/error.hpp"

#include <curl/curl.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace mlrun::mlflow {

namespace {

std::string env(const char* name)
{
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

bool env_true(const char* name)
{
    std::string v = env(name);
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return v == "1" || v == "true" || v == "yes";
}

bool starts_with(std::string_view s, std::string_view prefix)
{
    return s.substr(0, prefix.size()) == prefix;
}

bool iequals_prefix(std::string_view line, std::string_view name)
{
    if (line.size() < name.size()) {
        return false;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(line[i])) != std::tolower(static_cast<unsigned char>(name[i]))) {
            return false;
        }
    }
    return true;
}

std::string trim(std::string_view s)
{
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
        s.remove_suffix(1);
    }
    return std::string(s);
}

// One line, at most 500 characters: server messages can carry whole SQL statements.
std::string one_line(std::string_view s)
{
    std::string out;
    for (char c : s) {
        if (out.size() >= 500) {
            out += "…";
            break;
        }
        out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    }
    return trim(out);
}

bool looks_like_html(std::string_view content_type, std::string_view body)
{
    if (content_type.find("html") != std::string_view::npos) {
        return true;
    }
    for (char c : body) {
        if (!std::isspace(static_cast<unsigned char>(c))) {
            return c == '<';
        }
    }
    return false;
}

bool looks_like_json(std::string_view body)
{
    for (char c : body) {
        if (!std::isspace(static_cast<unsigned char>(c))) {
            return c == '{' || c == '[';
        }
    }
    return true; // an empty body is fine (some endpoints answer nothing)
}

// The curl handle, owned: move-only, cleaned up once.
class CurlHandle {
public:
    CurlHandle() : m_h(curl_easy_init()) {}
    ~CurlHandle()
    {
        if (m_h) {
            curl_easy_cleanup(m_h);
        }
    }
    CurlHandle(CurlHandle&& o) noexcept : m_h(std::exchange(o.m_h, nullptr)) {}
    CurlHandle& operator=(CurlHandle&& o) noexcept
    {
        std::swap(m_h, o.m_h);
        return *this;
    }
    CurlHandle(const CurlHandle&) = delete;
    CurlHandle& operator=(const CurlHandle&) = delete;
    CURL* get() const { return m_h; }

private:
    CURL* m_h;
};

// A curl header list, owned.
class CurlHeaders {
public:
    CurlHeaders() = default;
    ~CurlHeaders() { curl_slist_free_all(m_list); }
    CurlHeaders(const CurlHeaders&) = delete;
    CurlHeaders& operator=(const CurlHeaders&) = delete;
    void add(const std::string& line) { m_list = curl_slist_append(m_list, line.c_str()); }
    curl_slist* get() const { return m_list; }

private:
    curl_slist* m_list = nullptr;
};

// An open file, closed once.
class File {
public:
    explicit File(const std::filesystem::path& p) : m_f(std::fopen(p.c_str(), "rb")) {}
    ~File()
    {
        if (m_f) {
            std::fclose(m_f);
        }
    }
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    std::FILE* get() const { return m_f; }

private:
    std::FILE* m_f;
};

void global_init()
{
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Attempt {
    CURLcode code = CURLE_OK;
    long status = 0;
    std::string body;
    std::string content_type;
    long retry_after_ms = -1;
    std::string curl_error;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user)
{
    static_cast<Attempt*>(user)->body.append(data, size * n);
    return size * n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user)
{
    auto* a = static_cast<Attempt*>(user);
    std::string_view line(data, size * n);
    if (starts_with(line, "HTTP/")) { // a new response (after 100 Continue): start over
        a->content_type.clear();
        a->retry_after_ms = -1;
    } else if (iequals_prefix(line, "content-type:")) {
        a->content_type = trim(line.substr(13));
    } else if (iequals_prefix(line, "retry-after:")) {
        std::string v = trim(line.substr(12));
        char* end = nullptr;
        long seconds = std::strtol(v.c_str(), &end, 10);
        if (end && *end == '\0' && !v.empty() && seconds >= 0) {
            a->retry_after_ms = seconds * 1000;
        }
    }
    return size * n;
}

std::size_t on_read(char* buffer, std::size_t size, std::size_t n, void* user)
{
    return std::fread(buffer, 1, size * n, static_cast<std::FILE*>(user));
}

bool is_tls_error(CURLcode c)
{
    return c == CURLE_SSL_CONNECT_ERROR || c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CERTPROBLEM
           || c == CURLE_SSL_CIPHER || c == CURLE_SSL_CACERT_BADFILE || c == CURLE_SSL_ENGINE_NOTFOUND
           || c == CURLE_SSL_ISSUER_ERROR || c == CURLE_SSL_CRL_BADFILE || c == CURLE_SSL_PINNEDPUBKEYNOTMATCH
           || c == CURLE_SSL_INVALIDCERTSTATUS;
}

// The request surely never reached the server's application.
bool never_sent(CURLcode c)
{
    return c == CURLE_COULDNT_CONNECT || c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_COULDNT_RESOLVE_PROXY;
}

bool retryable_transport(CURLcode c)
{
    return never_sent(c) || c == CURLE_OPERATION_TIMEDOUT || c == CURLE_SEND_ERROR || c == CURLE_RECV_ERROR
           || c == CURLE_GOT_NOTHING || c == CURLE_PARTIAL_FILE || c == CURLE_HTTP2 || c == CURLE_HTTP2_STREAM;
}

} // namespace

std::string url_encode(std::string_view text, bool keep_slash)
{
    static const char* k_hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += k_hex[c >> 4];
            out += k_hex[c & 15];
        }
    }
    return out;
}

std::string mask_url(std::string_view url)
{
    std::size_t scheme = url.find("://");
    std::size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
    std::size_t end = url.find_first_of("/?#", start);
    std::size_t at = url.rfind('@', end == std::string_view::npos ? url.size() : end);
    if (at == std::string_view::npos || at < start) {
        return std::string(url);
    }
    return std::string(url.substr(0, start)) + "***@" + std::string(url.substr(at + 1));
}

HttpConfig HttpConfig::from_env(std::string base_url)
{
    while (!base_url.empty() && base_url.back() == '/') {
        base_url.pop_back();
    }
    if (!starts_with(base_url, "http://") && !starts_with(base_url, "https://")) {
        throw UsageError("tracking URI '" + mask_url(base_url) + "': the scheme must be http:// or https://");
    }
    HttpConfig c;
    c.base_url = std::move(base_url);
    c.token = env("MLFLOW_TRACKING_TOKEN");
    c.username = env("MLFLOW_TRACKING_USERNAME");
    c.password = env("MLFLOW_TRACKING_PASSWORD");
    c.ca_path = env("MLFLOW_TRACKING_SERVER_CERT_PATH");
    c.insecure_tls = env_true("MLFLOW_TRACKING_INSECURE_TLS");
    return c;
}

struct HttpClient::Impl {
    HttpConfig cfg;
    CurlHandle handle;
    char error_buffer[CURL_ERROR_SIZE] = {};
    std::mt19937_64 rng{std::random_device{}()};
    std::atomic<std::uint64_t> sent{0};

    // Replaces every credential in text by ***.
    std::string mask(std::string text) const
    {
        text = mask_url(text);
        for (const std::string* secret : {&cfg.token, &cfg.password}) {
            if (secret->empty()) {
                continue;
            }
            for (std::size_t p = text.find(*secret); p != std::string::npos; p = text.find(*secret, p)) {
                text.replace(p, secret->size(), "***");
            }
        }
        return text;
    }

    Attempt perform(const char* method, const std::string& path, const std::string* body,
                    const std::filesystem::path* file)
    {
        Attempt a;
        CURL* h = handle.get();
        if (!h) {
            a.code = CURLE_FAILED_INIT;
            a.curl_error = "curl_easy_init failed";
            return a;
        }
        // Reset keeps the live connections and the DNS cache: reuse survives it.
        curl_easy_reset(h);
        error_buffer[0] = '\0';
        const std::string url = cfg.base_url + path;
        curl_easy_setopt(h, CURLOPT_URL, url.c_str());
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, cfg.connect_timeout_ms);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, cfg.total_timeout_ms);
        curl_easy_setopt(h, CURLOPT_USERAGENT, cfg.user_agent.c_str());
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &a);
        if (!cfg.ca_path.empty()) {
            curl_easy_setopt(h, CURLOPT_CAINFO, cfg.ca_path.c_str());
        }
        if (cfg.insecure_tls) {
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        CurlHeaders headers;
        headers.add("Accept: application/json");
        headers.add("Expect:"); // no 100-continue round trip before uploads
        if (!cfg.token.empty()) {
            headers.add("Authorization: Bearer " + cfg.token);
        } else if (!cfg.username.empty()) {
            curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
            curl_easy_setopt(h, CURLOPT_USERNAME, cfg.username.c_str());
            curl_easy_setopt(h, CURLOPT_PASSWORD, cfg.password.c_str());
        }
        std::optional<File> in;
        if (body) {
            headers.add("Content-Type: application/json");
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data());
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
        } else if (file) {
            std::error_code ec;
            const auto size = std::filesystem::file_size(*file, ec);
            in.emplace(*file);
            if (ec || !in->get()) {
                a.code = CURLE_READ_ERROR;
                a.curl_error = "cannot read " + file->string();
                return a;
            }
            headers.add("Content-Type: application/octet-stream");
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(h, CURLOPT_READDATA, in->get());
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
        } else {
            curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        }
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
        ++sent;
        a.code = curl_easy_perform(h);
        if (a.code != CURLE_OK) {
            a.curl_error = error_buffer[0] ? error_buffer : curl_easy_strerror(a.code);
        } else {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.status);
        }
        return a;
    }

    long backoff_ms(int attempt, long retry_after_ms)
    {
        double delay = static_cast<double>(cfg.backoff_initial_ms);
        for (int i = 1; i < attempt && delay < cfg.backoff_max_ms; ++i) {
            delay *= 2;
        }
        delay = std::min(delay, static_cast<double>(cfg.backoff_max_ms));
        // Jitter in [delay/2, delay]: clients that failed together do not retry together.
        std::uniform_real_distribution<double> jitter(0.5, 1.0);
        long ms = static_cast<long>(delay * jitter(rng));
        if (retry_after_ms >= 0) {
            ms = std::min(std::max(ms, retry_after_ms), cfg.backoff_max_ms);
        }
        return ms;
    }

    HttpError error_for(const char* method, const std::string& path, const Attempt& a) const
    {
        const std::string where = std::string("MLflow ") + method + " " + mask(cfg.base_url)
                                  + path.substr(0, path.find('?'));
        HttpError e;
        e.status = a.status;
        if (a.code != CURLE_OK) {
            if (a.code == CURLE_READ_ERROR || a.code == CURLE_ABORTED_BY_CALLBACK) {
                e.kind = HttpError::Kind::io;
            } else if (is_tls_error(a.code)) {
                e.kind = HttpError::Kind::tls;
            } else if (a.code == CURLE_UNSUPPORTED_PROTOCOL || a.code == CURLE_URL_MALFORMAT) {
                e.kind = HttpError::Kind::client;
            } else {
                e.kind = HttpError::Kind::connection;
            }
            std::string hint;
            if (e.kind == HttpError::Kind::tls) {
                hint = " (set MLFLOW_TRACKING_SERVER_CERT_PATH to the server's CA bundle, or "
                       "MLFLOW_TRACKING_INSECURE_TLS=true to skip verification)";
            }
            e.message = mask(where + ": " + one_line(a.curl_error) + hint);
            return e;
        }
        const bool api = starts_with(path, "/api/");
        if (a.status == 401 || a.status == 403) {
            e.kind = HttpError::Kind::auth;
            e.message = where + ": HTTP " + std::to_string(a.status)
                        + (a.status == 401 ? " unauthorized" : " forbidden")
                        + " (check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD)";
            return e;
        }
        if (a.status >= 500 || a.status == 429) {
            e.kind = HttpError::Kind::server;
        } else if (api && (looks_like_html(a.content_type, a.body) || !looks_like_json(a.body))) {
            e.kind = HttpError::Kind::not_mlflow;
            e.message = mask(where + ": not an MLflow tracking server (HTTP " + std::to_string(a.status) + " with "
                             + (a.content_type.empty() ? "a non-JSON body" : a.content_type) + " at an API path)");
            return e;
        } else {
            e.kind = HttpError::Kind::client;
        }
        // MLflow's JSON error: {"error_code": "...", "message": "..."}.
        simdjson::dom::parser parser;
        simdjson::dom::element doc;
        std::string detail;
        if (!parser.parse(a.body).get(doc)) {
            std::string_view code, message;
            if (!doc["error_code"].get_string().get(code)) {
                e.error_code = std::string(code);
            }
            if (!doc["message"].get_string().get(message)) {
                detail = std::string(message);
            }
        }
        if (detail.empty()) {
            detail = looks_like_html(a.content_type, a.body) ? "an HTML error page" : a.body;
        }
        e.message = mask(where + ": HTTP " + std::to_string(a.status) + (e.error_code.empty() ? "" : " " + e.error_code)
                         + ": " + one_line(detail));
        return e;
    }

    Result<HttpResponse> run(const char* method, const std::string& path, const std::string* body,
                             const std::filesystem::path* file, Retry retry)
    {
        for (int attempt = 1;; ++attempt) {
            Attempt a = perform(method, path, body, file);
            if (a.code == CURLE_OK && a.status >= 200 && a.status < 300) {
                if (starts_with(path, "/api/") && !looks_like_json(a.body)) {
                    // A web server that answers every path (HTML 200), not MLflow.
                    HttpError e = error_for(method, path, a);
                    e.kind = HttpError::Kind::not_mlflow;
                    e.message = mask(
                        std::string("MLflow ") + method + " " + cfg.base_url + path.substr(0, path.find('?'))
                        + ": not an MLflow tracking server (HTTP " + std::to_string(a.status) + " with "
                        + (a.content_type.empty() ? "a non-JSON body" : a.content_type) + " at an API path)");
                    return e;
                }
                return HttpResponse{a.status, std::move(a.body), std::move(a.content_type)};
            }
            bool again = false;
            if (a.code != CURLE_OK) {
                again = retry == Retry::idempotent ? retryable_transport(a.code) : never_sent(a.code);
            } else if (a.status == 429) {
                again = true; // the server refused before acting
            } else if (a.status >= 500) {
                again = retry == Retry::idempotent;
            }
            if (!again || attempt >= cfg.max_attempts) {
                return error_for(method, path, a);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms(attempt, a.retry_after_ms)));
        }
    }
};

HttpClient::HttpClient(HttpConfig config) : m_impl(std::make_unique<Impl>())
{
    global_init();
    while (!config.base_url.empty() && config.base_url.back() == '/') {
        config.base_url.pop_back();
    }
    config.max_attempts = std::max(1, config.max_attempts);
    m_impl->cfg = std::move(config);
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

Result<HttpResponse> HttpClient::get(const std::string& path_and_query)
{
    return m_impl->run("GET", path_and_query, nullptr, nullptr, Retry::idempotent);
}

Result<HttpResponse> HttpClient::post_json(const std::string& path, const std::string& body, Retry retry)
{
    return m_impl->run("POST", path, &body, nullptr, retry);
}

Result<HttpResponse> HttpClient::put_file(const std::string& path, const std::filesystem::path& file)
{
    return m_impl->run("PUT", path, nullptr, &file, Retry::idempotent);
}

const HttpConfig& HttpClient::config() const
{
    return m_impl->cfg;
}

std::string HttpClient::masked_base_url() const
{
    return m_impl->mask(m_impl->cfg.base_url);
}

std::uint64_t HttpClient::requests_sent() const
{
    return m_impl->sent.load();
}

} // namespace mlrun::mlflow
