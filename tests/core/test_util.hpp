#pragma once
// Helpers for the core suite: a fresh temp folder per test, and running the built mlrun
// binary with arguments, capturing its stdout, stderr and exit code.
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <poll.h>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace mlrun::test {

namespace fs = std::filesystem;

// A new empty folder under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
public:
    TempDir()
    {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/mlrun_test_XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (!::mkdtemp(buf.data())) {
            throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
        }
        m_path = buf.data();
    }
    ~TempDir()
    {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const fs::path& path() const { return m_path; }
    fs::path operator/(const std::string& rel) const { return m_path / rel; }
    // The store used by run() below: <temp>/.mlrun.
    fs::path home() const { return m_path / ".mlrun"; }

private:
    fs::path m_path;
};

struct RunResult {
    int code = -1; // exit status; 128 + signal when killed
    std::string out;
    std::string err;
    double seconds = 0; // wall time
};

inline std::string read_text(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void write_text(const fs::path& path, const std::string& text)
{
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

// Runs MLRUN_BIN with `args` in folder `cwd`, with MLRUN_HOME=<cwd>/.mlrun unless `env`
// gives one. Variables that would point a child at another store or task are cleared.
inline RunResult run_in(const fs::path& cwd, const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env = {})
{
    int out_pipe[2];
    int err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }
    std::vector<std::string> argv_s{MLRUN_BIN};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_s) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    std::map<std::string, std::string> vars{{"MLRUN_HOME", (cwd / ".mlrun").string()}};
    for (const auto& [k, v] : env) {
        vars[k] = v;
    }
    auto start = std::chrono::steady_clock::now();
    pid_t pid = ::fork();
    if (pid < 0) {
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        ::dup2(out_pipe[1], 1);
        ::dup2(err_pipe[1], 2);
        int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, 0);
        if (::chdir(cwd.c_str()) != 0) {
            ::_exit(126);
        }
        for (const char* v :
             {"MLRUN_TASK_ID", "MLRUN_TRACKING_URI", "MLRUN_QUEUE_URI", "MLRUN_OUTPUT_DIR", "MLRUN_PARAMS"}) {
            ::unsetenv(v);
        }
        for (const auto& [k, v] : vars) {
            ::setenv(k.c_str(), v.c_str(), 1);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    RunResult r;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    char buf[8192];
    while (open_fds > 0) {
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
                if (n > 0) {
                    (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
                } else if (n == 0 || errno != EINTR) {
                    ::close(fds[i].fd);
                    fds[i].fd = -1;
                    --open_fds;
                }
            }
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

inline RunResult run(const TempDir& dir, const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env = {})
{
    return run_in(dir.path(), args, env);
}

// The text without its trailing newline(s).
inline std::string trim(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
        s.pop_back();
    }
    return s;
}

inline std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(line);
    }
    return lines;
}

// Creates a task with `mlrun task create` and returns its id; throws on failure.
inline std::string create_task_cli(const TempDir& dir, const std::vector<std::string>& args)
{
    std::vector<std::string> full{"task", "create"};
    full.insert(full.end(), args.begin(), args.end());
    RunResult r = run(dir, full);
    if (r.code != 0) {
        throw std::runtime_error("mlrun task create failed: " + r.err);
    }
    return trim(r.out);
}

// The task record as `mlrun task show --json` prints it.
inline nlohmann::json show_json(const TempDir& dir, const std::string& id)
{
    RunResult r = run(dir, {"task", "show", id, "--json"});
    if (r.code != 0) {
        throw std::runtime_error("mlrun task show failed: " + r.err);
    }
    return nlohmann::json::parse(r.out);
}

// Number of entries in a folder (0 when it does not exist).
inline size_t count_entries(const fs::path& dir)
{
    std::error_code ec;
    size_t n = 0;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
        ++n;
    }
    return n;
}

} // namespace mlrun::test
