#include "engine/progress.hpp"

#include "core/params.hpp"
#include "core/util.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unistd.h>

namespace mlrun {

ProgressMode default_progress_mode(std::FILE* out)
{
    const char* term = std::getenv("TERM");
    bool tty = ::isatty(::fileno(out)) != 0;
    if (!tty || (term && std::strcmp(term, "dumb") == 0) || std::getenv("CI")) {
        return ProgressMode::plain;
    }
    return ProgressMode::terminal;
}

namespace {

std::string clock_prefix()
{
    std::string t = format_time_ms(now_ms());
    return "[" + t.substr(11) + "] ";
}

class PlainProgress final : public RunObserver {
public:
    explicit PlainProgress(std::FILE* out) : m_out(out) {}
    void run_started(const std::string& run_id, const std::string& pipeline, const std::vector<std::string>& steps,
                     int parallelism) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::fprintf(m_out, "%srun %s of %s: %zu steps, parallelism %d\n", clock_prefix().c_str(), run_id.c_str(),
                     pipeline.c_str(), steps.size(), parallelism);
        std::fflush(m_out);
    }
    void step_event(const StepEvent& e) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (e.state == "stage") {
            // Every stage of a short run, about every 10% of a long one.
            int step = std::max(1, e.total / 10);
            if (e.done != e.total && e.done % step != 0) {
                return;
            }
            std::fprintf(m_out, "%s%s: %s %d/%d (%s)\n", clock_prefix().c_str(), e.step.c_str(), e.stage.c_str(),
                         e.done, e.total, format_duration_ms(e.elapsed_ms).c_str());
        } else if (e.state == "started") {
            std::fprintf(m_out, "%s%s: started on slot %d (task %s)\n", clock_prefix().c_str(), e.step.c_str(), e.slot,
                         e.task_id.c_str());
        } else {
            std::string metric;
            if (e.has_metric) {
                char buf[64];
                std::snprintf(buf, sizeof buf, ", metric %.4f", e.metric);
                metric = buf;
            }
            std::fprintf(m_out, "%s%s: %s%s%s%s\n", clock_prefix().c_str(), e.step.c_str(), e.state.c_str(),
                         e.elapsed_ms ? (" in " + format_duration_ms(e.elapsed_ms)).c_str() : "", metric.c_str(),
                         e.message.empty() ? "" : (" (" + e.message + ")").c_str());
        }
        std::fflush(m_out);
    }
    void run_finished(const std::string& run_id, const std::string& status, std::int64_t elapsed_ms) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::fprintf(m_out, "%srun %s %s in %s\n", clock_prefix().c_str(), run_id.c_str(), status.c_str(),
                     format_duration_ms(elapsed_ms).c_str());
        std::fflush(m_out);
    }

private:
    std::FILE* m_out;
    std::mutex m_mutex;
};

class JsonProgress final : public RunObserver {
public:
    explicit JsonProgress(std::FILE* out) : m_out(out) {}
    void run_started(const std::string& run_id, const std::string& pipeline, const std::vector<std::string>& steps,
                     int parallelism) override
    {
        emit(Json{{"event", "run_started"},
                  {"run_id", run_id},
                  {"pipeline", pipeline},
                  {"steps", steps},
                  {"parallelism", parallelism},
                  {"time_ms", now_ms()}});
    }
    void step_event(const StepEvent& e) override
    {
        Json j{{"event", e.state == "started" ? "step_started"
                         : e.state == "stage" ? "step_stage"
                                              : "step_finished"},
               {"step", e.step},
               {"task_id", e.task_id},
               {"time_ms", now_ms()}};
        if (e.state == "started") {
            j["slot"] = e.slot;
        } else if (e.state == "stage") {
            j["stage"] = e.stage;
            j["done"] = e.done;
            j["total"] = e.total;
        } else {
            j["status"] = e.state;
            j["elapsed_ms"] = e.elapsed_ms;
            if (!e.message.empty()) {
                j["message"] = e.message;
            }
            if (e.has_metric) {
                j["metric"] = e.metric;
            }
        }
        emit(j);
    }
    void run_finished(const std::string& run_id, const std::string& status, std::int64_t elapsed_ms) override
    {
        emit(Json{{"event", "run_finished"},
                  {"run_id", run_id},
                  {"status", status},
                  {"elapsed_ms", elapsed_ms},
                  {"time_ms", now_ms()}});
    }

private:
    void emit(const Json& j)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::string line = dump_json(j) + "\n";
        std::fwrite(line.data(), 1, line.size(), m_out);
        std::fflush(m_out);
    }
    std::FILE* m_out;
    std::mutex m_mutex;
};

// Redraws a block at the bottom of the terminal: finished steps scroll above it.
class TerminalProgress final : public RunObserver {
public:
    explicit TerminalProgress(std::FILE* out) : m_out(out) {}
    void run_started(const std::string& run_id, const std::string& pipeline, const std::vector<std::string>& steps,
                     int parallelism) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_total = steps.size();
        m_parallelism = parallelism;
        m_start = now_ms();
        std::fprintf(m_out, "run %s of %s: %zu steps, parallelism %d\n", run_id.c_str(), pipeline.c_str(), steps.size(),
                     parallelism);
        draw();
    }
    void step_event(const StepEvent& e) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (e.state == "started") {
            m_running[e.step] = Running{e.slot, "", 0, 0, now_ms()};
        } else if (e.state == "stage") {
            auto it = m_running.find(e.step);
            if (it != m_running.end()) {
                it->second.stage = e.stage;
                it->second.done = e.done;
                it->second.total = e.total;
            }
            if (now_ms() - m_last_draw < 100) {
                return; // at most 10 redraws a second
            }
        } else {
            m_running.erase(e.step);
            ++m_ended;
            if (e.state == "completed" || e.state == "failed") {
                m_durations.push_back(e.elapsed_ms); // skipped and cached steps say nothing of the rest
            }
            clear();
            std::string metric;
            if (e.has_metric) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "  %.4f", e.metric);
                metric = buf;
            }
            const char* colour = e.state == "failed" || e.state == "aborted" ? "\x1b[31m"
                                 : e.state == "skipped"                      ? "\x1b[33m"
                                                                             : "\x1b[32m";
            std::fprintf(m_out, "%s%-9s\x1b[0m %-24s %8s%s%s\n", colour, e.state.c_str(), e.step.c_str(),
                         e.elapsed_ms ? format_duration_ms(e.elapsed_ms).c_str() : "", metric.c_str(),
                         e.message.empty() ? "" : ("  " + e.message).c_str());
        }
        clear();
        draw();
    }
    void run_finished(const std::string& run_id, const std::string& status, std::int64_t elapsed_ms) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        clear();
        std::fprintf(m_out, "run %s %s in %s\n", run_id.c_str(), status.c_str(),
                     format_duration_ms(elapsed_ms).c_str());
        std::fflush(m_out);
    }

private:
    struct Running {
        int slot;
        std::string stage;
        int done, total;
        std::int64_t started;
    };
    void clear()
    {
        for (int i = 0; i < m_drawn; ++i) {
            std::fputs("\x1b[1A\x1b[2K", m_out);
        }
        m_drawn = 0;
    }
    void draw()
    {
        double fraction = 0;
        for (const auto& [name, r] : m_running) {
            if (r.total > 0) {
                fraction += static_cast<double>(r.done) / r.total;
            }
        }
        double progress = m_total ? (m_ended + fraction) / static_cast<double>(m_total) : 1.0;
        const int width = 30;
        int filled = static_cast<int>(progress * width + 0.5);
        std::int64_t now = now_ms();
        std::int64_t elapsed = now - m_start;
        EtaInput eta_in;
        eta_in.ended_ms = m_durations;
        for (const auto& [name, r] : m_running) {
            eta_in.running.push_back({now - r.started, r.total > 0 ? static_cast<double>(r.done) / r.total : 0.0});
        }
        eta_in.waiting = m_total - std::min(m_total, m_ended + m_running.size());
        eta_in.parallelism = m_parallelism;
        std::int64_t remaining = estimate_remaining_ms(eta_in);
        std::string eta = remaining >= 0 ? format_duration_ms(remaining) : "?";
        std::fprintf(m_out, "[%s%s] %3d%%  %zu/%zu steps  elapsed %s  eta %s\n", std::string(filled, '#').c_str(),
                     std::string(width - filled, '.').c_str(), static_cast<int>(progress * 100), m_ended, m_total,
                     format_duration_ms(elapsed).c_str(), eta.c_str());
        m_drawn = 1;
        for (const auto& [name, r] : m_running) {
            std::string stage = r.total > 0 ? r.stage + " " + std::to_string(r.done) + "/" + std::to_string(r.total)
                                            : "running";
            std::fprintf(m_out, "  slot %d  %-24s %-16s %s\n", r.slot, name.c_str(), stage.c_str(),
                         format_duration_ms(now_ms() - r.started).c_str());
            ++m_drawn;
        }
        std::fflush(m_out);
        m_last_draw = now_ms();
    }
    std::FILE* m_out;
    std::mutex m_mutex;
    std::map<std::string, Running> m_running;
    size_t m_total = 0;
    size_t m_ended = 0;
    int m_parallelism = 1;
    std::vector<std::int64_t> m_durations; // of the steps that ran to their end
    int m_drawn = 0;
    std::int64_t m_start = 0;
    std::int64_t m_last_draw = 0;
};

class QuietProgress final : public RunObserver {
public:
    void run_started(const std::string&, const std::string&, const std::vector<std::string>&, int) override {}
    void step_event(const StepEvent&) override {}
    void run_finished(const std::string&, const std::string&, std::int64_t) override {}
};

} // namespace

std::int64_t estimate_remaining_ms(const EtaInput& in)
{
    double mean = -1;
    if (!in.ended_ms.empty()) {
        double sum = 0;
        for (std::int64_t ms : in.ended_ms) {
            sum += static_cast<double>(ms);
        }
        mean = sum / static_cast<double>(in.ended_ms.size());
    }
    double running_sum = 0;
    double longest = 0;
    double seen_total = 0; // the running steps' expected whole durations, for a mean before any ended
    int with_fraction = 0;
    for (const EtaInput::Running& r : in.running) {
        double rest;
        if (r.fraction > 0.02) {
            rest = static_cast<double>(r.elapsed_ms) * (1 - r.fraction) / r.fraction;
            seen_total += static_cast<double>(r.elapsed_ms) / r.fraction;
            ++with_fraction;
        } else if (mean >= 0) {
            rest = std::max(0.0, mean - static_cast<double>(r.elapsed_ms));
        } else {
            return -1;
        }
        running_sum += rest;
        longest = std::max(longest, rest);
    }
    if (in.waiting > 0 && mean < 0) {
        if (with_fraction == 0) {
            return -1;
        }
        mean = seen_total / with_fraction;
    }
    double waiting_work = in.waiting > 0 ? mean * static_cast<double>(in.waiting) : 0.0;
    double spread = (running_sum + waiting_work) / std::max(1, in.parallelism);
    return static_cast<std::int64_t>(std::max(spread, longest) + 0.5);
}

std::unique_ptr<RunObserver> make_progress(ProgressMode mode, std::FILE* out)
{
    switch (mode) {
    case ProgressMode::terminal: return std::make_unique<TerminalProgress>(out);
    case ProgressMode::plain: return std::make_unique<PlainProgress>(out);
    case ProgressMode::json: return std::make_unique<JsonProgress>(out);
    case ProgressMode::quiet: return std::make_unique<QuietProgress>();
    }
    return std::make_unique<PlainProgress>(out);
}

} // namespace mlrun
