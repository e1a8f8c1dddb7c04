#include "queue/redis_queue.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "queue/redis_queue_scripts.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <unistd.h>

namespace mlrun {

namespace {

namespace scripts = redis_scripts;

// Scripts live as long as the program (RedisScript keeps only the pointer).
const RedisScript k_push{scripts::k_push.c_str()};
const RedisScript k_claim{scripts::k_claim.c_str()};
const RedisScript k_heartbeat{scripts::k_heartbeat.c_str()};
const RedisScript k_ack{scripts::k_ack.c_str()};
const RedisScript k_fail{scripts::k_fail.c_str()};
const RedisScript k_sweep{scripts::k_sweep.c_str()};
const RedisScript k_remove{scripts::k_remove.c_str()};
const RedisScript k_requeue_dead{scripts::k_requeue_dead.c_str()};
const RedisScript k_list{scripts::k_list.c_str()};

std::string unique_consumer()
{
    static std::atomic<int> handles{0};
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) {
        host[0] = '\0';
    }
    return std::string(host[0] != '\0' ? host : "host") + "-" + std::to_string(::getpid()) + "-"
           + std::to_string(++handles);
}

// The errors JSON of a message ("[...]"): every earlier attempt, oldest first.
std::vector<AttemptError> parse_errors(const std::string& text)
{
    std::vector<AttemptError> out;
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_array()) {
        return out; // "{}" is how Lua's cjson writes an empty list
    }
    for (const nlohmann::json& e : j) {
        if (!e.is_object()) {
            continue;
        }
        AttemptError err;
        err.attempt = e.value("attempt", 0);
        err.error = e.value("error", "");
        err.at_ms = e.contains("at_ms") && e["at_ms"].is_number() ? e["at_ms"].get<std::int64_t>() : 0;
        out.push_back(std::move(err));
    }
    return out;
}

// The fields of a stream entry ({field, value, ...}) as a lookup.
std::string field(const RedisValue& fields, const std::string& name)
{
    const auto& f = fields.as_array();
    for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
        if (f[i].as_string() == name) {
            return f[i + 1].as_string();
        }
    }
    return "";
}

// The events stream read from a cursor (the last id seen), on its own connection.
class RedisDoneEvents final : public DoneEvents {
public:
    RedisDoneEvents(const RedisUri& uri, const RedisOptions& options, std::string key)
        : m_conn(uri, options), m_key(std::move(key))
    {
        RedisValue last = m_conn.command({"XREVRANGE", m_key, "+", "-", "COUNT", "1"});
        if (!last.as_array().empty()) {
            m_cursor = last.as_array()[0].as_array().at(0).as_string();
        }
    }

    std::vector<DoneEvent> wait(int block_ms) override
    {
        std::vector<std::string> args{"XREAD", "COUNT", "256"};
        if (block_ms > 0) {
            args.insert(args.end(), {"BLOCK", std::to_string(block_ms)});
        }
        args.insert(args.end(), {"STREAMS", m_key, m_cursor});
        RedisValue reply = block_ms > 0 ? m_conn.command_blocking(args, block_ms) : m_conn.command(args);
        std::vector<DoneEvent> out;
        for (const RedisValue& stream : reply.as_array()) {
            const auto& s = stream.as_array();
            if (s.size() < 2) {
                continue;
            }
            for (const RedisValue& entry : s[1].as_array()) {
                const auto& e = entry.as_array();
                if (e.size() < 2) {
                    continue;
                }
                m_cursor = e[0].as_string();
                DoneEvent ev;
                ev.queue = field(e[1], "queue");
                ev.task_id = field(e[1], "task");
                ev.outcome = field(e[1], "outcome");
                try {
                    ev.at_ms = std::stoll(field(e[1], "at_ms"));
                } catch (const std::exception&) {
                    // A hand-written entry without a time: kept with 0.
                }
                out.push_back(std::move(ev));
            }
        }
        return out;
    }

private:
    RedisConnection m_conn;
    std::string m_key;
    std::string m_cursor = "0-0";
};

} // namespace

RedisQueue::RedisQueue(const RedisUri& uri, RedisQueueOptions options)
    : m_uri(uri), m_options(std::move(options)), m_consumer(unique_consumer()),
      m_conn(std::make_unique<RedisConnection>(uri, m_options.connection))
{
    m_options.max_attempts = std::max(1, m_options.max_attempts);
    m_options.lease_ms = std::max<std::int64_t>(1, m_options.lease_ms);
}

RedisQueue::~RedisQueue() = default;

RedisValue RedisQueue::run(const RedisScript& script, std::vector<std::string> args)
{
    args.insert(args.begin(), m_options.prefix);
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_conn->eval(script, {}, args);
}

void RedisQueue::unknown_queue(const std::string& queue)
{
    std::vector<std::string> known;
    for (const QueueInfo& info : list()) {
        known.push_back(info.name);
    }
    std::string names;
    for (const std::string& n : known) {
        names += (names.empty() ? "" : ", ") + n;
    }
    throw UsageError("unknown queue \"" + queue + "\" (known: " + (names.empty() ? "none" : names) + ")");
}

std::unique_ptr<RedisConnection> RedisQueue::take_blocking()
{
    {
        std::lock_guard<std::mutex> lock(m_pool_mutex);
        if (!m_idle.empty()) {
            std::unique_ptr<RedisConnection> conn = std::move(m_idle.back());
            m_idle.pop_back();
            return conn;
        }
    }
    return std::make_unique<RedisConnection>(m_uri, m_options.connection);
}

void RedisQueue::give_back(std::unique_ptr<RedisConnection> conn)
{
    std::lock_guard<std::mutex> lock(m_pool_mutex);
    m_idle.push_back(std::move(conn));
}

void RedisQueue::create(const std::string& queue)
{
    check_name(queue, "queue name");
    std::lock_guard<std::mutex> lock(m_mutex);
    m_conn->command({"SADD", m_options.prefix + "queues", queue});
}

bool RedisQueue::exists(const std::string& queue)
{
    check_name(queue, "queue name");
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_conn->command({"SISMEMBER", m_options.prefix + "queues", queue}).as_integer() == 1;
}

void RedisQueue::push(const std::string& queue, const std::string& task_id, int priority)
{
    check_name(queue, "queue name");
    check_name(task_id, "task id");
    if (run(k_push, {queue, task_id, std::to_string(priority)}).as_integer() < 0) {
        unknown_queue(queue);
    }
}

std::optional<Lease> RedisQueue::claim(const std::vector<std::string>& queues, int block_ms)
{
    if (queues.empty()) {
        throw UsageError("claim needs at least one queue");
    }
    for (const std::string& q : queues) {
        check_name(q, "queue name");
    }
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + std::chrono::milliseconds(std::max(0, block_ms));
    std::vector<std::string> args{m_consumer, std::to_string(m_options.lease_ms)};
    args.insert(args.end(), queues.begin(), queues.end());
    while (true) {
        RedisValue reply = run(k_claim, args);
        const auto& r = reply.as_array();
        const std::int64_t code = r.at(0).as_integer();
        if (code < 0) {
            unknown_queue(r.at(1).as_string());
        }
        if (code == 1) {
            Lease lease;
            lease.queue = r.at(1).as_string();
            lease.task_id = r.at(2).as_string();
            lease.token = r.at(3).as_string();
            lease.epoch = r.at(4).as_integer();
            lease.expires_ms = r.at(5).as_integer();
            lease.attempt = static_cast<int>(r.at(6).as_integer());
            lease.priority = static_cast<int>(r.at(7).as_integer());
            lease.errors = parse_errors(r.at(8).is_nil() ? "[]" : r.at(8).as_string());
            return lease;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
        if (left <= 0) {
            return std::nullopt;
        }
        // Wait for a push after the scan (bell ids came with it), then scan again.
        std::vector<std::string> xread{"XREAD", "BLOCK", std::to_string(left), "STREAMS"};
        for (const std::string& q : queues) {
            xread.push_back(m_options.prefix + "q/" + q + "/bell");
        }
        for (std::size_t i = 1; i < r.size(); ++i) {
            xread.push_back(r[i].as_string());
        }
        std::unique_ptr<RedisConnection> conn = take_blocking();
        conn->command_blocking(xread, static_cast<int>(left));
        give_back(std::move(conn));
    }
}

bool RedisQueue::heartbeat(Lease& lease)
{
    std::int64_t expires = run(k_heartbeat, {lease.queue, lease.task_id, std::to_string(lease.epoch), m_consumer,
                                             std::to_string(m_options.lease_ms)})
                               .as_integer();
    if (expires < 0) {
        return false;
    }
    lease.expires_ms = expires;
    return true;
}

void RedisQueue::ack(const Lease& lease)
{
    run(k_ack, {lease.queue, lease.task_id, std::to_string(lease.epoch)});
}

FailOutcome RedisQueue::fail(const Lease& lease, const std::string& error)
{
    std::int64_t outcome = run(k_fail, {lease.queue, lease.task_id, std::to_string(lease.epoch), error,
                                        std::to_string(m_options.max_attempts)})
                               .as_integer();
    if (outcome == 1) {
        return FailOutcome::requeued;
    }
    return outcome == 2 ? FailOutcome::dead_lettered : FailOutcome::lease_lost;
}

int RedisQueue::requeue_expired()
{
    return static_cast<int>(run(k_sweep, {std::to_string(m_options.max_attempts)}).as_integer());
}

std::vector<QueueInfo> RedisQueue::list()
{
    RedisValue reply = run(k_list, {});
    const auto& r = reply.as_array();
    std::vector<QueueInfo> out;
    for (std::size_t i = 0; i + 3 < r.size(); i += 4) {
        QueueInfo info;
        info.name = r[i].as_string();
        info.claimed = static_cast<std::size_t>(r[i + 2].as_integer());
        info.pending = static_cast<std::size_t>(r[i + 1].as_integer()) - info.claimed;
        info.dead = static_cast<std::size_t>(r[i + 3].as_integer());
        out.push_back(std::move(info));
    }
    std::sort(out.begin(), out.end(), [](const QueueInfo& a, const QueueInfo& b) { return a.name < b.name; });
    return out;
}

bool RedisQueue::remove(const std::string& queue, const std::string& task_id)
{
    check_name(queue, "queue name");
    check_name(task_id, "task id");
    std::int64_t done = run(k_remove, {queue, task_id}).as_integer();
    if (done < 0) {
        unknown_queue(queue);
    }
    return done == 1;
}

MessageState RedisQueue::state(const std::string& queue, const std::string& task_id)
{
    check_name(queue, "queue name");
    check_name(task_id, "task id");
    RedisValue reply;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        reply = m_conn->command({"HGET", m_options.prefix + "q/" + queue + "/m/" + task_id, "state"});
    }
    const std::string s = reply.is_nil() ? "" : reply.as_string();
    return s == "pending"   ? MessageState::pending
           : s == "claimed" ? MessageState::claimed
           : s == "dead"    ? MessageState::dead
                            : MessageState::absent;
}

std::vector<DeadLetter> RedisQueue::dead_letters(const std::string& queue)
{
    if (!exists(queue)) {
        unknown_queue(queue);
    }
    RedisValue reply;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        reply = m_conn->command({"XRANGE", m_options.prefix + "q/" + queue + "/dead", "-", "+"});
    }
    std::vector<DeadLetter> out;
    for (const RedisValue& entry : reply.as_array()) {
        const auto& e = entry.as_array();
        if (e.size() < 2) {
            continue;
        }
        DeadLetter d;
        d.queue = queue;
        d.task_id = field(e[1], "task");
        d.errors = parse_errors(field(e[1], "errors"));
        try {
            d.priority = std::stoi(field(e[1], "priority"));
            d.dead_ms = std::stoll(field(e[1], "dead_ms"));
        } catch (const std::exception&) {
            // A hand-written entry without numbers: shown with zeros rather than hidden.
        }
        out.push_back(std::move(d));
    }
    return out;
}

bool RedisQueue::requeue_dead(const std::string& queue, const std::string& task_id)
{
    check_name(queue, "queue name");
    check_name(task_id, "task id");
    std::int64_t done = run(k_requeue_dead, {queue, task_id}).as_integer();
    if (done < 0) {
        unknown_queue(queue);
    }
    return done == 1;
}

std::unique_ptr<DoneEvents> RedisQueue::events()
{
    return std::make_unique<RedisDoneEvents>(m_uri, m_options.connection, m_options.prefix + "events");
}

} // namespace mlrun
