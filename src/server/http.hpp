#pragma once
// The HTTP server as the submission server sees it: our own small request and response
// types and a route table, so cpp-httplib stays inside http_server.cpp (STYLE §10).
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlrun::server {

// A part of a multipart/form-data body, as its headers name it.
struct FormPart {
    std::string name;     // the form field
    std::string filename; // "" for a plain field
    std::string content_type;
};

// Reads a request body as it arrives (never whole in memory).
class BodyReader {
public:
    virtual ~BodyReader() = default;
    virtual bool is_multipart() const = 0;
    // Streams a multipart body: on_part at each part's start, on_data with its bytes; either
    // returning false stops reading (the connection is then closed). False when reading
    // stopped, the body was malformed or the client went away.
    virtual bool read_multipart(const std::function<bool(const FormPart&)>& on_part,
                                const std::function<bool(const char*, std::size_t)>& on_data) = 0;
    // Streams a plain body, with the same contract.
    virtual bool read(const std::function<bool(const char*, std::size_t)>& on_data) = 0;
};

struct HttpRequest {
    std::string method;
    std::string path;
    std::vector<std::string> matches; // the route pattern's capture groups
    std::multimap<std::string, std::string> query;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string remote_addr;
    BodyReader* body = nullptr; // valid during the handler

    // The first header of that name (case-insensitive), or "".
    std::string header(std::string_view name) const;
    // The first query parameter of that name, or "".
    std::string param(const std::string& name) const;
};

// Writes one chunk of a streamed answer; false when the client went away.
using ChunkSink = std::function<bool(std::string_view)>;

struct HttpResponse {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    // When set, the body is sent chunked by calling this until it returns false.
    std::function<bool(const ChunkSink&)> stream;
    // Who made the request (a token's name), for the access log only.
    std::string principal;
    // Close the connection after answering (the body was not read to its end).
    bool close = false;
};

using Handler = std::function<HttpResponse(HttpRequest&)>;

struct HttpOptions {
    std::string host = "127.0.0.1";
    int port = 8000;                    // 0: any free port (see HttpServer::bind)
    int threads = 64;                   // the bounded pool: connections served at once
    std::size_t max_body = 1 << 20;     // bytes of a non-upload body (413 beyond)
    std::size_t max_upload = 64u << 20; // bytes of an upload body (413 beyond)
    int read_timeout_ms = 10'000;       // per read while a body arrives
    int write_timeout_ms = 10'000;      // per write of an answer
    int header_timeout_ms = 10'000;     // a request's line and headers, in total
    int keep_alive_ms = 5'000;          // an idle kept-alive connection is closed after
    int keep_alive_max = 1000;          // requests per connection
};

// One line per request for the access log: never a header value or a body.
struct AccessEntry {
    std::string method;
    std::string path; // without the query string
    int status = 0;
    std::string remote_addr;
    std::string principal;
    double ms = 0;
    std::uint64_t bytes = 0;
};

class HttpServer {
public:
    explicit HttpServer(HttpOptions options);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Adds a route (ECMAScript regex over the whole path). With `upload`, the handler reads
    // the body itself through HttpRequest::body with max_upload as the limit; otherwise
    // the body is read for it up to max_body and handed over as `body_text`.
    void route(const std::string& method, const std::string& pattern, Handler handler, bool upload = false);
    void set_access_log(std::function<void(const AccessEntry&)> log);
    // Binds the listening socket; returns the port. Throws std::runtime_error when it cannot.
    int bind();
    // Serves until stop(): in-flight requests finish, then it returns.
    void serve();
    // Safe from any thread (not from a signal handler: set a flag and call it from a thread).
    void stop();

    // The text body of a non-upload request (thread-local to the handler's call).
    static const std::string& body_text();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// {"error": {"code": CODE, "message": MESSAGE}} with that status.
HttpResponse error_response(int status, const std::string& code, const std::string& message);
HttpResponse json_response(int status, const std::string& json_text);

} // namespace mlrun::server
