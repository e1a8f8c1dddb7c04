#pragma once
// Requests-per-minute limits of the submission server, per token, in memory: a fixed
// one-minute window that starts at a token's first request in it.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace mlrun::server {

class RateLimiter {
public:
    // Counts a request of `key` at now_ms: true when within `per_minute` (<= 0: no limit);
    // otherwise false with retry_after_s, the whole seconds until the window ends.
    bool allow(const std::string& key, int per_minute, std::int64_t now_ms, int& retry_after_s)
    {
        if (per_minute <= 0) {
            return true;
        }
        std::lock_guard<std::mutex> lock(m_mutex);
        Window& w = m_windows[key];
        if (w.count == 0 || now_ms - w.start_ms >= k_window_ms) {
            w = Window{now_ms, 0};
        }
        if (w.count >= per_minute) {
            retry_after_s = static_cast<int>((w.start_ms + k_window_ms - now_ms + 999) / 1000);
            return false;
        }
        ++w.count;
        return true;
    }

private:
    static constexpr std::int64_t k_window_ms = 60'000;
    struct Window {
        std::int64_t start_ms = 0;
        int count = 0;
    };
    std::mutex m_mutex;
    std::map<std::string, Window> m_windows;
};

} // namespace mlrun::server
