// The cpp-httplib adapter behind server/http.hpp: the only file of the server that includes
// httplib.h. httplib serves each connection on a worker of a bounded pool; this file keeps
// its own per-connection loop (process_and_close_socket) so that a request's line and
// headers must arrive within header_timeout_ms in total (a client sending a byte a second
// is cut off instead of holding a worker), and a stop lets the request in flight finish.
#include "server/http.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <chrono>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace mlrun::server {

namespace {

using Clock = std::chrono::steady_clock;

thread_local std::string t_body;
thread_local std::string t_principal;
thread_local bool t_close = false;
thread_local Clock::time_point t_start;

bool iequals(std::string_view a, std::string_view b)
{
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

// Waits for `events` on the socket: true when ready, false on timeout or error.
bool wait_socket(int sock, short events, int timeout_ms)
{
    pollfd p{sock, events, 0};
    for (;;) {
        const int r = ::poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        return r > 0 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
    }
}

void address_of(int sock, bool peer, std::string& ip, int& port)
{
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int r = peer ? ::getpeername(sock, reinterpret_cast<sockaddr*>(&addr), &len)
                       : ::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len);
    if (r != 0) {
        return;
    }
    char buf[INET6_ADDRSTRLEN] = {0};
    if (addr.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<sockaddr_in*>(&addr);
        ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
        port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
        ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
        port = ntohs(a->sin6_port);
    }
    ip = buf;
}

// A socket stream with a buffered reader whose reads fail once the header deadline has
// passed (until headers_done()), and per-read and per-write timeouts after that.
class DeadlineStream : public httplib::Stream {
public:
    DeadlineStream(int sock, const HttpOptions& o)
        : m_sock(sock), m_options(o), m_deadline(Clock::now() + std::chrono::milliseconds(o.header_timeout_ms))
    {}

    void headers_done() { m_headers_done = true; }

    bool is_readable() const override
    {
        if (m_pos < m_len) {
            return true;
        }
        return wait_socket(m_sock, POLLIN, timeout_ms());
    }
    bool is_writable() const override { return wait_socket(m_sock, POLLOUT, m_options.write_timeout_ms); }

    ssize_t read(char* ptr, size_t size) override
    {
        if (m_pos < m_len) {
            const std::size_t n = std::min(size, m_len - m_pos);
            std::memcpy(ptr, m_buf + m_pos, n);
            m_pos += n;
            return static_cast<ssize_t>(n);
        }
        if (!is_readable()) {
            return -1;
        }
        if (size >= sizeof m_buf) {
            return recv_some(ptr, size);
        }
        const ssize_t n = recv_some(m_buf, sizeof m_buf);
        if (n <= 0) {
            return n;
        }
        m_len = static_cast<std::size_t>(n);
        m_pos = 0;
        return read(ptr, size);
    }
    ssize_t write(const char* ptr, size_t size) override
    {
        if (!is_writable()) {
            return -1;
        }
        for (;;) {
            const ssize_t n = ::send(m_sock, ptr, size, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return n;
        }
    }
    void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(m_sock, true, ip, port); }
    void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(m_sock, false, ip, port); }
    socket_t socket() const override { return m_sock; }

private:
    int timeout_ms() const
    {
        if (m_headers_done) {
            return m_options.read_timeout_ms;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(m_deadline - Clock::now()).count();
        return static_cast<int>(std::max<long long>(0, std::min<long long>(left, m_options.read_timeout_ms)));
    }
    ssize_t recv_some(char* ptr, std::size_t size)
    {
        for (;;) {
            const ssize_t n = ::recv(m_sock, ptr, size, 0);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return n;
        }
    }

    int m_sock;
    const HttpOptions& m_options;
    Clock::time_point m_deadline;
    bool m_headers_done = false;
    char m_buf[4096];
    std::size_t m_pos = 0;
    std::size_t m_len = 0;
};

class Core : public httplib::Server {
public:
    explicit Core(const HttpOptions& o) : m_options(o) {}

    std::atomic<bool> stopping{false};

private:
    bool process_and_close_socket(socket_t sock) override
    {
        bool ret = false;
        for (int served = 0; served < m_options.keep_alive_max; ++served) {
            if (served > 0 && stopping.load()) {
                break;
            }
            if (!wait_idle(sock)) {
                break;
            }
            DeadlineStream strm(sock, m_options);
            bool connection_closed = false;
            t_close = false;
            t_principal.clear();
            t_start = Clock::now();
            const bool close_connection = served + 1 == m_options.keep_alive_max || stopping.load();
            ret = process_request(strm, close_connection, connection_closed, [&](httplib::Request&) {
                strm.headers_done();
                t_start = Clock::now();
            });
            if (t_close) {
                linger(sock);
                break;
            }
            if (!ret || connection_closed || close_connection) {
                break;
            }
        }
        ::shutdown(sock, SHUT_RDWR);
        ::close(sock);
        return ret;
    }
    // A refused body (413) is still arriving: stop sending, then read and drop what the
    // client still sends for a while (bounded in time and bytes), so that it gets to read
    // the answer instead of a reset.
    void linger(int sock)
    {
        ::shutdown(sock, SHUT_WR);
        const auto until = Clock::now() + std::chrono::milliseconds(2000);
        std::size_t dropped = 0;
        char buf[16384];
        while (Clock::now() < until && dropped < m_options.max_upload + m_options.max_body) {
            if (!wait_socket(sock, POLLIN, 100)) {
                continue;
            }
            const ssize_t n = ::recv(sock, buf, sizeof buf, 0);
            if (n <= 0) {
                break;
            }
            dropped += static_cast<std::size_t>(n);
        }
    }
    // Waits for the next request of a kept-alive connection, in slices so a stop is seen.
    bool wait_idle(int sock)
    {
        const auto until = Clock::now() + std::chrono::milliseconds(m_options.keep_alive_ms);
        while (Clock::now() < until) {
            if (wait_socket(sock, POLLIN, 100)) {
                return true;
            }
            if (stopping.load()) {
                return false;
            }
        }
        return false;
    }

    const HttpOptions& m_options;
};

class Reader : public BodyReader {
public:
    Reader(const httplib::Request& req, const httplib::ContentReader& reader) : m_req(req), m_reader(reader) {}
    bool is_multipart() const override { return m_req.is_multipart_form_data(); }
    bool read_multipart(const std::function<bool(const FormPart&)>& on_part,
                        const std::function<bool(const char*, std::size_t)>& on_data) override
    {
        if (!is_multipart()) {
            return false;
        }
        return m_reader(
            [&](const httplib::MultipartFormData& f) {
                return on_part(FormPart{f.name, f.filename, f.content_type});
            },
            [&](const char* data, std::size_t n) { return on_data(data, n); });
    }
    bool read(const std::function<bool(const char*, std::size_t)>& on_data) override
    {
        return m_reader([&](const char* data, std::size_t n) { return on_data(data, n); });
    }

private:
    const httplib::Request& m_req;
    const httplib::ContentReader& m_reader;
};

HttpRequest to_request(const httplib::Request& req)
{
    HttpRequest r;
    r.method = req.method;
    r.path = req.path;
    for (std::size_t i = 1; i < req.matches.size(); ++i) {
        r.matches.push_back(req.matches[i].str());
    }
    for (const auto& [k, v] : req.params) {
        r.query.emplace(k, v);
    }
    for (const auto& [k, v] : req.headers) {
        r.headers.emplace_back(k, v);
    }
    r.remote_addr = req.remote_addr;
    return r;
}

void to_response(HttpResponse& out, httplib::Response& res)
{
    res.status = out.status;
    for (const auto& [k, v] : out.headers) {
        res.set_header(k, v);
    }
    t_principal = out.principal;
    if (out.close) {
        t_close = true;
        res.set_header("Connection", "close");
    }
    if (out.stream) {
        auto stream = std::move(out.stream);
        res.set_chunked_content_provider(out.content_type, [stream](std::size_t, httplib::DataSink& sink) {
            const bool more = stream([&](std::string_view s) { return s.empty() || sink.write(s.data(), s.size()); });
            if (!more) {
                sink.done();
            }
            return true;
        });
        return;
    }
    res.set_content(out.body, out.content_type);
}

std::size_t content_length(const httplib::Request& req)
{
    const std::string v = req.get_header_value("Content-Length");
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 18) {
        return 0;
    }
    return static_cast<std::size_t>(std::stoull(v));
}

} // namespace

std::string HttpRequest::header(std::string_view name) const
{
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) {
            return v;
        }
    }
    return "";
}

std::string HttpRequest::param(const std::string& name) const
{
    auto it = query.find(name);
    return it == query.end() ? std::string() : it->second;
}

HttpResponse error_response(int status, const std::string& code, const std::string& message)
{
    HttpResponse r;
    r.status = status;
    r.body = nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump();
    return r;
}

struct HttpServer::Impl {
    HttpOptions options;
    Core core;
    std::function<void(const AccessEntry&)> log;
    explicit Impl(HttpOptions o) : options(std::move(o)), core(options) {}
};

HttpServer::HttpServer(HttpOptions options) : m_impl(std::make_unique<Impl>(std::move(options)))
{
    Core& c = m_impl->core;
    const HttpOptions& o = m_impl->options;
    const std::size_t threads = static_cast<std::size_t>(std::max(1, o.threads));
    c.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // Headers and body go out in separate writes: without TCP_NODELAY, Nagle holds the body
    // until the client's delayed ACK (~40 ms per request).
    c.set_tcp_nodelay(true);
    c.set_payload_max_length(std::max(o.max_upload, o.max_body));
    c.set_read_timeout(std::chrono::milliseconds(o.read_timeout_ms));
    c.set_write_timeout(std::chrono::milliseconds(o.write_timeout_ms));
    c.set_keep_alive_timeout(std::max(1, o.keep_alive_ms / 1000));
    c.set_keep_alive_max_count(static_cast<std::size_t>(o.keep_alive_max));
    c.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) {
            return httplib::Server::HandlerResponse::Unhandled;
        }
        const int s = res.status;
        const char* code = s == 404   ? "not_found"
                           : s == 405 ? "method_not_allowed"
                           : s == 408 ? "timeout"
                           : s == 413 ? "too_large"
                           : s == 414 ? "uri_too_long"
                           : s >= 500 ? "internal"
                                      : "bad_request";
        const char* what = s == 404   ? "no such path"
                           : s == 405 ? "method not allowed"
                           : s == 408 ? "request timed out"
                           : s == 413 ? "request body over the limit"
                           : s == 414 ? "request URI too long"
                           : s >= 500 ? "internal error"
                                      : "malformed request";
        res.set_content(error_response(s, code, what).body, "application/json");
        return httplib::Server::HandlerResponse::Handled;
    }));
    c.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content(error_response(500, "internal", "internal error").body, "application/json");
    });
    c.set_logger([impl = m_impl.get()](const httplib::Request& req, const httplib::Response& res) {
        if (!impl->log) {
            return;
        }
        AccessEntry e;
        e.method = req.method;
        e.path = req.path;
        e.status = res.status;
        e.remote_addr = req.remote_addr;
        e.principal = t_principal;
        e.ms = std::chrono::duration<double, std::milli>(Clock::now() - t_start).count();
        e.bytes = res.body.size();
        impl->log(e);
    });
}

HttpServer::~HttpServer() = default;

const std::string& HttpServer::body_text()
{
    return t_body;
}

void HttpServer::route(const std::string& method, const std::string& pattern, Handler handler, bool upload)
{
    Core& c = m_impl->core;
    const HttpOptions* o = &m_impl->options;
    auto plain = [handler](const httplib::Request& req, httplib::Response& res) {
        HttpRequest r = to_request(req);
        t_body.clear();
        HttpResponse out = handler(r);
        to_response(out, res);
    };
    auto with_body = [handler, o, upload](const httplib::Request& req, httplib::Response& res,
                                          const httplib::ContentReader& reader) {
        HttpRequest r = to_request(req);
        const std::size_t limit = upload ? o->max_upload : o->max_body;
        HttpResponse out;
        if (content_length(req) > limit) {
            out = error_response(413, "too_large",
                                 "request body over the limit of " + std::to_string(limit) + " bytes");
            out.close = true;
        } else if (upload) {
            Reader body(req, reader);
            r.body = &body;
            out = handler(r);
        } else {
            t_body.clear();
            bool over = false;
            const bool ok = reader([&](const char* data, std::size_t n) {
                if (t_body.size() + n > limit) {
                    over = true;
                    return false;
                }
                t_body.append(data, n);
                return true;
            });
            if (over) {
                out = error_response(413, "too_large",
                                     "request body over the limit of " + std::to_string(limit) + " bytes");
                out.close = true;
            } else if (!ok) {
                out = error_response(400, "bad_request", "the request body could not be read");
                out.close = true;
            } else {
                out = handler(r);
            }
        }
        to_response(out, res);
    };
    if (method == "GET") {
        c.Get(pattern, plain);
    } else if (method == "DELETE") {
        c.Delete(pattern, plain);
    } else if (method == "POST") {
        c.Post(pattern, httplib::Server::HandlerWithContentReader(with_body));
    } else if (method == "PUT") {
        c.Put(pattern, httplib::Server::HandlerWithContentReader(with_body));
    } else {
        throw std::invalid_argument("unsupported method " + method);
    }
}

void HttpServer::set_access_log(std::function<void(const AccessEntry&)> log)
{
    m_impl->log = std::move(log);
}

int HttpServer::bind()
{
    Core& c = m_impl->core;
    const HttpOptions& o = m_impl->options;
    if (o.port == 0) {
        const int port = c.bind_to_any_port(o.host);
        if (port <= 0) {
            throw std::runtime_error("cannot listen on " + o.host + " (any port)");
        }
        return port;
    }
    if (!c.bind_to_port(o.host, o.port)) {
        throw std::runtime_error("cannot listen on " + o.host + ":" + std::to_string(o.port)
                                 + " (in use, or not an address of this machine)");
    }
    return o.port;
}

void HttpServer::serve()
{
    m_impl->core.listen_after_bind();
}

void HttpServer::stop()
{
    m_impl->core.stopping.store(true);
    m_impl->core.stop();
}

HttpResponse json_response(int status, const std::string& json_text)
{
    HttpResponse r;
    r.status = status;
    r.body = json_text;
    return r;
}

} // namespace mlrun::server
