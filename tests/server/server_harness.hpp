#pragma once
// The submission server under test: a real `mlrun server` child on a free loopback port
// (--listen 127.0.0.1:0; the port read from its first line), real agents as children, and
// an httplib client. Each child's output is drained by the thread that spawned it (so a
// chatty access log never blocks it, and PDEATHSIG ties it to that thread).
#include "../core/test_util.hpp"

#include "platform/subprocess.hpp"

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace mlrun::test {

using Json = nlohmann::json;

// SIGPIPE ignored while a test lives: a server closing a connection mid-upload (413) must
// fail the client's write, not kill the test binary. Restored when destroyed.
class IgnoreSigpipe {
public:
    IgnoreSigpipe() { m_old = ::signal(SIGPIPE, SIG_IGN); }
    ~IgnoreSigpipe() { ::signal(SIGPIPE, m_old); }
    IgnoreSigpipe(const IgnoreSigpipe&) = delete;
    IgnoreSigpipe& operator=(const IgnoreSigpipe&) = delete;

private:
    void (*m_old)(int) = SIG_DFL;
};

// A long-running mlrun child (server or agent): spawned and waited on by its own thread.
class Child {
public:
    Child(const std::vector<std::string>& args, const std::vector<std::pair<std::string, std::string>>& env,
          const fs::path& cwd)
    {
        m_thread = std::thread([this, args, env, cwd] {
            SubprocessOptions o;
            o.argv = {MLRUN_BIN};
            o.argv.insert(o.argv.end(), args.begin(), args.end());
            o.env = env;
            o.cwd = cwd;
            o.die_with_parent = true;
            try {
                Subprocess p = Subprocess::spawn(o);
                {
                    std::lock_guard<std::mutex> lock(m_mutex);
                    m_pid = p.pid();
                }
                m_cv.notify_all();
                ExitStatus st = p.wait([this](std::string_view line) {
                    std::lock_guard<std::mutex> lock(m_mutex);
                    m_output += std::string(line) + "\n";
                    m_cv.notify_all();
                });
                std::lock_guard<std::mutex> lock(m_mutex);
                m_status = st;
            } catch (const std::exception& e) {
                std::lock_guard<std::mutex> lock(m_mutex);
                m_output += std::string("spawn failed: ") + e.what() + "\n";
                m_status = ExitStatus{};
                m_status->exit_code = 127;
            }
            m_cv.notify_all();
        });
    }
    ~Child()
    {
        if (!exited()) {
            signal(SIGKILL);
        }
        m_thread.join();
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    void signal(int sig)
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_cv.wait_for(lock, std::chrono::seconds(10), [&] { return m_pid > 0 || m_status; });
        if (m_pid > 0 && !m_status) {
            ::kill(m_pid, sig);
        }
    }
    bool exited()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_status.has_value();
    }
    // Waits at most timeout_ms for the exit.
    std::optional<ExitStatus> wait(int timeout_ms)
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return m_status.has_value(); });
        return m_status;
    }
    std::string output()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_output;
    }
    // Waits until the output holds `text` (or the child exited); true when it does.
    bool wait_for_output(const std::string& text, int timeout_ms)
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        return m_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
            return m_output.find(text) != std::string::npos || m_status.has_value();
        }) && m_output.find(text) != std::string::npos;
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    int m_pid = 0;
    std::optional<ExitStatus> m_status;
    std::string m_output;
    std::thread m_thread;
};

inline std::vector<std::pair<std::string, std::string>>
child_env(const TempDir& dir, const std::vector<std::pair<std::string, std::string>>& extra = {})
{
    std::vector<std::pair<std::string, std::string>> env{{"MLRUN_HOME", dir.home().string()},
                                                         {"MLRUN_BROKER", ""},
                                                         {"MLRUN_QUEUE_URI", ""},
                                                         {"MLRUN_TRACKING_URI", ""},
                                                         {"MLFLOW_TRACKING_URI", ""}};
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
}

// `mlrun server` on 127.0.0.1:<free port>.
class ServerProcess {
public:
    ServerProcess(const TempDir& dir, const std::vector<std::string>& global, const std::vector<std::string>& args,
                  const std::vector<std::pair<std::string, std::string>>& env = {})
    {
        std::vector<std::string> all = global;
        all.insert(all.end(), {"server", "--listen", "127.0.0.1:0"});
        all.insert(all.end(), args.begin(), args.end());
        m_child = std::make_unique<Child>(all, child_env(dir, env), dir.path());
        if (!m_child->wait_for_output("listening on http://127.0.0.1:", 20'000)) {
            throw std::runtime_error("the server did not start: " + m_child->output());
        }
        const std::string out = m_child->output();
        const std::string marker = "listening on http://127.0.0.1:";
        m_port = std::stoi(out.substr(out.find(marker) + marker.size()));
    }

    int port() const { return m_port; }
    Child& child() { return *m_child; }
    httplib::Client client() const
    {
        httplib::Client c("127.0.0.1", m_port);
        c.set_read_timeout(30, 0);
        c.set_connection_timeout(5, 0);
        return c;
    }

private:
    std::unique_ptr<Child> m_child;
    int m_port = 0;
};

inline httplib::Headers bearer(const std::string& token)
{
    return httplib::Headers{{"Authorization", "Bearer " + token}};
}

// `mlrun [global] server token create NAME ARGS...`: the secret.
inline std::string create_token(const TempDir& dir, const std::vector<std::string>& global, const std::string& name,
                                const std::vector<std::string>& args = {})
{
    std::vector<std::string> all = global;
    all.insert(all.end(), {"server", "token", "create", name});
    all.insert(all.end(), args.begin(), args.end());
    RunResult r = run(dir, all);
    if (r.code != 0) {
        throw std::runtime_error("token create failed: " + r.err);
    }
    return trim(r.out);
}

inline Json json_of(const httplib::Result& r)
{
    if (!r) {
        throw std::runtime_error("no answer: " + httplib::to_string(r.error()));
    }
    return Json::parse(r->body);
}

// Polls `done` every 50 ms for at most timeout_ms.
inline bool eventually(const std::function<bool()>& done, int timeout_ms)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
}

// POST /submissions of `content` as file `file_name`.
inline httplib::Result upload(httplib::Client& c, const std::string& token, const std::string& file_name,
                              const std::string& content, const std::string& name = "sub",
                              const std::string& target = "survived")
{
    httplib::MultipartFormDataItems items{
        {"name", name, "", ""}, {"target", target, "", ""}, {"file", content, file_name, "application/octet-stream"}};
    return c.Post("/submissions", bearer(token), items);
}

// Files and records under the store a bad request must not have added to.
inline std::size_t stored_count(const TempDir& dir)
{
    std::size_t n = 0;
    for (const char* sub : {"datasets", "records/server_submissions", "records/server_jobs", "tasks"}) {
        n += count_entries(dir.home() / sub);
    }
    return n + count_entries(dir.home() / "server" / "uploads");
}

} // namespace mlrun::test
