#include "queue/local_queue.hpp"

#include "platform/file_lock.hpp"

#include "core/error.hpp"
#include "core/util.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/inotify.h>
#include <thread>
#include <unistd.h>

namespace mlrun {

namespace {

// One message as its file holds it. A file in claimed/ without a lease is a move that was
// cut off between its two steps (rewrite, then rename): the next sweep finishes it.
struct Message {
    std::string task_id;
    int priority = 0;
    int attempts = 0;                 // deliveries so far
    std::vector<AttemptError> errors; // failed deliveries, oldest first
    std::int64_t epoch = 0;           // of the latest delivery
    bool leased = false;
    std::int64_t expires_ms = 0; // with `leased`
    std::int64_t dead_ms = 0;    // set once it is bound for dead/
};

std::string encode(const Message& m)
{
    nlohmann::json errors = nlohmann::json::array();
    for (const AttemptError& e : m.errors) {
        errors.push_back({{"attempt", e.attempt}, {"error", e.error}, {"at_ms", e.at_ms}});
    }
    nlohmann::json j = {{"task_id", m.task_id},
                        {"priority", m.priority},
                        {"attempts", m.attempts},
                        {"errors", errors},
                        {"epoch", m.epoch}};
    if (m.leased) {
        j["lease"] = {{"expires_ms", m.expires_ms}};
    }
    if (m.dead_ms != 0) {
        j["dead_ms"] = m.dead_ms;
    }
    return j.dump();
}

// Files of an older layout (the task id or a bare expiry as content) read as a fresh,
// unleased message named by `fallback_id`.
Message decode(const std::string& text, const std::string& fallback_id)
{
    Message m;
    m.task_id = fallback_id;
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) {
        return m;
    }
    try {
        m.task_id = j.value("task_id", fallback_id);
        m.priority = j.value("priority", 0);
        m.attempts = j.value("attempts", 0);
        m.epoch = j.value("epoch", std::int64_t{0});
        m.dead_ms = j.value("dead_ms", std::int64_t{0});
        if (j.contains("lease") && j["lease"].is_object()) {
            m.leased = true;
            m.expires_ms = j["lease"].value("expires_ms", std::int64_t{0});
        }
        if (j.contains("errors") && j["errors"].is_array()) {
            for (const nlohmann::json& e : j["errors"]) {
                m.errors.push_back({e.value("attempt", 0), e.value("error", ""), e.value("at_ms", std::int64_t{0})});
            }
        }
    } catch (const nlohmann::json::exception&) {
        // A field of the wrong type: keep what was read.
    }
    return m;
}

// nullopt when the file is gone (moved by another claimer) or unreadable.
std::optional<std::string> try_read(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool is_temp(const std::string& name)
{
    return name.find(".tmp.") != std::string::npos;
}

// Message files of a folder (no temp files of atomic writes in progress), sorted.
std::vector<std::string> entries(const fs::path& folder)
{
    std::vector<std::string> names;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(folder, ec)) {
        std::string n = e.path().filename().string();
        if (!is_temp(n)) {
            names.push_back(std::move(n));
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

// Whether `folder` holds a message file; stops at the first.
bool has_entries(const fs::path& folder)
{
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(folder, ec)) {
        if (!is_temp(e.path().filename().string())) {
            return true;
        }
    }
    return false;
}

// "<999-priority>-<seq>-<task id>" -> task id; "" for a name of another shape. Task ids
// may contain '-', so the id is everything after the second dash.
std::string pending_task_id(const std::string& name)
{
    std::size_t first = name.find('-');
    std::size_t second = first == std::string::npos ? first : name.find('-', first + 1);
    return second == std::string::npos ? std::string() : name.substr(second + 1);
}

std::string pending_name(const Message& m, std::int64_t seq)
{
    char prefix[64];
    std::snprintf(prefix, sizeof prefix, "%03d-%016lld-", 999 - std::clamp(m.priority, 0, 999),
                  static_cast<long long>(seq));
    return prefix + m.task_id;
}

// The queue's counter, raised past `floor` and by one; the caller holds the lock. One
// counter orders pushes (FIFO) and numbers deliveries (epochs), so both only grow, across
// processes too.
std::int64_t next_counter(const fs::path& queue_dir, std::int64_t floor = 0)
{
    fs::path path = queue_dir / "counter";
    std::int64_t value = 0;
    if (auto text = try_read(path)) {
        value = std::strtoll(text->c_str(), nullptr, 10);
    }
    value = std::max(value, floor) + 1;
    write_file_atomic(path, std::to_string(value));
    return value;
}

void rename_or_throw(const fs::path& from, const fs::path& to)
{
    if (::rename(from.c_str(), to.c_str()) != 0) {
        throw std::runtime_error("cannot move " + from.string() + " to " + to.string() + ": " + std::strerror(errno));
    }
}

// Rewrites claimed/<id> without its lease, then renames it into pending/ (fresh sequence
// number) or dead/: a crash between the two leaves an unleased claimed file that the next
// sweep moves on. The caller holds the lock.
void move_on(const fs::path& queue_dir, Message m)
{
    fs::path claimed = queue_dir / "claimed" / m.task_id;
    m.leased = false;
    if (m.dead_ms != 0) {
        fs::create_directories(queue_dir / "dead"); // queues made before dead letters existed
        write_file_atomic(claimed, encode(m));
        rename_or_throw(claimed, queue_dir / "dead" / m.task_id);
        return;
    }
    std::int64_t seq = next_counter(queue_dir);
    write_file_atomic(claimed, encode(m));
    rename_or_throw(claimed, queue_dir / "pending" / pending_name(m, seq));
}

constexpr int k_event_digits = 16;
constexpr std::int64_t k_events_kept = 4096; // older event files are deleted as new ones come

// queues/.events/: one file per completion event, named by its 16-digit sequence number.
fs::path events_dir(const fs::path& root)
{
    return root / ".events";
}

std::string event_name(std::int64_t seq)
{
    char name[32];
    std::snprintf(name, sizeof name, "%0*lld", k_event_digits, static_cast<long long>(seq));
    return name;
}

// The sequence number of an event file's name; -1 for any other file.
std::int64_t event_seq(const std::string& name)
{
    if (name.size() != k_event_digits
        || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return -1;
    }
    return std::strtoll(name.c_str(), nullptr, 10);
}

// Writes the next event file under the events lock (taken inside a queue's lock, never the
// other way round), so files appear in sequence order and a reader that saw N saw all before.
void publish_done(const fs::path& queue_dir, const std::string& task_id, const char* outcome)
{
    const fs::path dir = events_dir(queue_dir.parent_path());
    fs::create_directories(dir);
    FileLock lock(dir / ".lock");
    const std::int64_t seq = next_counter(dir);
    nlohmann::json j = {
        {"queue", queue_dir.filename().string()}, {"task_id", task_id}, {"outcome", outcome}, {"at_ms", now_ms()}};
    write_file_atomic(dir / event_name(seq), j.dump());
    if (seq % 256 == 0) {
        std::error_code ec;
        for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
            std::int64_t n = event_seq(e.path().filename().string());
            if (n >= 0 && n <= seq - k_events_kept) {
                fs::remove(e.path(), ec);
            }
        }
    }
}

// Records a failed delivery and moves the message on; dead once it failed `max_attempts` times.
FailOutcome fail_delivery(const fs::path& queue_dir, Message m, const std::string& error, int max_attempts)
{
    std::int64_t now = now_ms();
    m.errors.push_back({m.attempts, error, now});
    bool dead = m.attempts >= max_attempts;
    m.dead_ms = dead ? now : 0;
    const std::string task_id = m.task_id;
    move_on(queue_dir, std::move(m));
    if (dead) {
        publish_done(queue_dir, task_id, "dead");
    }
    return dead ? FailOutcome::dead_lettered : FailOutcome::requeued;
}

// Reads queues/.events/ from the counter's value at opening; waits on inotify.
class LocalDoneEvents final : public DoneEvents {
public:
    explicit LocalDoneEvents(fs::path dir) : m_dir(std::move(dir))
    {
        fs::create_directories(m_dir);
        m_fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (m_fd < 0 || ::inotify_add_watch(m_fd, m_dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
            const std::string why = std::strerror(errno);
            if (m_fd >= 0) {
                ::close(m_fd);
            }
            throw std::runtime_error("cannot watch " + m_dir.string() + ": " + why);
        }
        // Without the lock: an event numbered up to here was published before we opened.
        if (auto text = try_read(m_dir / "counter")) {
            m_cursor = std::strtoll(text->c_str(), nullptr, 10);
        }
    }
    ~LocalDoneEvents() override { ::close(m_fd); }
    LocalDoneEvents(const LocalDoneEvents&) = delete;
    LocalDoneEvents& operator=(const LocalDoneEvents&) = delete;

    std::vector<DoneEvent> wait(int block_ms) override
    {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, block_ms));
        while (true) {
            char buf[4096];
            while (::read(m_fd, buf, sizeof buf) > 0) {
            }
            std::vector<DoneEvent> out = read_new();
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline
                                                                                    - std::chrono::steady_clock::now())
                                  .count();
            if (!out.empty() || left <= 0) {
                return out;
            }
            pollfd fd{m_fd, POLLIN, 0};
            ::poll(&fd, 1, static_cast<int>(left));
        }
    }

private:
    // Event files past the cursor, in order; the cursor moves past them.
    std::vector<DoneEvent> read_new()
    {
        std::vector<std::pair<std::int64_t, fs::path>> files;
        std::error_code ec;
        for (const fs::directory_entry& e : fs::directory_iterator(m_dir, ec)) {
            std::int64_t n = event_seq(e.path().filename().string());
            if (n > m_cursor) {
                files.emplace_back(n, e.path());
            }
        }
        std::sort(files.begin(), files.end());
        std::vector<DoneEvent> out;
        for (const auto& [n, path] : files) {
            m_cursor = n;
            nlohmann::json j = nlohmann::json::parse(try_read(path).value_or(""), nullptr, false);
            if (!j.is_object()) {
                continue; // trimmed meanwhile
            }
            DoneEvent e;
            e.queue = j.value("queue", "");
            e.task_id = j.value("task_id", "");
            e.outcome = j.value("outcome", "");
            e.at_ms = j.value("at_ms", std::int64_t{0});
            out.push_back(std::move(e));
        }
        return out;
    }

    fs::path m_dir;
    int m_fd = -1;
    std::int64_t m_cursor = 0;
};

// The claimed message behind `lease` when the lease still holds it (same delivery epoch).
std::optional<Message> current(const fs::path& queue_dir, const Lease& lease)
{
    auto text = try_read(queue_dir / "claimed" / lease.task_id);
    if (!text) {
        return std::nullopt;
    }
    Message m = decode(*text, lease.task_id);
    if (!m.leased || m.epoch != lease.epoch) {
        return std::nullopt;
    }
    return m;
}

} // namespace

LocalQueue::LocalQueue(fs::path root, std::int64_t lease_ms, int max_attempts)
    : m_root(std::move(root)), m_lease_ms(lease_ms), m_max_attempts(std::max(1, max_attempts))
{}

void LocalQueue::locked(const std::string& queue, const std::function<void()>& fn)
{
    FileLock lock(dir(queue) / ".lock");
    fn();
}

void LocalQueue::check_exists(const std::string& queue)
{
    if (!exists(queue)) {
        throw UsageError("unknown queue \"" + queue + "\"; create it with `mlrun queue create " + queue + "`");
    }
}

void LocalQueue::create(const std::string& queue)
{
    check_name(queue, "queue name");
    for (const char* sub : {"pending", "claimed", "dead"}) {
        fs::create_directories(dir(queue) / sub);
    }
}

bool LocalQueue::exists(const std::string& queue)
{
    check_name(queue, "queue name");
    std::error_code ec;
    return fs::is_directory(dir(queue) / "pending", ec);
}

void LocalQueue::push(const std::string& queue, const std::string& task_id, int priority)
{
    check_name(task_id, "task id");
    check_exists(queue);
    Message m;
    m.task_id = task_id;
    m.priority = priority;
    locked(queue, [&] {
        std::int64_t seq = next_counter(dir(queue));
        write_file_atomic(dir(queue) / "pending" / pending_name(m, seq), encode(m));
    });
}

std::optional<Lease> LocalQueue::claim(const std::vector<std::string>& queues, int block_ms)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(block_ms);
    while (true) {
        for (const std::string& q : queues) {
            check_exists(q);
            if (!has_entries(dir(q) / "pending")) {
                continue; // looked at without the lock: idle agents must not contend for it
            }
            std::optional<Lease> lease;
            locked(q, [&] {
                for (const std::string& name : entries(dir(q) / "pending")) {
                    std::string task_id = pending_task_id(name);
                    if (task_id.empty()) {
                        continue;
                    }
                    fs::path from = dir(q) / "pending" / name;
                    fs::path to = dir(q) / "claimed" / task_id;
                    // Atomic and exclusive: the message is in pending/ or in claimed/, never
                    // both; RENAME_NOREPLACE skips a task whose earlier push is still claimed.
                    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) {
                        continue;
                    }
                    try {
                        Message m = decode(try_read(to).value_or(""), task_id);
                        m.task_id = task_id; // acks and sweeps look it up by file name
                        m.attempts += 1;
                        m.epoch = next_counter(dir(q), m.epoch);
                        m.leased = true;
                        m.expires_ms = now_ms() + m_lease_ms;
                        m.dead_ms = 0;
                        write_file_atomic(to, encode(m));
                        lease = Lease{q,          m.task_id, std::to_string(m.epoch), m.expires_ms, m.attempts, m.epoch,
                                      m.priority, m.errors};
                    } catch (...) {
                        ::rename(to.c_str(), from.c_str()); // give it back untouched
                        throw;
                    }
                    return;
                }
            });
            if (lease) {
                return lease;
            }
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return std::nullopt;
        }
        // The local adapter polls; the Redis adapter blocks on the server instead.
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

bool LocalQueue::heartbeat(Lease& lease)
{
    if (!exists(lease.queue)) {
        return false;
    }
    bool held = false;
    locked(lease.queue, [&] {
        std::optional<Message> m = current(dir(lease.queue), lease);
        if (!m) {
            return;
        }
        m->expires_ms = now_ms() + m_lease_ms;
        write_file_atomic(dir(lease.queue) / "claimed" / lease.task_id, encode(*m));
        lease.expires_ms = m->expires_ms;
        held = true;
    });
    return held;
}

void LocalQueue::ack(const Lease& lease)
{
    if (!exists(lease.queue)) {
        return;
    }
    locked(lease.queue, [&] {
        if (current(dir(lease.queue), lease)) {
            std::error_code ec;
            fs::remove(dir(lease.queue) / "claimed" / lease.task_id, ec);
            publish_done(dir(lease.queue), lease.task_id, "acked");
        }
    });
}

FailOutcome LocalQueue::fail(const Lease& lease, const std::string& error)
{
    if (!exists(lease.queue)) {
        return FailOutcome::lease_lost;
    }
    FailOutcome outcome = FailOutcome::lease_lost;
    locked(lease.queue, [&] {
        if (std::optional<Message> m = current(dir(lease.queue), lease)) {
            outcome = fail_delivery(dir(lease.queue), std::move(*m), error, m_max_attempts);
        }
    });
    return outcome;
}

int LocalQueue::requeue_expired()
{
    int n = 0;
    for (const QueueInfo& q : list()) {
        const fs::path queue_dir = dir(q.name);
        // Files are replaced by rename, so reading without the lock sees whole ones; only
        // what looks expired or unleased is read again under the lock and acted on, so a
        // sweep holds the lock only when it has work (a claim in progress looks unleased).
        auto needs_work = [&](const std::string& name, Message* out) {
            std::optional<std::string> text = try_read(queue_dir / "claimed" / name);
            if (!text) {
                return false;
            }
            Message m = decode(*text, name);
            m.task_id = name; // the file name is what claims and acks look up
            bool work = !m.leased || m.expires_ms < now_ms();
            if (out) {
                *out = std::move(m);
            }
            return work;
        };
        std::vector<std::string> candidates;
        for (const std::string& name : entries(queue_dir / "claimed")) {
            if (needs_work(name, nullptr)) {
                candidates.push_back(name);
            }
        }
        if (candidates.empty()) {
            continue;
        }
        locked(q.name, [&] {
            for (const std::string& name : candidates) {
                Message m;
                if (!needs_work(name, &m)) {
                    continue; // renewed, acked or claimed meanwhile
                }
                if (!m.leased) {
                    move_on(queue_dir, std::move(m)); // a move cut off by a crash
                } else {
                    fail_delivery(queue_dir, std::move(m), "lease expired", m_max_attempts);
                    ++n;
                }
            }
        });
    }
    return n;
}

std::vector<QueueInfo> LocalQueue::list()
{
    std::vector<QueueInfo> out;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(m_root, ec)) {
        if (!fs::is_directory(e.path() / "pending", ec)) {
            continue;
        }
        QueueInfo info;
        info.name = e.path().filename().string();
        info.pending = entries(e.path() / "pending").size();
        info.claimed = entries(e.path() / "claimed").size();
        info.dead = entries(e.path() / "dead").size();
        out.push_back(info);
    }
    std::sort(out.begin(), out.end(), [](const QueueInfo& a, const QueueInfo& b) { return a.name < b.name; });
    return out;
}

bool LocalQueue::remove(const std::string& queue, const std::string& task_id)
{
    if (!exists(queue)) {
        return false;
    }
    bool removed = false;
    locked(queue, [&] {
        for (const std::string& name : entries(dir(queue) / "pending")) {
            if (pending_task_id(name) == task_id) {
                std::error_code ec;
                removed = fs::remove(dir(queue) / "pending" / name, ec);
                if (removed) {
                    publish_done(dir(queue), task_id, "removed");
                }
                return;
            }
        }
    });
    return removed;
}

MessageState LocalQueue::state(const std::string& queue, const std::string& task_id)
{
    check_name(task_id, "task id");
    if (!exists(queue)) {
        return MessageState::absent;
    }
    MessageState found = MessageState::absent;
    // Under the lock: a claim moves the file from pending/ to claimed/ in between two looks.
    locked(queue, [&] {
        std::error_code ec;
        if (fs::exists(dir(queue) / "claimed" / task_id, ec)) {
            found = MessageState::claimed;
        } else if (fs::exists(dir(queue) / "dead" / task_id, ec)) {
            found = MessageState::dead;
        } else {
            for (const std::string& name : entries(dir(queue) / "pending")) {
                if (pending_task_id(name) == task_id) {
                    found = MessageState::pending;
                    return;
                }
            }
        }
    });
    return found;
}

std::vector<DeadLetter> LocalQueue::dead_letters(const std::string& queue)
{
    check_exists(queue);
    std::vector<DeadLetter> out;
    for (const std::string& name : entries(dir(queue) / "dead")) {
        if (std::optional<std::string> text = try_read(dir(queue) / "dead" / name)) {
            Message m = decode(*text, name);
            out.push_back({queue, name, m.priority, m.errors, m.dead_ms});
        }
    }
    std::sort(out.begin(), out.end(), [](const DeadLetter& a, const DeadLetter& b) {
        return a.dead_ms != b.dead_ms ? a.dead_ms < b.dead_ms : a.task_id < b.task_id;
    });
    return out;
}

bool LocalQueue::requeue_dead(const std::string& queue, const std::string& task_id)
{
    check_name(task_id, "task id");
    check_exists(queue);
    bool moved = false;
    locked(queue, [&] {
        fs::path dead = dir(queue) / "dead" / task_id;
        std::optional<std::string> text = try_read(dead);
        if (!text) {
            return;
        }
        Message m = decode(*text, task_id);
        m.task_id = task_id;
        m.attempts = 0;
        m.errors.clear();
        m.dead_ms = 0;
        m.leased = false;
        // Rewritten in place first: a crash before the rename leaves a fresh dead letter
        // that requeue_dead moves again, never a half-requeued one.
        std::int64_t seq = next_counter(dir(queue));
        write_file_atomic(dead, encode(m));
        rename_or_throw(dead, dir(queue) / "pending" / pending_name(m, seq));
        moved = true;
    });
    return moved;
}

std::unique_ptr<DoneEvents> LocalQueue::events()
{
    return std::make_unique<LocalDoneEvents>(events_dir(m_root));
}

} // namespace mlrun
