#include "app/wiring.hpp"

#include "app/adapter_plugin.hpp"
#include "app/sync.hpp"
#include "app/uri.hpp"
#include "core/error.hpp"
#include "ports/agent_registry.hpp"
#include "ports/inputs.hpp"
#include "ports/queue.hpp"
#include "ports/result_sink.hpp"
#include "queue/local_agents.hpp"
#include "queue/local_queue.hpp"
#include "queue/redis_plugin.hpp"
#include "store/local_inputs.hpp"
#include "store/local_store.hpp"
#include "store/postgres_plugin.hpp"
#include "store/sqlite_store.hpp"
#include "tracking/local_sink.hpp"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>

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

// One scheme of a port: what it means, and how its adapter is opened from the URI's text
// (nullptr: no adapter beyond the local ones). The adapter parses the URI itself, so that
// choosing one never loads libcurl's URL parser.
template <class Adapter>
struct Scheme {
    const char* scheme;
    std::function<std::unique_ptr<Adapter>(const std::string& text, FolderStore& local)> open;
};

std::unique_ptr<ResultSink> no_mirror(const std::string&, FolderStore&)
{
    return nullptr;
}

// The server is checked first (UsageError before any step runs); cursors live in the store.
// The MLflow plugin (libcurl) is loaded here.
std::unique_ptr<ResultSink> mlflow_sink(const std::string& text, FolderStore& local)
{
    return open_mlflow_mirror(text, local);
}

// The Redis plugin (hiredis), loaded the first time a redis:// broker is opened.
const RedisEntry& redis_entry()
{
    static const RedisEntry& k_entry = adapter_entry<RedisEntry>({"libmlrun_redis.so", "mlrun_redis_entry", "Redis"});
    return k_entry;
}

// The PostgreSQL plugin (libpq), loaded the first time a postgresql:// store is opened.
const PostgresEntry& postgres_entry()
{
    static const PostgresEntry& k_entry = adapter_entry<PostgresEntry>(
        {"libmlrun_postgres.so", "mlrun_postgres_entry", "PostgreSQL"});
    return k_entry;
}

// The scheme of a URI in lower case ("" when it has no "scheme://").
std::string scheme_of(const std::string& text)
{
    const std::size_t sep = text.find("://");
    std::string out = sep == std::string::npos ? "" : text.substr(0, sep);
    for (char& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

// The queue and the agent registry that go with it: one broker.
struct Broker {
    std::unique_ptr<Queue> queue;
    std::unique_ptr<AgentRegistry> agents;
};

// Broker schemes: local (the store's queues/ and agents/) and Redis (one connection each
// for the queue and the registry, the same key prefix). UsageError from the Redis side is
// one line with the password masked (bad URI, unreachable, refused AUTH, rediss://).
std::vector<Scheme<Broker>> broker_schemes(const BackendOptions& options)
{
    const std::int64_t lease_ms = options.lease_ms;
    auto local = [lease_ms](const std::string&, FolderStore& store) {
        auto b = std::make_unique<Broker>();
        b->queue = std::make_unique<LocalQueue>(store.root() / "queues", lease_ms);
        b->agents = std::make_unique<LocalAgentRegistry>(store.root() / "agents");
        return b;
    };
    // rediss:// too: the plugin answers it with the one-line "no TLS in this build" hint.
    auto redis = [lease_ms](const std::string& text, FolderStore&) {
        RedisBroker opened = redis_entry().open_broker(text, lease_ms);
        auto b = std::make_unique<Broker>();
        b->queue = std::move(opened.queue);
        b->agents = std::move(opened.agents);
        return b;
    };
    return {{"", local}, {"redis", redis}, {"rediss", redis}};
}

const std::vector<Scheme<ResultSink>>& tracking_schemes()
{
    static const std::vector<Scheme<ResultSink>> k{{"", no_mirror}, {"http", mlflow_sink}, {"https", mlflow_sink}};
    return k;
}

// The adapter of `text` (empty or "local": the local one), or UsageError naming `expected`.
template <class Adapter>
std::unique_ptr<Adapter> open_scheme(const std::vector<Scheme<Adapter>>& schemes, const std::string& text,
                                     const char* what, const char* expected, FolderStore& local)
{
    const std::string scheme = text.empty() || text == "local" ? "" : scheme_of(text);
    if (!text.empty() && text != "local" && scheme.empty()) {
        throw UsageError("unsupported " + std::string(what) + " URI \"" + redact_uri(text) + "\" (expected " + expected
                         + ")");
    }
    for (const Scheme<Adapter>& s : schemes) {
        if (scheme == s.scheme) {
            return s.open(text, local);
        }
    }
    (void)parse_uri(text); // UsageError "malformed URI" first, as for any scheme we do not know
    throw UsageError("unsupported " + std::string(what) + " URI \"" + redact_uri(text) + "\" (expected " + expected
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

// The store as given: --home, else MLRUN_HOME, else ./.mlrun.
std::string home_or_default(const std::string& home)
{
    if (!home.empty()) {
        return home;
    }
    const char* env = std::getenv("MLRUN_HOME");
    return env && *env ? env : ".mlrun";
}

// `text` without the scheme `prefix` ("sqlite:", "folder:") and an optional "//" after it,
// when it starts with it.
std::optional<std::string> strip_scheme(const std::string& text, std::string_view prefix)
{
    if (text.compare(0, prefix.size(), prefix) != 0) {
        return std::nullopt;
    }
    std::string rest = text.substr(prefix.size());
    if (rest.compare(0, 2, "//") == 0) {
        rest.erase(0, 2); // sqlite:///abs/path
    }
    if (rest.empty()) {
        throw UsageError("empty store path in \"" + std::string(prefix) + "\" (expected " + std::string(prefix)
                         + "PATH)");
    }
    return rest;
}

std::string absolute_path(const std::string& path)
{
    return std::filesystem::absolute(path).lexically_normal().string();
}

bool is_postgres(const std::string& home)
{
    return home.rfind("postgresql://", 0) == 0 || home.rfind("postgres://", 0) == 0;
}

} // namespace

StoreLocation resolve_store(const std::string& home)
{
    const std::string h = home_or_default(home);
    if (std::optional<std::string> rest = strip_scheme(h, "folder:")) {
        return {StoreLocation::Kind::folder, absolute_path(*rest)};
    }
    if (std::optional<std::string> rest = strip_scheme(h, "sqlite:")) {
        return {StoreLocation::Kind::sqlite, absolute_path(*rest)};
    }
    std::string path = h;
    const std::string scheme = scheme_of(h);
    if (scheme == "file") {
        path = parse_uri(h).path; // PATH as written (no libcurl)
    } else if (!scheme.empty()) {
        (void)parse_uri(h); // UsageError "malformed URI" first
        throw UsageError(
            "unsupported store URI \"" + redact_uri(h)
            + "\" (the task store is a local folder, file://PATH, sqlite:PATH, folder:PATH or postgresql://...)");
    }
    if (path.empty()) {
        throw UsageError("empty store path");
    }
    return {StoreLocation::Kind::sqlite, absolute_path(path)};
}

bool is_unmigrated_folder_store(const std::filesystem::path& root)
{
    std::error_code ec;
    if (std::filesystem::exists(root / "store.json", ec)) {
        return true; // moved aside last by `store migrate`: also a half-done migration
    }
    if (std::filesystem::exists(root / "store.db", ec)) {
        return false;
    }
    std::filesystem::directory_iterator it(root / "tasks", ec);
    return !ec && it != std::filesystem::directory_iterator();
}

std::unique_ptr<FolderStore> open_store(const StoreLocation& where, bool refuse_unmigrated)
{
    if (where.kind == StoreLocation::Kind::folder) {
        return std::make_unique<LocalStore>(where.root);
    }
    if (refuse_unmigrated && is_unmigrated_folder_store(where.root)) {
        throw UsageError("the store " + where.root
                         + " is a folder store of an older mlrun: run `mlrun store migrate` to move it into SQLite "
                           "(or open it as --home folder:"
                         + where.root + ")");
    }
    return std::make_unique<SqliteStore>(where.root);
}

std::string resolve_tracking_uri(const std::string& given)
{
    return from_env(from_env(given, "MLRUN_TRACKING_URI"), "MLFLOW_TRACKING_URI");
}

std::string resolve_broker(const BackendOptions& options)
{
    return from_env(from_env(options.queue, "MLRUN_BROKER"), "MLRUN_QUEUE_URI");
}

std::string resolve_home(const std::string& home)
{
    return resolve_store(home).root;
}

Backends open_backends(const BackendOptions& options)
{
    Backends b;
    if (const std::string home = home_or_default(options.home); is_postgres(home)) {
        // Files under the shared artifact root: ?artifacts= in the URI, else MLRUN_ARTIFACT_ROOT.
        b.local = postgres_entry().open_store(home, from_env("", "MLRUN_ARTIFACT_ROOT"));
    } else {
        b.local = open_store(resolve_store(options.home), true);
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
    // Agents register where the queues they serve live (the broker).
    std::unique_ptr<Broker> broker = open_scheme(broker_schemes(options), resolve_broker(options), "broker",
                                                 "redis://[user:password@]host:port/db", *b.local);
    b.queue = std::move(broker->queue);
    b.agents = std::move(broker->agents);
    return b;
}

} // namespace mlrun
