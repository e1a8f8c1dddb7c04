#include "app/wiring.hpp"

#include "app/sync.hpp"
#include "app/uri.hpp"
#include "core/error.hpp"
#include "ports/agent_registry.hpp"
#include "ports/inputs.hpp"
#include "ports/queue.hpp"
#include "ports/result_sink.hpp"
#include "queue/local_agents.hpp"
#include "queue/local_queue.hpp"
#include "store/local_inputs.hpp"
#include "store/local_store.hpp"
#include "store/sqlite_store.hpp"
#include "tracking/local_sink.hpp"

#include <cstdlib>
#include <filesystem>
#include <functional>

namespace mlrun {

Backends::Backends() = default;
Backends::~Backends() = default;
Backends::Backends(Backends&&) noexcept = default;
Backends& Backends::operator=(Backends&&) noexcept = default;

Ports Backends::ports() const
{
    Ports p;
    p.store = store;
    p.inputs = inputs.get();
    for (const std::unique_ptr<ResultSink>& s : sinks) {
        p.sinks.push_back(s.get());
    }
    p.queue = queue.get();
    p.agents = agents.get();
    return p;
}

namespace {

// One scheme of a port: what it means, and how its adapter is opened (nullptr: no adapter
// beyond the local ones).
template <class Adapter>
struct Scheme {
    const char* scheme;
    std::function<std::unique_ptr<Adapter>(const ParsedUri&, const std::string& text, FolderStore& local)> open;
};

std::unique_ptr<ResultSink> no_mirror(const ParsedUri&, const std::string&, FolderStore&)
{
    return nullptr;
}

// The server is checked first (UsageError before any step runs); cursors live in the store.
std::unique_ptr<ResultSink> mlflow_sink(const ParsedUri&, const std::string& text, FolderStore& local)
{
    return open_mlflow_mirror(text, local);
}

std::unique_ptr<Queue> local_queue(const ParsedUri&, const std::string&, FolderStore& local)
{
    return std::make_unique<LocalQueue>(local.root() / "queues");
}

std::unique_ptr<Queue> redis_queue(const ParsedUri&, const std::string& text, FolderStore&)
{
    throw UsageError("queue " + redact_uri(text) + ": the Redis queue adapter is not implemented yet");
}

const std::vector<Scheme<ResultSink>>& tracking_schemes()
{
    static const std::vector<Scheme<ResultSink>> k{{"", no_mirror}, {"http", mlflow_sink}, {"https", mlflow_sink}};
    return k;
}

const std::vector<Scheme<Queue>>& queue_schemes()
{
    static const std::vector<Scheme<Queue>> k{{"", local_queue}, {"redis", redis_queue}, {"rediss", redis_queue}};
    return k;
}

// The adapter of `text` (empty or "local": the local one), or UsageError naming `expected`.
template <class Adapter>
std::unique_ptr<Adapter> open_scheme(const std::vector<Scheme<Adapter>>& schemes, const std::string& text,
                                     const char* what, const char* expected, FolderStore& local)
{
    ParsedUri uri = text.empty() || text == "local" ? ParsedUri{} : parse_uri(text);
    if (!text.empty() && text != "local" && uri.scheme.empty()) {
        throw UsageError("unsupported " + std::string(what) + " URI \"" + redact_uri(text) + "\" (expected " + expected
                         + ")");
    }
    for (const Scheme<Adapter>& s : schemes) {
        if (uri.scheme == s.scheme) {
            return s.open(uri, text, local);
        }
    }
    throw UsageError("unsupported " + std::string(what) + " URI \"" + redact_uri(uri) + "\" (expected " + expected
                     + ")");
}

std::string from_env(const std::string& given, const char* name)
{
    if (!given.empty()) {
        return given;
    }
    const char* env = std::getenv(name);
    return env ? env : "";
}

constexpr std::string_view k_sqlite_scheme = "sqlite:";

// The store as given: --home, else MLRUN_HOME, else ./.mlrun.
std::string home_or_default(const std::string& home)
{
    if (!home.empty()) {
        return home;
    }
    const char* env = std::getenv("MLRUN_HOME");
    return env && *env ? env : ".mlrun";
}

bool is_sqlite(const std::string& home)
{
    return home.compare(0, k_sqlite_scheme.size(), k_sqlite_scheme) == 0;
}

} // namespace

std::string resolve_tracking_uri(const std::string& given)
{
    for (const char* name : {"MLRUN_TRACKING_URI", "MLFLOW_TRACKING_URI"}) {
        if (!given.empty()) {
            break;
        }
        const char* env = std::getenv(name);
        if (env && *env) {
            return env;
        }
    }
    return given;
}

std::string resolve_home(const std::string& home)
{
    std::string h = home_or_default(home);
    if (is_sqlite(h)) {
        h.erase(0, k_sqlite_scheme.size());
        if (h.compare(0, 2, "//") == 0) {
            h.erase(0, 2); // sqlite:///abs/path
        }
        if (h.empty()) {
            throw UsageError("empty store path in \"sqlite:\" (expected sqlite:PATH)");
        }
        return std::filesystem::absolute(h).lexically_normal().string();
    }
    ParsedUri uri = parse_uri(h);
    if (uri.scheme == "file") {
        h = uri.path;
    } else if (!uri.scheme.empty()) {
        throw UsageError("unsupported store URI \"" + redact_uri(uri)
                         + "\" (the task store is a local folder, file://PATH or sqlite:PATH)");
    }
    if (h.empty()) {
        throw UsageError("empty store path");
    }
    return std::filesystem::absolute(h).lexically_normal().string();
}

Backends open_backends(const BackendOptions& options)
{
    Backends b;
    if (is_sqlite(home_or_default(options.home))) {
        b.local = std::make_unique<SqliteStore>(resolve_home(options.home));
    } else {
        b.local = std::make_unique<LocalStore>(resolve_home(options.home));
    }
    b.store = b.local.get();
    b.inputs = std::make_unique<LocalInputs>(*b.local);
    b.sinks.push_back(std::make_unique<LocalSink>(*b.local));
    const std::string tracking = resolve_tracking_uri(options.tracking);
    if (options.mirror) {
        if (std::unique_ptr<ResultSink> mirror = open_scheme(tracking_schemes(), tracking, "tracking",
                                                             "http(s)://host:port", *b.local)) {
            b.sinks.push_back(std::move(mirror));
        }
    } else if (!tracking.empty() && tracking != "local" && !is_mlflow_uri(tracking)) {
        // Commands that run no task still refuse a tracking URI they could never use.
        (void)open_scheme(tracking_schemes(), tracking, "tracking", "http(s)://host:port", *b.local);
    }
    b.queue = open_scheme(queue_schemes(), from_env(options.queue, "MLRUN_QUEUE_URI"), "queue", "redis://host:port/db",
                          *b.local);
    // Agents register beside the queues they serve (the Redis registry comes with its queue).
    b.agents = std::make_unique<LocalAgentRegistry>(b.local->root() / "agents");
    return b;
}

} // namespace mlrun
