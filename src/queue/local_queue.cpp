#include "queue/local_queue.hpp"

#include "core/error.hpp"
#include "core/util.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <cstdlib>
#include <thread>

namespace mlrun {

void LocalQueue::create(const std::string& queue)
{
    check_name(queue, "queue name");
    fs::create_directories(m_root / queue / "pending");
    fs::create_directories(m_root / queue / "claimed");
}

bool LocalQueue::exists(const std::string& queue)
{
    check_name(queue, "queue name");
    std::error_code ec;
    return fs::is_directory(m_root / queue / "pending", ec);
}

void LocalQueue::push(const std::string& queue, const std::string& task_id, int priority)
{
    check_name(task_id, "task id");
    if (!exists(queue)) {
        create(queue);
    }
    // Lower file names are claimed first: higher priority first, then FIFO.
    char name[128];
    std::snprintf(name, sizeof name, "%03d-%013lld-", 999 - std::clamp(priority, 0, 999),
                  static_cast<long long>(now_ms()));
    write_file_atomic(m_root / queue / "pending" / (std::string(name) + task_id), task_id);
}

std::optional<Lease> LocalQueue::try_claim(const std::string& queue)
{
    std::error_code ec;
    std::vector<std::string> names;
    for (const fs::directory_entry& e : fs::directory_iterator(m_root / queue / "pending", ec)) {
        std::string n = e.path().filename().string();
        if (n.find(".tmp.") == std::string::npos) {
            names.push_back(n);
        }
    }
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) {
        std::string task_id = n.substr(n.rfind('-') + 1);
        fs::path claimed = m_root / queue / "claimed" / task_id;
        // renameat2 is atomic: of several claimers exactly one moves the file, and
        // RENAME_NOREPLACE never overwrites a live claim of the same task.
        if (::renameat2(AT_FDCWD, (m_root / queue / "pending" / n).c_str(), AT_FDCWD, claimed.c_str(), RENAME_NOREPLACE)
            == 0) {
            Lease lease{queue, task_id, n, now_ms() + m_lease_ms};
            write_file_atomic(claimed, std::to_string(lease.expires_ms));
            return lease;
        }
    }
    return std::nullopt;
}

std::optional<Lease> LocalQueue::claim(const std::vector<std::string>& queues, int block_ms)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(block_ms);
    while (true) {
        for (const std::string& q : queues) {
            if (!exists(q)) {
                throw UsageError("unknown queue \"" + q + "\"");
            }
            if (auto lease = try_claim(q)) {
                return lease;
            }
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return std::nullopt;
        }
        // The local adapter polls; the Redis adapter will block on the server instead.
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

bool LocalQueue::heartbeat(Lease& lease)
{
    lease.expires_ms = now_ms() + m_lease_ms;
    write_file_atomic(m_root / lease.queue / "claimed" / lease.task_id, std::to_string(lease.expires_ms));
    return true;
}

void LocalQueue::ack(const Lease& lease)
{
    std::error_code ec;
    fs::remove(m_root / lease.queue / "claimed" / lease.task_id, ec);
}

FailOutcome LocalQueue::fail(const Lease& lease, const std::string&)
{
    ack(lease);
    push(lease.queue, lease.task_id, 0);
    return FailOutcome::requeued;
}

std::vector<DeadLetter> LocalQueue::dead_letters(const std::string&)
{
    return {};
}

bool LocalQueue::requeue_dead(const std::string&, const std::string&)
{
    return false;
}

int LocalQueue::requeue_expired()
{
    int n = 0;
    std::error_code ec;
    for (const QueueInfo& q : list()) {
        for (const fs::directory_entry& e : fs::directory_iterator(m_root / q.name / "claimed", ec)) {
            std::string name = e.path().filename().string();
            if (name.find(".tmp.") != std::string::npos) {
                continue; // a lease being written right now
            }
            std::string text;
            try {
                text = read_file(e.path());
            } catch (const UsageError&) {
                continue;
            }
            // Right after the claiming rename the file still holds the task id, not an
            // expiry: until the claimer writes one, the lease runs from the rename.
            char* end = nullptr;
            long long expires = std::strtoll(text.c_str(), &end, 10);
            if (text.size() < 13 || !end || *end != '\0') {
                auto age = fs::file_time_type::clock::now() - fs::last_write_time(e.path(), ec);
                if (ec || std::chrono::duration_cast<std::chrono::milliseconds>(age).count() < m_lease_ms) {
                    continue;
                }
                expires = 0;
            }
            if (expires < now_ms()) {
                fail(Lease{q.name, name, "", expires}, "lease expired");
                ++n;
            }
        }
    }
    return n;
}

std::vector<QueueInfo> LocalQueue::list()
{
    std::vector<QueueInfo> out;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(m_root, ec)) {
        if (!fs::is_directory(e.path() / "pending")) {
            continue;
        }
        QueueInfo info{e.path().filename().string(), 0, 0};
        for ([[maybe_unused]] const auto& p : fs::directory_iterator(e.path() / "pending", ec)) {
            ++info.pending;
        }
        for ([[maybe_unused]] const auto& p : fs::directory_iterator(e.path() / "claimed", ec)) {
            ++info.claimed;
        }
        out.push_back(info);
    }
    std::sort(out.begin(), out.end(), [](const QueueInfo& a, const QueueInfo& b) { return a.name < b.name; });
    return out;
}

bool LocalQueue::remove(const std::string& queue, const std::string& task_id)
{
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(m_root / queue / "pending", ec)) {
        std::string n = e.path().filename().string();
        if (n.size() > task_id.size() && n.compare(n.size() - task_id.size(), task_id.size(), task_id) == 0
            && n[n.size() - task_id.size() - 1] == '-') {
            return fs::remove(e.path(), ec);
        }
    }
    return false;
}

} // namespace mlrun
