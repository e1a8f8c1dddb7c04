#pragma once
// Helpers for the engine suites: pipeline files in a temp folder, the library entry point
// with a LocalStore there, and the mlrun binary started in the background (for signals).
#include "test_util.hpp"

#include "app/wiring.hpp"
#include "core/error.hpp"
#include "engine/pipeline_runner.hpp"
#include "ports/task_store.hpp"
#include "store/local_store.hpp"

#include <csignal>
#include <thread>

namespace mlrun::test {

inline const std::string k_templates = std::string(MLRUN_SOURCE_DIR) + "/templates";

inline Backends engine_backends(const TempDir& dir)
{
    BackendOptions options;
    options.home = dir.home().string();
    return open_backends(options);
}

// Writes `yaml` to <dir>/<name> and returns its path.
inline std::string write_pipeline(const TempDir& dir, const std::string& yaml,
                                  const std::string& name = "pipeline.yaml")
{
    write_text(dir / name, yaml);
    return (dir / name).string();
}

inline PipelineOptions quiet_options()
{
    PipelineOptions o;
    o.templates_dir = k_templates;
    o.cores = 2;
    return o;
}

// `mlrun --templates <source>/templates ARGS` in the temp folder.
inline RunResult run_cli(const TempDir& dir, std::vector<std::string> args)
{
    args.insert(args.begin(), {"--templates", k_templates});
    return run(dir, args);
}

// Node name -> state of a run record.
inline std::map<std::string, std::string> node_states(const Json& record)
{
    std::map<std::string, std::string> out;
    for (const Json& n : record["nodes"]) {
        out[n["name"].get<std::string>()] = n["state"].get<std::string>();
    }
    return out;
}

inline std::map<std::string, std::string> node_tasks(const Json& record)
{
    std::map<std::string, std::string> out;
    for (const Json& n : record["nodes"]) {
        out[n["name"].get<std::string>()] = n.value("task_id", "");
    }
    return out;
}

// The run id printed by `pipeline run` ("run <id> <status>...").
inline std::string run_id_of(const std::string& out)
{
    for (const std::string& line : lines_of(out)) {
        if (line.rfind("run ", 0) == 0) {
            std::string rest = line.substr(4);
            return rest.substr(0, rest.find(' '));
        }
    }
    return "";
}

// mlrun started in the background, stdout/stderr to files, for signal tests.
class Background {
public:
    Background(const TempDir& dir, std::vector<std::string> args) : m_out(dir / "bg.out"), m_err(dir / "bg.err")
    {
        args.insert(args.begin(), {MLRUN_BIN, "--templates", k_templates});
        std::vector<char*> argv;
        for (std::string& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        std::string home = dir.home().string();
        m_pid = ::fork();
        if (m_pid < 0) {
            throw std::runtime_error("fork failed");
        }
        if (m_pid == 0) {
            int out = ::open(m_out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            int err = ::open(m_err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            int in = ::open("/dev/null", O_RDONLY);
            ::dup2(in, 0);
            ::dup2(out, 1);
            ::dup2(err, 2);
            if (::chdir(dir.path().c_str()) != 0) {
                ::_exit(126);
            }
            for (const char* v :
                 {"MLRUN_TASK_ID", "MLRUN_TRACKING_URI", "MLRUN_QUEUE_URI", "MLRUN_OUTPUT_DIR", "MLRUN_PARAMS"}) {
                ::unsetenv(v);
            }
            ::setenv("MLRUN_HOME", home.c_str(), 1);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
    }
    ~Background()
    {
        if (m_pid > 0 && !m_reaped) {
            ::kill(m_pid, SIGKILL);
            int status = 0;
            ::waitpid(m_pid, &status, 0);
        }
    }
    Background(const Background&) = delete;
    Background& operator=(const Background&) = delete;

    void signal(int sig) const { ::kill(m_pid, sig); }

    // Exit code (128 + signal when killed), or -1 when still running after `seconds`.
    int wait(double seconds)
    {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        while (std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            pid_t r = ::waitpid(m_pid, &status, WNOHANG);
            if (r == m_pid) {
                m_reaped = true;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return -1;
    }
    std::string out() const { return read_text(m_out); }
    std::string err() const { return read_text(m_err); }

private:
    fs::path m_out;
    fs::path m_err;
    pid_t m_pid = -1;
    bool m_reaped = false;
};

// Polls `cond` every 20 ms for up to `seconds`.
template <typename F>
bool wait_until(F cond, double seconds)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
        if (cond()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return cond();
}

} // namespace mlrun::test
