#pragma once
// One connection to a Redis server (hiredis stays inside redis_connection.cpp): parsed from
// redis://[user:pass@]host:port/db, authenticated, on the right database, with timeouts, and
// reconnected with backoff when the connection is lost after it once worked. Used by the
// Redis queue and agent registry; one RedisConnection is used by one thread at a time.
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace mlrun {

// Where the server is, from a redis:// URI. The password is kept only here; every message
// shows masked() instead.
struct RedisUri {
    std::string host = "127.0.0.1";
    int port = 6379;
    int db = 0;
    std::string user;     // "" = the default user (AUTH password)
    std::string password; // "" = no AUTH
    // The URI as given but with the password as "***": safe for messages and logs.
    std::string masked() const;
};

// Parses redis://[user:pass@]host[:port][/db] (user and password percent-decoded, [v6] hosts).
// Throws UsageError (password masked) for anything else; rediss:// says that this build has
// no TLS and how to get it with a tunnel.
RedisUri parse_redis_uri(const std::string& uri);

// An error reply from the server (WRONGTYPE, a failed script...): the connection stays usable.
class RedisError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A reply copied out of hiredis.
struct RedisValue {
    enum class Type { nil, integer, string, status, array };
    Type type = Type::nil;
    std::int64_t integer = 0;
    std::string str;                  // string and status replies
    std::vector<RedisValue> elements; // array replies

    bool is_nil() const { return type == Type::nil; }
    // The string of a string or status reply; an integer reply in decimal. Else RedisError.
    const std::string& as_string() const;
    // An integer reply, or a string reply holding a decimal integer. Else RedisError.
    std::int64_t as_integer() const;
    // The elements of an array reply (none for nil). Else RedisError.
    const std::vector<RedisValue>& as_array() const;
};

struct RedisOptions {
    int connect_timeout_ms = 2'000;
    int command_timeout_ms = 5'000; // a blocking command adds its own block time
    // After a lost connection: keep reconnecting (backoff 10 ms doubling up to 1 s) for this
    // long before giving up with std::runtime_error.
    int reconnect_ms = 30'000;
};

// A Lua script run with EVALSHA (loaded on first use and again after a server restart).
struct RedisScript {
    const char* source;
};

class RedisConnection {
public:
    // Connects, authenticates and selects the database. UsageError (one line, password
    // masked) when the server cannot be reached, refuses the credentials or the database.
    explicit RedisConnection(RedisUri uri, RedisOptions options = {});
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    // Runs one command. An error reply throws RedisError. A lost connection (server gone,
    // timeout) is reconnected with backoff and the command sent again, so commands sent
    // here must be safe to repeat; std::runtime_error once reconnect_ms has passed.
    RedisValue command(const std::vector<std::string>& args);
    // Like command, for a command that may block on the server up to `block_ms`.
    RedisValue command_blocking(const std::vector<std::string>& args, int block_ms);
    // EVALSHA of `script` with `keys` and `args` (loads it when the server lacks it).
    RedisValue eval(const RedisScript& script, const std::vector<std::string>& keys,
                    const std::vector<std::string>& args);

    const RedisUri& uri() const { return m_uri; }
    // How many times a lost connection was re-established.
    int reconnects() const { return m_reconnects; }

private:
    struct Context;
    void connect_once(); // throws on failure; leaves m_ctx set on success
    void reconnect(const std::string& why);
    RedisValue send(const std::vector<std::string>& args, int timeout_ms);

    RedisUri m_uri;
    RedisOptions m_options;
    std::unique_ptr<Context> m_ctx;
    std::vector<std::pair<const char*, std::string>> m_shas; // script source → SHA1
    int m_reconnects = 0;
};

} // namespace mlrun
