// The submission server's routes: who asks (tokens, quotas, ownership) is checked here;
// what is asked is checked by the app's job use cases. Every answer is JSON (errors as
// {"error": {"code", "message"}}), except the log, the page and the streamed log.
#include "server/server.hpp"

#include "app/job_ops.hpp"
#include "app/task_ops.hpp"
#include "app/uri.hpp"
#include "core/error.hpp"
#include "core/util.hpp"
#include "ports/queue.hpp"
#include "ports/task_store.hpp"
#include "server/quotas.hpp"
#include "server/uploads.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace mlrun::server {

namespace {

const std::set<std::string>& job_fields()
{
    static const std::set<std::string> f{"submission_id", "template", "params"};
    return f;
}

HttpResponse json_ok(int status, const Json& j, const std::string& principal = "")
{
    HttpResponse r = json_response(status, dump_json(j));
    r.principal = principal;
    return r;
}

// A Backends per worker thread: the adapters (a Redis connection, a SQLite handle) are
// not shared between threads.
class BackendsPerThread {
public:
    explicit BackendsPerThread(BackendOptions o) : m_options(std::move(o)) {}
    Backends& get()
    {
        thread_local std::map<const BackendsPerThread*, std::unique_ptr<Backends>> per_thread;
        std::unique_ptr<Backends>& b = per_thread[this];
        if (!b) {
            b = std::make_unique<Backends>(open_backends(m_options));
        }
        return *b;
    }

private:
    BackendOptions m_options;
};

class Api {
public:
    Api(const ServerOptions& o, std::vector<Challenge> challenges, std::string tracking)
        : m_options(o), m_challenges(std::move(challenges)), m_tracking(std::move(tracking)), m_backends(o.backend)
    {}

    void add_routes(HttpServer& http);

private:
    struct Caller {
        TokenInfo token;
        std::optional<HttpResponse> refused; // set when the request must stop here
    };

    TokenBook tokens() { return TokenBook(*m_backends.get().store, m_options.tokens_file); }

    // The token of the request and its rate limit; `refused` holds the 401/429 answer.
    Caller authenticate(const HttpRequest& req)
    {
        Caller c;
        const std::string auth = req.header("Authorization");
        const std::string prefix = "Bearer ";
        if (auth.size() <= prefix.size() || auth.compare(0, prefix.size(), prefix) != 0) {
            c.refused = error_response(401, "unauthorized", "a bearer token is required (Authorization: Bearer ...)");
            c.refused->headers.emplace_back("WWW-Authenticate", "Bearer");
            return c;
        }
        std::optional<TokenInfo> t = tokens().authenticate(std::string_view(auth).substr(prefix.size()));
        if (!t) {
            c.refused = error_response(401, "unauthorized", "unknown or revoked token");
            c.refused->headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
            return c;
        }
        c.token = *t;
        int retry = 0;
        if (!m_rate.allow(t->hash, t->quota.requests_per_minute, now_ms(), retry)) {
            c.refused = too_many("over " + std::to_string(t->quota.requests_per_minute) + " requests a minute", retry);
        }
        if (c.refused) {
            c.refused->principal = t->name;
        }
        return c;
    }

    static HttpResponse too_many(const std::string& what, int retry_after_s)
    {
        HttpResponse r = error_response(429, "quota", what + "; retry after " + std::to_string(retry_after_s) + " s");
        r.headers.emplace_back("Retry-After", std::to_string(std::max(1, retry_after_s)));
        return r;
    }

    // The job if the caller may see it; nullopt otherwise (answered as 404 either way).
    std::optional<Json> visible_job(const Caller& c, const std::string& id)
    {
        std::optional<Json> job = find_job(m_backends.get(), id);
        if (!job || (!c.token.is_admin() && job->value("owner", "") != c.token.name)) {
            return std::nullopt;
        }
        return job;
    }

    // Runs a handler body, mapping our errors to statuses.
    HttpResponse guarded(const std::string& principal, const std::function<HttpResponse()>& body)
    {
        HttpResponse r;
        try {
            r = body();
        } catch (const NotFound& e) {
            r = error_response(404, "not_found", e.what());
        } catch (const Conflict& e) {
            r = error_response(409, "conflict", e.what());
        } catch (const UsageError& e) {
            r = error_response(422, "invalid", e.what());
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            r = error_response(500, "internal", "internal error");
        }
        if (r.principal.empty()) {
            r.principal = principal;
        }
        return r;
    }

    // The JSON body of a request: 400 for invalid UTF-8 or malformed JSON, 422 for a
    // non-object or unknown fields.
    std::optional<HttpResponse> parse_body(Json& out, const std::set<std::string>& fields)
    {
        const std::string& text = HttpServer::body_text();
        try {
            check_utf8(text, "request body");
        } catch (const UsageError& e) {
            return error_response(400, "invalid_utf8", e.what());
        }
        out = Json::parse(text, nullptr, false);
        if (out.is_discarded()) {
            return error_response(400, "malformed_json", "the request body is not valid JSON");
        }
        if (!out.is_object()) {
            return error_response(422, "invalid", "the request body must be a JSON object");
        }
        for (const auto& [k, v] : out.items()) {
            if (!fields.count(k)) {
                return error_response(422, "unknown_field", "unknown field \"" + k + "\"");
            }
        }
        return std::nullopt;
    }

    HttpResponse post_submission(HttpRequest& req);
    HttpResponse post_job(HttpRequest& req);
    HttpResponse get_logs(HttpRequest& req, const Caller& c, const Json& job);
    HttpResponse get_leaderboard(HttpRequest& req);

    const ServerOptions& m_options;
    std::vector<Challenge> m_challenges;
    std::string m_tracking; // redacted, for links
    BackendsPerThread m_backends;
    RateLimiter m_rate;
};

HttpResponse Api::post_submission(HttpRequest& req)
{
    Caller c = authenticate(req);
    if (c.refused) {
        c.refused->close = true;
        return *c.refused;
    }
    return guarded(c.token.name, [&]() -> HttpResponse {
        Backends& b = m_backends.get();
        const std::int64_t day_ago = now_ms() - 24 * 3600 * 1000LL;
        const std::vector<std::int64_t> times = submission_times(b, c.token.name, day_ago);
        if (static_cast<int>(times.size()) >= c.token.quota.submissions_per_day) {
            HttpResponse r = too_many("over " + std::to_string(c.token.quota.submissions_per_day)
                                          + " submissions a day",
                                      static_cast<int>((times.front() - day_ago) / 1000) + 1);
            r.close = true;
            return r;
        }
        // Staged beside the store's files (the shared artifact root with PostgreSQL, where
        // --home is a URI and not a folder): storing the upload is a rename on one file system.
        const fs::path staging_root = b.store->task_dir("_").parent_path().parent_path() / "server" / "uploads";
        Upload up = receive_upload(*req.body, staging_root, m_options.http.max_upload);
        if (up.error) {
            up.error->close = true;
            return *up.error;
        }
        SubmissionRequest s;
        s.owner = c.token.name;
        s.name = up.fields["name"];
        s.target = up.fields["target"];
        s.task_type = up.fields.count("task_type") ? up.fields["task_type"] : "classification";
        s.file = up.data_path;
        s.file_name = up.file_name;
        s.size = up.size;
        s.sha256 = up.sha256;
        const Json rec = create_submission(b, s);
        return json_ok(201, rec);
    });
}

HttpResponse Api::post_job(HttpRequest& req)
{
    Caller c = authenticate(req);
    if (c.refused) {
        return *c.refused;
    }
    return guarded(c.token.name, [&]() -> HttpResponse {
        Json body;
        if (std::optional<HttpResponse> bad = parse_body(body, job_fields())) {
            return *bad;
        }
        if (!body.contains("submission_id") || !body["submission_id"].is_string()) {
            return error_response(422, "invalid", "submission_id: expected a string");
        }
        if (!body.contains("template") || !body["template"].is_string()) {
            return error_response(422, "invalid", "template: expected a string");
        }
        if (body.contains("params") && !body["params"].is_object()) {
            return error_response(422, "invalid", "params: expected an object");
        }
        const std::string name = body["template"].get<std::string>();
        const Challenge* ch = find_challenge(m_challenges, name);
        if (!ch) {
            std::string allowed;
            for (const Challenge& x : m_challenges) {
                allowed += (allowed.empty() ? "" : ", ") + x.name;
            }
            return error_response(422, "template_not_allowed",
                                  "template \"" + name + "\" is not allowed here (allowed: " + allowed + ")");
        }
        Backends& b = m_backends.get();
        const std::string key = req.header("Idempotency-Key");
        if (std::optional<Json> earlier = find_idempotent_job(b, c.token.name, key); !earlier) {
            if (active_jobs(b, c.token.name) >= c.token.quota.concurrent_jobs) {
                return too_many("over " + std::to_string(c.token.quota.concurrent_jobs) + " jobs at once", 30);
            }
        }
        JobRequest r;
        r.owner = c.token.name;
        r.submission_id = body["submission_id"].get<std::string>();
        r.params = body.value("params", Json::object());
        r.idempotency_key = key;
        r.queue = m_options.queue;
        const JobCreated made = create_job(b, *ch, r);
        Json out = job_status(b, made.job);
        out["created"] = made.created;
        return json_ok(made.created ? 201 : 200, out);
    });
}

HttpResponse Api::get_logs(HttpRequest& req, const Caller&, const Json& job)
{
    Backends& b = m_backends.get();
    std::uint64_t offset = 0;
    const std::string off = req.param("offset");
    const std::string tail = req.param("tail");
    auto number = [](const std::string& s) -> std::optional<std::uint64_t> {
        if (s.empty() || s.size() > 15 || s.find_first_not_of("0123456789") != std::string::npos) {
            return std::nullopt;
        }
        return std::stoull(s);
    };
    if (!off.empty()) {
        if (!number(off)) {
            return error_response(422, "invalid", "offset: expected a whole number of bytes");
        }
        offset = *number(off);
    }
    if (req.param("follow") == "1" || req.param("follow") == "true") {
        HttpResponse r;
        r.content_type = "text/plain; charset=utf-8";
        auto pos = std::make_shared<std::uint64_t>(offset);
        auto done = std::make_shared<bool>(false);
        const std::atomic<bool>* stop = m_options.stop;
        r.stream = [this, job, pos, done, stop](const ChunkSink& write) {
            if (*done) {
                return false;
            }
            for (int waited = 0; waited < 50; ++waited) {
                Backends& bb = m_backends.get();
                const bool finished = job_finished(bb, job);
                const std::string text = job_log(bb, job, *pos);
                if (!text.empty()) {
                    *pos += text.size();
                    return write(valid_utf8(text));
                }
                if (finished || (stop && stop->load())) {
                    *done = true;
                    return write("");
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
            return write(""); // still alive: ask again
        };
        return r;
    }
    std::string text = job_log(b, job, offset);
    if (!tail.empty()) {
        if (!number(tail)) {
            return error_response(422, "invalid", "tail: expected a whole number of bytes");
        }
        const std::uint64_t n = *number(tail);
        if (text.size() > n) {
            text = text.substr(text.size() - n);
        }
    }
    HttpResponse r;
    r.content_type = "text/plain; charset=utf-8";
    r.body = valid_utf8(text);
    return r;
}

HttpResponse Api::get_leaderboard(HttpRequest& req)
{
    Caller c = authenticate(req);
    if (c.refused) {
        return *c.refused;
    }
    return guarded(c.token.name, [&]() -> HttpResponse {
        std::string name = req.param("challenge");
        if (name.empty() && m_challenges.size() == 1) {
            name = m_challenges.front().name;
        }
        if (name.empty()) {
            return error_response(422, "invalid", "challenge: give ?challenge=NAME");
        }
        const Challenge* ch = find_challenge(m_challenges, name);
        if (!ch) {
            return error_response(404, "not_found", "unknown challenge \"" + valid_utf8(name) + "\"");
        }
        return json_ok(200, challenge_leaderboard(m_backends.get(), *ch));
    });
}

void Api::add_routes(HttpServer& http)
{
    http.route("GET", "/health", [](HttpRequest&) {
        return json_ok(200, Json{{"status", "ok"}, {"version", MLRUN_VERSION}});
    });
    http.route("GET", "/openapi.json", [](HttpRequest&) { return json_response(200, openapi_json(MLRUN_VERSION)); });
    http.route("GET", "/", [](HttpRequest&) {
        HttpResponse r;
        r.content_type = "text/html; charset=utf-8";
        r.body = web_page_html();
        return r;
    });
    http.route("GET", "/challenges", [this](HttpRequest& req) {
        Caller c = authenticate(req);
        if (c.refused) {
            return *c.refused;
        }
        Json out = Json::array();
        for (const Challenge& ch : m_challenges) {
            out.push_back(Json{{"name", ch.name},
                               {"kind", ch.kind},
                               {"primary_metric", ch.primary_metric},
                               {"editable", ch.editable},
                               {"schema", ch.schema}});
        }
        return json_ok(200, Json{{"challenges", out}}, c.token.name);
    });
    http.route("GET", "/whoami", [this](HttpRequest& req) {
        Caller c = authenticate(req);
        if (c.refused) {
            return *c.refused;
        }
        return json_ok(200, c.token.to_json(), c.token.name);
    });
    http.route(
        "POST", "/submissions", [this](HttpRequest& req) { return post_submission(req); }, true);
    http.route("GET", "/submissions", [this](HttpRequest& req) {
        Caller c = authenticate(req);
        if (c.refused) {
            return *c.refused;
        }
        return guarded(c.token.name, [&]() {
            const std::vector<Json> subs = list_submissions(m_backends.get(), c.token.is_admin() ? "" : c.token.name);
            return json_ok(200, Json{{"submissions", subs}});
        });
    });
    http.route("POST", "/jobs", [this](HttpRequest& req) { return post_job(req); });
    http.route("GET", "/jobs", [this](HttpRequest& req) {
        Caller c = authenticate(req);
        if (c.refused) {
            return *c.refused;
        }
        return guarded(c.token.name, [&]() {
            Backends& b = m_backends.get();
            Json out = Json::array();
            for (const Json& job : list_jobs(b, c.token.is_admin() ? "" : c.token.name)) {
                out.push_back(job_status(b, job));
                if (out.size() >= 100) {
                    break;
                }
            }
            return json_ok(200, Json{{"jobs", out}});
        });
    });
    auto job_route = [this, &http](const std::string& method, const std::string& suffix,
                                   std::function<HttpResponse(HttpRequest&, const Caller&, const Json&)> body) {
        http.route(method, "/jobs/([^/]+)" + suffix, [this, body](HttpRequest& req) {
            Caller c = authenticate(req);
            if (c.refused) {
                return *c.refused;
            }
            return guarded(c.token.name, [&]() {
                const std::string id = req.matches.empty() ? "" : req.matches[0];
                std::optional<Json> job = visible_job(c, id);
                if (!job) {
                    return error_response(404, "not_found", "unknown job \"" + valid_utf8(id) + "\"");
                }
                return body(req, c, *job);
            });
        });
    };
    job_route("GET", "/status", [this](HttpRequest&, const Caller&, const Json& job) {
        return json_ok(200, job_status(m_backends.get(), job));
    });
    job_route("GET", "", [this](HttpRequest&, const Caller&, const Json& job) {
        return json_ok(200, job_status(m_backends.get(), job));
    });
    job_route("GET", "/logs",
              [this](HttpRequest& req, const Caller& c, const Json& job) { return get_logs(req, c, job); });
    job_route("GET", "/results", [this](HttpRequest&, const Caller&, const Json& job) {
        return json_ok(200, job_results(m_backends.get(), job, m_tracking));
    });
    job_route("DELETE", "", [this](HttpRequest&, const Caller&, const Json& job) {
        return json_ok(200, abort_job(m_backends.get(), job));
    });
    http.route("GET", "/leaderboard", [this](HttpRequest& req) { return get_leaderboard(req); });
}

} // namespace

std::pair<std::string, int> parse_listen(const std::string& listen)
{
    const std::size_t colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
        throw UsageError("--listen \"" + listen + "\": expected HOST:PORT, e.g. 127.0.0.1:8000");
    }
    const std::string port = listen.substr(colon + 1);
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
        throw UsageError("--listen \"" + listen + "\": the port must be a number from 0 to 65535");
    }
    std::string host = listen.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    return {host, std::stoi(port)};
}

void run_server(const ServerOptions& options)
{
    ServerOptions o = options;
    const auto [host, port] = parse_listen(o.listen);
    o.http.host = host;
    o.http.port = port;
    std::vector<Challenge> challenges = load_challenges(o.allow_list, o.templates_dir);
    {
        Backends b = open_backends(o.backend);
        b.store->ensure_created();
        check_name(o.queue, "queue name");
        bool exists = false;
        for (const QueueInfo& q : list_queues(b)) {
            exists = exists || q.name == o.queue;
        }
        if (!exists) {
            create_queue(b, o.queue);
        }
    }
    const std::string tracking_uri = resolve_tracking_uri(o.backend.tracking);
    std::string tracking = tracking_uri.empty() || tracking_uri == "local" ? "" : redact_uri(tracking_uri);
    while (!tracking.empty() && tracking.back() == '/') {
        tracking.pop_back();
    }

    auto log = spdlog::get("mlrun.access");
    if (!log) {
        log = spdlog::stderr_logger_mt("mlrun.access");
        log->set_pattern("%v");
    }
    HttpServer http(o.http);
    http.set_access_log([log](const AccessEntry& e) {
        log->info(dump_json(Json{{"ts", now_ms()},
                                 {"method", e.method},
                                 {"path", valid_utf8(e.path)},
                                 {"status", e.status},
                                 {"ms", std::round(e.ms * 100) / 100},
                                 {"bytes", e.bytes},
                                 {"remote", e.remote_addr},
                                 {"token", e.principal}}));
    });
    Api api(o, std::move(challenges), tracking);
    api.add_routes(http);
    const int bound = http.bind();
    if (o.on_listening) {
        o.on_listening("http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":"
                       + std::to_string(bound));
    }
    std::atomic<bool> done{false};
    std::thread watcher([&] {
        while (!done.load()) {
            if (o.stop && o.stop->load()) {
                http.stop();
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    });
    http.serve();
    done.store(true);
    watcher.join();
    log->flush();
}

} // namespace mlrun::server
