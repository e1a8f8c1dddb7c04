// hiredis lives here only: the context and every reply are owned by unique_ptrs with their
// free functions, and each reply's type is checked before a field of it is read.
#include "queue/redis_connection.hpp"

#include "core/error.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <thread>

namespace mlrun {

namespace {

using ContextPtr = std::unique_ptr<redisContext, decltype(&redisFree)>;
using ReplyPtr = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;

constexpr const char* k_tls_hint =
    "rediss:// (TLS) is not supported by this build: Debian's hiredis 0.14 has no TLS; reach the server "
    "through a TLS tunnel to a plain local port (stunnel, or ssh -L 6380:localhost:6379 HOST) and use "
    "redis://127.0.0.1:6380/DB";

timeval to_timeval(int ms)
{
    timeval tv{};
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

// `text` (a URI as the user wrote it) with everything after "user:" in its userinfo masked.
std::string mask_uri_text(const std::string& text)
{
    std::size_t scheme = text.find("://");
    std::size_t start = scheme == std::string::npos ? 0 : scheme + 3;
    std::size_t at = text.rfind('@');
    if (at == std::string::npos || at < start) {
        return text;
    }
    std::size_t colon = text.find(':', start);
    std::size_t keep = (colon != std::string::npos && colon < at) ? colon + 1 : start;
    return text.substr(0, keep) + "***" + text.substr(at);
}

// Percent-decoding of a URI part; false on a broken escape.
bool percent_decode(const std::string& in, std::string& out)
{
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1]))
            || !std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
            return false;
        }
        out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
        i += 2;
    }
    return true;
}

bool all_digits(const std::string& s)
{
    return !s.empty() && s.size() <= 9
           && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// Sends `args` as one command (binary-safe); nullptr when the connection failed (c->err).
ReplyPtr run_argv(redisContext* c, const std::vector<std::string>& args)
{
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const std::string& a : args) {
        argv.push_back(a.c_str());
        lens.push_back(a.size());
    }
    void* raw = redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
    return ReplyPtr(static_cast<redisReply*>(raw), &freeReplyObject);
}

RedisValue copy_reply(const redisReply* reply)
{
    RedisValue v;
    switch (reply->type) {
    case REDIS_REPLY_NIL: v.type = RedisValue::Type::nil; break;
    case REDIS_REPLY_INTEGER:
        v.type = RedisValue::Type::integer;
        v.integer = reply->integer;
        break;
    case REDIS_REPLY_STRING:
        v.type = RedisValue::Type::string;
        v.str.assign(reply->str, reply->len);
        break;
    case REDIS_REPLY_STATUS:
        v.type = RedisValue::Type::status;
        v.str.assign(reply->str, reply->len);
        break;
    case REDIS_REPLY_ARRAY:
        v.type = RedisValue::Type::array;
        v.elements.reserve(reply->elements);
        for (std::size_t i = 0; i < reply->elements; ++i) {
            v.elements.push_back(copy_reply(reply->element[i]));
        }
        break;
    case REDIS_REPLY_ERROR:
        // An error nested in an array (a script's error table): raised like a top-level one.
        throw RedisError(std::string(reply->str, reply->len));
    default: throw RedisError("unexpected Redis reply type " + std::to_string(reply->type));
    }
    return v;
}

} // namespace

// ---- RedisUri -------------------------------------------------------------------------

std::string RedisUri::masked() const
{
    std::string out = "redis://";
    if (!user.empty() || !password.empty()) {
        out += user + ":***@";
    }
    out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return out + ":" + std::to_string(port) + "/" + std::to_string(db);
}

RedisUri parse_redis_uri(const std::string& uri)
{
    const std::string shown = mask_uri_text(uri);
    auto bad = [&](const std::string& why) {
        return UsageError("invalid broker URI \"" + shown + "\": " + why
                          + " (expected redis://[user:password@]host:port/db)");
    };
    if (uri.rfind("rediss://", 0) == 0) {
        throw UsageError(k_tls_hint);
    }
    if (uri.rfind("redis://", 0) != 0) {
        throw bad("the scheme must be redis://");
    }
    std::string rest = uri.substr(8);
    RedisUri out;
    std::size_t at = rest.rfind('@');
    if (at != std::string::npos) {
        std::string userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        std::size_t colon = userinfo.find(':');
        if (colon == std::string::npos) {
            throw bad("give the password as redis://:PASSWORD@host or redis://USER:PASSWORD@host");
        }
        if (!percent_decode(userinfo.substr(0, colon), out.user)
            || !percent_decode(userinfo.substr(colon + 1), out.password)) {
            throw bad("broken %-escape in the user or password");
        }
        if (out.password.empty()) {
            throw bad("empty password");
        }
    }
    if (rest.find_first_of("?#") != std::string::npos) {
        throw bad("query options are not supported");
    }
    std::size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    std::string path = slash == std::string::npos ? "" : rest.substr(slash + 1);
    std::string port;
    if (!authority.empty() && authority.front() == '[') {
        std::size_t close = authority.find(']');
        if (close == std::string::npos) {
            throw bad("unclosed [ in the host");
        }
        out.host = authority.substr(1, close - 1);
        std::string after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                throw bad("expected :port after ]");
            }
            port = after.substr(1);
            if (port.empty()) {
                throw bad("empty port");
            }
        }
    } else {
        std::size_t colon = authority.find(':');
        out.host = authority.substr(0, colon);
        if (colon != std::string::npos) {
            port = authority.substr(colon + 1);
            if (port.empty()) {
                throw bad("empty port");
            }
        }
    }
    if (out.host.empty()) {
        throw bad("no host");
    }
    if (!port.empty()) {
        if (!all_digits(port) || std::stoi(port) < 1 || std::stoi(port) > 65535) {
            throw bad("port \"" + port + "\" is not a number from 1 to 65535");
        }
        out.port = std::stoi(port);
    }
    if (!path.empty()) {
        if (!all_digits(path)) {
            throw bad("database \"" + path + "\" is not a number");
        }
        out.db = std::stoi(path);
    }
    return out;
}

// ---- RedisValue -----------------------------------------------------------------------

const std::string& RedisValue::as_string() const
{
    if (type == Type::string || type == Type::status) {
        return str;
    }
    throw RedisError("expected a string reply from Redis");
}

std::int64_t RedisValue::as_integer() const
{
    if (type == Type::integer) {
        return integer;
    }
    if (type == Type::string) {
        try {
            std::size_t used = 0;
            long long n = std::stoll(str, &used);
            if (used == str.size()) {
                return n;
            }
        } catch (const std::exception&) {
        }
    }
    throw RedisError("expected an integer reply from Redis");
}

const std::vector<RedisValue>& RedisValue::as_array() const
{
    if (type == Type::array || type == Type::nil) {
        return elements;
    }
    throw RedisError("expected an array reply from Redis");
}

// ---- RedisConnection ------------------------------------------------------------------

struct RedisConnection::Context {
    ContextPtr ctx{nullptr, &redisFree};
    int timeout_ms = 0; // what the socket has now
};

namespace {

// A failed connect: `auth` when the server answered but refused us (credentials, db).
struct ConnectFailed {
    std::string message;
    bool auth = false;
};

} // namespace

RedisConnection::RedisConnection(RedisUri uri, RedisOptions options) : m_uri(std::move(uri)), m_options(options)
{
    try {
        connect_once();
    } catch (const ConnectFailed& e) {
        throw UsageError("cannot use the broker " + m_uri.masked() + ": " + e.message);
    }
}

RedisConnection::~RedisConnection() = default;

void RedisConnection::connect_once()
{
    m_ctx.reset();
    auto fresh = std::make_unique<Context>();
    fresh->ctx.reset(redisConnectWithTimeout(m_uri.host.c_str(), m_uri.port, to_timeval(m_options.connect_timeout_ms)));
    if (!fresh->ctx) {
        throw ConnectFailed{"out of memory allocating a Redis context"};
    }
    if (fresh->ctx->err != 0) {
        throw ConnectFailed{std::string("cannot connect: ") + fresh->ctx->errstr};
    }
    if (redisSetTimeout(fresh->ctx.get(), to_timeval(m_options.command_timeout_ms)) != REDIS_OK) {
        throw ConnectFailed{"cannot set the socket timeout"};
    }
    fresh->timeout_ms = m_options.command_timeout_ms;
    redisEnableKeepAlive(fresh->ctx.get());

    // Runs a set-up command; its error reply becomes `what` + the server's message.
    auto setup = [&](const std::vector<std::string>& args, const std::string& what) {
        ReplyPtr reply = run_argv(fresh->ctx.get(), args);
        if (!reply) {
            throw ConnectFailed{std::string("no answer: ") + fresh->ctx->errstr};
        }
        if (reply->type == REDIS_REPLY_ERROR) {
            std::string msg(reply->str, reply->len);
            // A server still loading its data after a restart answers LOADING: worth waiting for.
            bool transient = msg.rfind("LOADING", 0) == 0 || msg.rfind("BUSY", 0) == 0;
            throw ConnectFailed{what + ": " + msg, !transient};
        }
    };
    if (!m_uri.password.empty()) {
        if (m_uri.user.empty()) {
            setup({"AUTH", m_uri.password}, "authentication failed");
        } else {
            setup({"AUTH", m_uri.user, m_uri.password}, "authentication failed");
        }
    }
    // PING also proves that a Redis server (not some other service) answers on the port.
    setup({"PING"}, "the server refused PING");
    if (m_uri.db != 0) {
        setup({"SELECT", std::to_string(m_uri.db)}, "cannot select database " + std::to_string(m_uri.db));
    }
    m_ctx = std::move(fresh);
}

void RedisConnection::reconnect(const std::string& why)
{
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + std::chrono::milliseconds(m_options.reconnect_ms);
    int delay_ms = 10;
    std::string last = why;
    while (true) {
        try {
            connect_once();
            ++m_reconnects;
            return;
        } catch (const ConnectFailed& e) {
            if (e.auth) {
                throw UsageError("cannot use the broker " + m_uri.masked() + " after reconnecting: " + e.message);
            }
            last = e.message;
        }
        if (clock::now() + std::chrono::milliseconds(delay_ms) >= deadline) {
            throw std::runtime_error("lost the connection to the broker " + m_uri.masked() + " (" + why
                                     + ") and could not reconnect within "
                                     + std::to_string(m_options.reconnect_ms / 1000) + " s: " + last);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        delay_ms = std::min(delay_ms * 2, 1'000);
    }
}

RedisValue RedisConnection::send(const std::vector<std::string>& args, int timeout_ms)
{
    while (true) {
        if (!m_ctx) {
            reconnect("not connected");
        }
        redisContext* c = m_ctx->ctx.get();
        if (m_ctx->timeout_ms != timeout_ms && redisSetTimeout(c, to_timeval(timeout_ms)) == REDIS_OK) {
            m_ctx->timeout_ms = timeout_ms;
        }
        ReplyPtr reply = run_argv(c, args);
        if (reply) {
            if (reply->type == REDIS_REPLY_ERROR) {
                throw RedisError(std::string(reply->str, reply->len));
            }
            return copy_reply(reply.get());
        }
        // I/O error, EOF or timeout: this context is unusable from here on (hiredis).
        std::string why = c->errstr[0] != '\0' ? c->errstr : "connection lost";
        m_ctx.reset();
        reconnect(why);
    }
}

RedisValue RedisConnection::command(const std::vector<std::string>& args)
{
    return send(args, m_options.command_timeout_ms);
}

RedisValue RedisConnection::command_blocking(const std::vector<std::string>& args, int block_ms)
{
    return send(args, m_options.command_timeout_ms + std::max(0, block_ms));
}

RedisValue RedisConnection::eval(const RedisScript& script, const std::vector<std::string>& keys,
                                 const std::vector<std::string>& args)
{
    auto known = std::find_if(m_shas.begin(), m_shas.end(), [&](const auto& p) { return p.first == script.source; });
    if (known == m_shas.end()) {
        m_shas.emplace_back(script.source, command({"SCRIPT", "LOAD", script.source}).as_string());
        known = m_shas.end() - 1;
    }
    std::vector<std::string> argv{"EVALSHA", known->second, std::to_string(keys.size())};
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    try {
        return command(argv);
    } catch (const RedisError& e) {
        // A restarted (or flushed) server forgot its scripts: load it again, once.
        if (std::strncmp(e.what(), "NOSCRIPT", 8) != 0) {
            throw;
        }
        known->second = command({"SCRIPT", "LOAD", script.source}).as_string();
        argv[1] = known->second;
        return command(argv);
    }
}

} // namespace mlrun
