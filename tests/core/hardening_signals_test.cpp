// Issue 12, the rough edges of processes and logs: a task child or an exec command that dies
// by a signal ends failed with the signal named (error class crash), the driver's own fatal
// signal prints one line and re-raises, an exec step's process group dies with its `sh`
// (killed or aborted), and `task logs -f` follows a capped log without repeating or missing
// anything the cut kept.
#include "engine_test_util.hpp"

#include "core/crash.hpp"
#include "engine/child_process_runner.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

using namespace mlrun;
namespace fs = std::filesystem;
using mlrun::test::RunResult;
using mlrun::test::TempDir;

namespace {

RunResult cli(const TempDir& dir, const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env = {})
{
    std::vector<std::string> all{"--templates", mlrun::test::k_templates};
    all.insert(all.end(), args.begin(), args.end());
    return mlrun::test::run(dir, all, env);
}

// mlrun in the background with extra environment; stdout and stderr to files in the temp folder.
class Spawned {
public:
    Spawned(const TempDir& dir, std::vector<std::string> args, const std::map<std::string, std::string>& env = {},
            const std::string& name = "spawned")
        : m_out(dir / (name + ".out")), m_err(dir / (name + ".err"))
    {
        args.insert(args.begin(), {MLRUN_BIN, "--templates", mlrun::test::k_templates});
        std::vector<char*> argv;
        for (std::string& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        const std::string home = dir.home().string();
        m_pid = ::fork();
        REQUIRE(m_pid >= 0);
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
            ::setenv("MLRUN_HOME", home.c_str(), 1);
            for (const auto& [k, v] : env) {
                ::setenv(k.c_str(), v.c_str(), 1);
            }
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
    }
    ~Spawned()
    {
        if (m_pid > 0 && !m_reaped) {
            ::kill(m_pid, SIGKILL);
            int status = 0;
            ::waitpid(m_pid, &status, 0);
        }
    }
    Spawned(const Spawned&) = delete;
    Spawned& operator=(const Spawned&) = delete;

    int pid() const { return m_pid; }
    // Exit code (128 + signal), or -1 when still running after `seconds`.
    int wait(double seconds)
    {
        const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        while (true) {
            int status = 0;
            if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
                m_reaped = true;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            if (std::chrono::steady_clock::now() > end) {
                return -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    std::string err() const { return mlrun::test::read_text(m_err); }

private:
    fs::path m_out;
    fs::path m_err;
    pid_t m_pid = -1;
    bool m_reaped = false;
};

struct ProcInfo {
    int pid = 0;
    int ppid = 0;
    int pgrp = 0;
    char state = '?';
    std::string comm;
    std::string cmdline;
};

// The bytes of a /proc file ("" when the process is gone).
std::string proc_file(const std::string& path)
{
    std::string out;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return out;
    }
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

// Every process /proc shows (zombies included, state 'Z').
std::vector<ProcInfo> processes()
{
    std::vector<ProcInfo> out;
    DIR* d = ::opendir("/proc");
    if (!d) {
        return out;
    }
    while (dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const std::string text = proc_file("/proc/" + name + "/stat");
        const size_t open = text.find('(');
        const size_t close = text.rfind(')');
        if (open == std::string::npos || close == std::string::npos || close + 2 > text.size()) {
            continue;
        }
        ProcInfo p;
        p.pid = std::stoi(name);
        p.comm = text.substr(open + 1, close - open - 1);
        std::istringstream rest(text.substr(close + 2));
        rest >> p.state >> p.ppid >> p.pgrp;
        p.cmdline = proc_file("/proc/" + name + "/cmdline");
        std::replace(p.cmdline.begin(), p.cmdline.end(), '\0', ' ');
        out.push_back(p);
    }
    ::closedir(d);
    return out;
}

// The live (not zombie) members of process group `pgid` running `sleep 300`.
std::vector<int> live_sleepers(int pgid)
{
    std::vector<int> out;
    for (const ProcInfo& p : processes()) {
        if (p.pgrp == pgid && p.state != 'Z' && p.comm == "sleep" && p.cmdline.find("sleep 300") != std::string::npos) {
            out.push_back(p.pid);
        }
    }
    return out;
}

// The `sh` an exec step started, as a child of `parent`, once both its `sleep 300` run; 0
// after `seconds` without.
int exec_shell_of(int parent, double seconds)
{
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
        for (const ProcInfo& p : processes()) {
            if (p.ppid == parent && p.comm == "sh" && p.state != 'Z' && live_sleepers(p.pid).size() == 2) {
                return p.pid;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
}

// True once no `sleep 300` of group `pgid` is alive, within `seconds`.
bool group_gone_within(int pgid, double seconds)
{
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
        if (live_sleepers(pgid).empty()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return live_sleepers(pgid).empty();
}

std::string create(const TempDir& dir, const std::vector<std::string>& args)
{
    std::vector<std::string> all{"task", "create"};
    all.insert(all.end(), args.begin(), args.end());
    RunResult r = cli(dir, all);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return mlrun::test::trim(r.out);
}

} // namespace

TEST_CASE("signals: an exec command killed by SIGSEGV fails its task with the signal named (error class crash)")
{
    TempDir dir;
    const std::string id = create(dir, {"exec", "--set", "command=echo before; kill -SEGV $$"});
    RunResult r = cli(dir, {"task", "run", "-q", id});
    CAPTURE(r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find("terminate called") == std::string::npos);
    Json t = mlrun::test::show_json(dir, id);
    CHECK(t["status"] == "failed");
    CHECK(t["error_class"] == k_error_class_crash);
    CHECK(t["exit_code"] == 139);
    CHECK(t["error"].get<std::string>().find("killed by signal 11 (SIGSEGV)") != std::string::npos);
}

TEST_CASE("signals: the driver's fatal signal prints one line naming the run, re-raises, and --resume continues")
{
    TempDir dir;
    mlrun::test::write_text(dir / "p.yaml", "name: segv\nsteps:\n  - {name: a, template: noop}\n"
                                            "  - {name: b, template: noop, parents: [a], params: {value: 1}}\n");
    RunResult r = cli(dir, {"pipeline", "run", "-q", (dir / "p.yaml").string()}, {{"MLRUN_TEST_CRASH", "segv"}});
    CAPTURE(r.err);
    CHECK(r.code == 128 + SIGSEGV); // the signal again, default action: the parent sees it
    CHECK(r.err.find("terminate called") == std::string::npos);
    const std::regex line("mlrun: internal error: SIGSEGV; the run is marked dead and `mlrun pipeline run --resume "
                          "([0-9a-z]+)` continues it\n");
    std::smatch m;
    REQUIRE(std::regex_search(r.err, m, line));
    const std::string run = m[1];
    RunResult list = cli(dir, {"pipeline", "list"});
    CAPTURE(list.out);
    CHECK(list.out.find(run) != std::string::npos);
    CHECK(list.out.find("running") == std::string::npos);
    RunResult resumed = cli(dir, {"pipeline", "run", "-q", "--resume", run});
    CAPTURE(resumed.err);
    CHECK(resumed.code == 0);
}

TEST_CASE("signals: a task child that dies of SIGSEGV ends its step failed (crash), never in_progress")
{
    TempDir dir;
    Backends b = mlrun::test::engine_backends(dir);
    const std::string file = mlrun::test::write_pipeline(dir,
                                                         "name: child\nsteps:\n  - {name: only, template: noop}\n");
    // The children inherit it (the hook of tasks/core/noop.cpp); no task runs in this process meanwhile.
    ::setenv("MLRUN_TEST_CRASH", "segv", 1);
    PipelineResult r;
    {
        ChildProcessStepRunner children(*b.store, MLRUN_BIN, dir.home());
        PipelineOptions o = mlrun::test::quiet_options();
        o.runner = &children;
        r = run_pipeline(b.ports(), file, o);
    }
    ::unsetenv("MLRUN_TEST_CRASH");
    CHECK(r.status == "failed");
    Task t = b.store->get(mlrun::test::node_tasks(r.record).at("only"));
    CAPTURE(t.error);
    CHECK(t.status == Status::failed);
    CHECK(t.error_class == k_error_class_crash);
    CHECK(t.error.find("killed by signal 11 (SIGSEGV)") != std::string::npos);
    CHECK(t.error.find("mlrun: internal error: SIGSEGV") != std::string::npos); // the child's last line
}

TEST_CASE("signals: killing an exec step's sh kills its whole process group; so does task abort")
{
    TempDir dir;
    SUBCASE("the sh killed")
    {
        const std::string id = create(dir, {"exec", "--set", "command=sleep 300 & sleep 300 & wait"});
        Spawned runner(dir, {"task", "run", "-q", id});
        const int sh = exec_shell_of(runner.pid(), 20);
        REQUIRE_MESSAGE(sh != 0, runner.err());
        ::kill(sh, SIGKILL);
        CHECK(group_gone_within(sh, 2.0));
        CHECK(runner.wait(10) == 1);
        Json t = mlrun::test::show_json(dir, id);
        CHECK(t["status"] == "failed");
        CHECK(t["error"].get<std::string>().find("SIGKILL") != std::string::npos);
    }
    SUBCASE("task abort")
    {
        const std::string id = create(dir, {"exec", "--set", "command=sleep 300 & sleep 300 & wait"});
        Spawned runner(dir, {"task", "run", "-q", id});
        const int sh = exec_shell_of(runner.pid(), 20);
        REQUIRE_MESSAGE(sh != 0, runner.err());
        RunResult abort = cli(dir, {"task", "abort", id});
        REQUIRE_MESSAGE(abort.code == 0, abort.err);
        CHECK(group_gone_within(sh, 5.0)); // the abort watcher's poll, then SIGTERM to the group
        CHECK(runner.wait(10) == 130);
        CHECK(mlrun::test::show_json(dir, id)["status"] == "aborted");
    }
}

TEST_CASE("logs: task logs -f over a capped log neither repeats nor misses what the cut kept")
{
    TempDir dir;
    // Bursts of numbered lines (~34 kB each) against a 20 kB cap: the log is cut again and
    // again while the follower reads it.
    const std::string id = create(
        dir, {"exec", "--set",
              "command=for i in $(seq 0 11); do seq $((i*6000+1)) $((i*6000+6000)); sleep 0.3; done; echo the-end"});
    Spawned runner(dir, {"task", "run", "-q", id}, {{"MLRUN_LOG_MAX_BYTES", "20000"}});
    // Follow from when it runs (a queued or draft task's follower would return at once).
    for (int i = 0; i < 200 && mlrun::test::show_json(dir, id)["status"] != "in_progress"; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    RunResult follow = cli(dir, {"task", "logs", "-f", id});
    REQUIRE(runner.wait(60) == 0);
    REQUIRE(follow.code == 0);
    const fs::path log = dir.home() / "tasks" / id / "log.txt";
    CHECK(fs::file_size(log) <= 20000 + 200);

    const auto check_stream = [](const std::string& text) {
        const std::regex marker(R"(\[mlrun: log over its cap \(MLRUN_LOG_MAX_BYTES\): the middle is cut here, )"
                                R"(([0-9]+) bytes\])");
        long last = 0;       // the last number printed
        long gap_bytes = -1; // bytes a marker said were cut, until the next number
        int markers = 0;
        bool ended = false;
        for (const std::string& line : mlrun::test::lines_of(text)) {
            std::smatch m;
            if (std::regex_match(line, m, marker)) {
                CHECK(gap_bytes < 0); // one marker per gap
                gap_bytes = std::stol(m[1]);
                ++markers;
                continue;
            }
            if (line.empty() || line.find_first_not_of("0123456789") != std::string::npos) {
                ended = ended || line == "the-end";
                continue;
            }
            const long n = std::stol(line);
            if (gap_bytes < 0) {
                CHECK_MESSAGE(n == last + 1, "after " << last << " came " << n); // no repeat, no loss
            } else {
                // The marker stands for exactly the lines between: "k\n" for each k skipped.
                long missing = 0;
                for (long k = last + 1; k < n; ++k) {
                    missing += static_cast<long>(std::to_string(k).size()) + 1;
                }
                CHECK_MESSAGE(n > last + 1, "a marker but nothing missing before " << n);
                CHECK_MESSAGE(missing == gap_bytes, "between " << last << " and " << n);
                gap_bytes = -1;
            }
            last = n;
        }
        CHECK(last == 72000);
        CHECK(ended);
        CHECK(markers >= 1);
        CHECK(text.find("mlrun: completed") != std::string::npos);
        return markers;
    };
    CAPTURE(follow.err);
    check_stream(follow.out);
    // Read whole afterwards: the head, one marker, the tail.
    RunResult whole = cli(dir, {"task", "logs", id});
    CHECK(whole.code == 0);
    CHECK(check_stream(whole.out) == 1);
    CHECK(whole.out.find("started, attempt 1") != std::string::npos);
}
