// Plugin: load errors carry dlerror's text. Subprocess: exit statuses, output lines, environment, errors, and that no
// child, grandchild or zombie survives a timeout, a cancel, a destructor, a throwing callback or a dead parent.
#include "platform/plugin.hpp"
#include "platform/subprocess.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <unistd.h>

using namespace mlrun;
using namespace mlrun::test;

namespace {

using Clock = std::chrono::steady_clock;

// Every wait in these tests is bounded by this, so that a bug fails a test instead of hanging it.
constexpr int k_limit_ms = 10000;

double seconds_since(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

SubprocessOptions shell(const std::string& script)
{
    SubprocessOptions options;
    options.argv = {"sh", "-c", script};
    return options;
}

struct Run {
    ExitStatus status;
    std::vector<std::string> lines;
    double seconds = 0;
};

Run run(const SubprocessOptions& options, int timeout_ms = k_limit_ms, const std::atomic<bool>* cancel = nullptr)
{
    Run r;
    Clock::time_point start = Clock::now();
    Subprocess child = Subprocess::spawn(options);
    r.status = child.wait([&](std::string_view line) { r.lines.emplace_back(line); }, timeout_ms, cancel);
    r.seconds = seconds_since(start);
    return r;
}

// True once `pid` no longer runs: gone from /proc, or a zombie waiting for a reaper that
// is not us (an orphan reparented to init). Waits up to `within_ms`.
bool process_gone(pid_t pid, int within_ms = 3000)
{
    Clock::time_point until = Clock::now() + std::chrono::milliseconds(within_ms);
    while (true) {
        std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        size_t paren = stat.rfind(')');
        if (!in.is_open() || stat.empty() || paren == std::string::npos || paren + 2 >= stat.size()
            || stat[paren + 2] == 'Z' || stat[paren + 2] == 'X') {
            return true;
        }
        if (Clock::now() >= until) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

// True when `pid`, a child of this process, was already reaped (not running, not a zombie of ours).
bool reaped(pid_t pid)
{
    int status = 0;
    return ::waitpid(pid, &status, WNOHANG) < 0 && errno == ECHILD;
}

// Zombies whose parent is this process: children that exited and nobody reaped.
int our_zombies()
{
    int count = 0;
    for (const fs::directory_entry& e : fs::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue; // not a process
        }
        std::ifstream in(e.path() / "stat");
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        size_t paren = stat.rfind(')');
        if (paren == std::string::npos || paren + 4 >= stat.size()) {
            continue;
        }
        std::istringstream fields(stat.substr(paren + 2));
        char state = 0;
        long ppid = 0;
        fields >> state >> ppid;
        if (state == 'Z' && ppid == ::getpid()) {
            ++count;
        }
    }
    return count;
}

// Reads output lines from a running child until `count` lines came (or EOF / the time limit).
std::vector<std::string> read_lines(Subprocess& child, size_t count)
{
    std::vector<std::string> lines;
    std::string buffer;
    Clock::time_point until = Clock::now() + std::chrono::milliseconds(k_limit_ms);
    while (lines.size() < count && Clock::now() < until) {
        pollfd fd{child.output_fd(), POLLIN, 0};
        ::poll(&fd, 1, 100);
        bool open = child.read_available(buffer);
        size_t nl;
        while ((nl = buffer.find('\n')) != std::string::npos) {
            lines.push_back(buffer.substr(0, nl));
            buffer.erase(0, nl + 1);
        }
        if (!open) {
            break;
        }
    }
    return lines;
}

} // namespace

TEST_CASE("subprocess: exit codes and signals are reported and described")
{
    Run three = run(shell("exit 3"));
    CHECK_FALSE(three.status.signaled);
    CHECK(three.status.exit_code == 3);
    CHECK(three.status.describe() == "exit code 3");
    CHECK(three.status.shell_code() == 3);

    Run killed = run(shell("kill -KILL $$"));
    CHECK(killed.status.signaled);
    CHECK(killed.status.signal == SIGKILL);
    CHECK(killed.status.describe() == "killed by signal 9 (SIGKILL)");
    CHECK(killed.status.shell_code() == 128 + SIGKILL);

    Run ok = run(shell("true"));
    CHECK(ok.status.exit_code == 0);
    CHECK_FALSE(ok.status.timed_out);
    CHECK_FALSE(ok.status.cancelled);
}

TEST_CASE("subprocess: output arrives line by line, stderr merged or not")
{
    Run r = run(shell("printf 'a\\nb\\n\\nlast without newline'"));
    CHECK(r.lines == std::vector<std::string>{"a", "b", "", "last without newline"});

    Run merged = run(shell("echo out; echo err >&2; echo out2"));
    CHECK(merged.lines == std::vector<std::string>{"out", "err", "out2"});

    SubprocessOptions separate = shell("echo out; echo '(expected on stderr: merge_stderr=false)' >&2");
    separate.merge_stderr = false;
    CHECK(run(separate).lines == std::vector<std::string>{"out"});

    SUBCASE("a line over 1 MiB is cut into pieces, nothing lost")
    {
        Run big = run(shell("head -c 3000000 /dev/zero | tr '\\0' a; echo; echo tail"));
        REQUIRE(big.lines.size() == 4);
        CHECK(big.lines[0].size() == (1u << 20));
        CHECK(big.lines[1].size() == (1u << 20));
        CHECK(big.lines[0].size() + big.lines[1].size() + big.lines[2].size() == 3000000);
        CHECK(big.lines[3] == "tail");
    }
}

TEST_CASE("subprocess: env is added and overrides, cwd is applied, argv is passed as is")
{
    TempDir dir;
    SubprocessOptions options = shell("echo \"$MLRUN_SUBPROCESS_TEST|$HOME\"; pwd -P");
    options.env = {{"MLRUN_SUBPROCESS_TEST", "first"}, {"HOME", "/nowhere"}, {"MLRUN_SUBPROCESS_TEST", "added"}};
    options.cwd = dir.path();
    Run r = run(options);
    REQUIRE(r.lines.size() == 2);
    CHECK(r.lines[0] == "added|/nowhere");
    CHECK(r.lines[1] == fs::canonical(dir.path()).string());
    CHECK(std::getenv("MLRUN_SUBPROCESS_TEST") == nullptr); // the parent's environment is untouched

    SubprocessOptions list;
    list.argv = {"printf", "%s|", "a  b", "$HOME;x"};
    CHECK(run(list).lines == std::vector<std::string>{"a  b|$HOME;x|"});
}

TEST_CASE("subprocess: a program that cannot run is an error naming it, and leaves no child")
{
    auto error_of = [](const SubprocessOptions& options) -> std::string {
        try {
            Subprocess::spawn(options);
        } catch (const std::system_error& e) {
            return e.what();
        }
        return "";
    };
    const int zombies_before = our_zombies();
    SubprocessOptions missing;
    missing.argv = {"no_such_program_mlrun_xyz", "x"};
    CHECK(error_of(missing).find("\"no_such_program_mlrun_xyz\"") != std::string::npos);

    SubprocessOptions absolute;
    absolute.argv = {"/nonexistent/prog"};
    std::string error = error_of(absolute);
    CHECK(error.find("/nonexistent/prog") != std::string::npos);
    CHECK(error.find("No such file") != std::string::npos);

    TempDir dir;
    write_text(dir / "not_executable", "#!/bin/sh\n");
    SubprocessOptions denied;
    denied.argv = {(dir / "not_executable").string()};
    CHECK(error_of(denied).find("Permission denied") != std::string::npos);

    SubprocessOptions bad_cwd = shell("true");
    bad_cwd.cwd = dir / "missing";
    CHECK(error_of(bad_cwd).find((dir / "missing").string()) != std::string::npos);

    CHECK(our_zombies() == zombies_before); // the children whose exec failed were reaped
}

TEST_CASE("subprocess: a timeout kills the whole group, grandchildren too")
{
    SubprocessOptions options = shell("sleep 100 & echo $!; sleep 100");
    options.kill_grace_ms = 2000;
    Run r = run(options, 500);
    CHECK(r.status.timed_out);
    CHECK_FALSE(r.status.cancelled);
    CHECK(r.status.describe() == "timed out after 500 ms");
    CHECK(r.seconds >= 0.45);
    CHECK(r.seconds < 3.0);
    REQUIRE(r.lines.size() == 1);
    CHECK(process_gone(std::stoi(r.lines[0])));
}

TEST_CASE("subprocess: a group that ignores SIGTERM gets SIGKILL after the grace")
{
    // `trap '' TERM` is inherited by sleep: only SIGKILL ends them.
    SubprocessOptions options = shell("trap '' TERM; sleep 100 & echo $!; sleep 100");
    options.kill_grace_ms = 300;
    Run r = run(options, 200);
    CHECK(r.status.timed_out);
    CHECK(r.status.signaled);
    CHECK(r.status.signal == SIGKILL);
    CHECK(r.seconds >= 0.45);
    CHECK(r.seconds < 3.0);
    REQUIRE(r.lines.size() == 1);
    CHECK(process_gone(std::stoi(r.lines[0])));
}

TEST_CASE("subprocess: cancel terminates the group promptly")
{
    std::atomic<bool> cancel{false};
    std::thread setter([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        cancel = true;
    });
    Run r = run(shell("sleep 100 & echo $!; sleep 100"), k_limit_ms, &cancel);
    setter.join();
    CHECK(r.status.cancelled);
    CHECK_FALSE(r.status.timed_out);
    CHECK(r.status.describe() == "cancelled");
    CHECK(r.seconds < 3.0);
    REQUIRE(r.lines.size() == 1);
    CHECK(process_gone(std::stoi(r.lines[0])));
}

TEST_CASE("subprocess: background children die with the leader, even when it is killed from outside")
{
    SUBCASE("a background child holding the pipe does not hold the wait")
    {
        Run r = run(shell("(sleep 100; echo late) & echo $!; echo early"));
        CHECK(r.status.exit_code == 0);
        CHECK(r.seconds < 3.0);
        REQUIRE(r.lines.size() == 2);
        CHECK(r.lines[1] == "early");
        CHECK(process_gone(std::stoi(r.lines[0])));
    }
    SUBCASE("SIGKILL of the shell from outside ends its children too")
    {
        Subprocess child = Subprocess::spawn(shell("sleep 100 & echo $!; sleep 100"));
        std::vector<std::string> lines = read_lines(child, 1);
        REQUIRE(lines.size() == 1);
        ::kill(child.pid(), SIGKILL);
        ExitStatus status = child.wait([](std::string_view) {}, k_limit_ms);
        CHECK(status.signaled);
        CHECK(status.signal == SIGKILL);
        CHECK(process_gone(std::stoi(lines[0])));
    }
}

TEST_CASE("subprocess: the destructor of a running child kills its group and reaps it")
{
    pid_t leader = 0;
    pid_t grandchild = 0;
    Clock::time_point start = Clock::now();
    {
        Subprocess child = Subprocess::spawn(shell("sleep 100 & echo $!; wait"));
        leader = child.pid();
        std::vector<std::string> lines = read_lines(child, 1);
        REQUIRE(lines.size() == 1);
        grandchild = std::stoi(lines[0]);
        CHECK_FALSE(child.try_wait());
    }
    CHECK(seconds_since(start) < 3.0);
    CHECK(reaped(leader));
    CHECK(process_gone(leader));
    CHECK(process_gone(grandchild));
}

TEST_CASE("subprocess: a throwing on_line kills and reaps the child, then rethrows")
{
    Subprocess child = Subprocess::spawn(shell("echo first; sleep 100"));
    pid_t pid = child.pid();
    Clock::time_point start = Clock::now();
    CHECK_THROWS_WITH(
        child.wait([](std::string_view line) { throw std::runtime_error("log failed at " + std::string(line)); },
                   k_limit_ms),
        "log failed at first");
    CHECK(seconds_since(start) < 3.0);
    CHECK(reaped(pid));
    REQUIRE(child.try_wait());
    CHECK(child.try_wait()->signal == SIGKILL);
}

TEST_CASE("subprocess: a poll loop with read_available and try_wait; terminate_group")
{
    Subprocess child = Subprocess::spawn(shell("echo one; echo two"));
    std::string out;
    std::optional<ExitStatus> status;
    bool open = true;
    Clock::time_point until = Clock::now() + std::chrono::milliseconds(k_limit_ms);
    while ((open || !status) && Clock::now() < until) {
        pollfd fds[2] = {{child.output_fd(), POLLIN, 0}, {child.exit_fd(), POLLIN, 0}};
        ::poll(fds, 2, 50);
        if (open) {
            open = child.read_available(out);
        }
        status = child.try_wait();
    }
    CHECK(out == "one\ntwo\n");
    REQUIRE(status);
    CHECK(status->exit_code == 0);
    CHECK(reaped(child.pid()));

    SubprocessOptions options = shell("trap 'echo bye; exit 5' TERM; echo ready; while :; do sleep 0.05; done");
    Subprocess stubborn = Subprocess::spawn(options);
    REQUIRE(read_lines(stubborn, 1) == std::vector<std::string>{"ready"});
    Clock::time_point start = Clock::now();
    stubborn.terminate_group();
    CHECK(seconds_since(start) < 3.0);
    REQUIRE(stubborn.try_wait());
    CHECK(stubborn.try_wait()->exit_code == 5);
    std::string rest;
    stubborn.read_available(rest);
    CAPTURE(rest);
    // The shell may first report its `sleep` as "Terminated": the trap's output comes last.
    CHECK(rest.size() >= 4);
    CHECK(rest.substr(rest.size() - 4) == "bye\n");
}

TEST_CASE("subprocess: die_with_parent kills the child when its parent is SIGKILLed")
{
    // A middle process spawns `sleep 100` and reports its pid; then the middle is killed.
    auto orphan_after_parent_dies = [](bool die_with_parent) -> pid_t {
        int report[2];
        REQUIRE(::pipe(report) == 0);
        pid_t middle = ::fork();
        REQUIRE(middle >= 0);
        if (middle == 0) {
            ::close(report[0]);
            SubprocessOptions options;
            options.argv = {"sleep", "100"};
            options.die_with_parent = die_with_parent;
            Subprocess child = Subprocess::spawn(options);
            pid_t pid = child.pid();
            ssize_t n = ::write(report[1], &pid, sizeof pid);
            (void)n;
            ::pause();
            ::_exit(0);
        }
        ::close(report[1]);
        pid_t pid = 0;
        ssize_t n = ::read(report[0], &pid, sizeof pid);
        ::close(report[0]);
        ::kill(middle, SIGKILL);
        int status = 0;
        ::waitpid(middle, &status, 0);
        return n == sizeof pid ? pid : 0;
    };
    pid_t dies = orphan_after_parent_dies(true);
    REQUIRE(dies > 0);
    CHECK(process_gone(dies));

    // The control: without the option the orphan lives on (then we end it).
    pid_t lives = orphan_after_parent_dies(false);
    REQUIRE(lives > 0);
    CHECK_FALSE(process_gone(lives, 300));
    ::kill(lives, SIGKILL);
    CHECK(process_gone(lives));
}

TEST_CASE("plugin: load and symbol errors name the library and the symbol")
{
    try {
        Plugin::open("/nonexistent/libmlrun_nothing.so");
        FAIL("no error");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("/nonexistent/libmlrun_nothing.so") != std::string::npos);
    }
    Plugin libc = Plugin::open("libc.so.6");
    CHECK(libc.loaded());
    CHECK(libc.find("getpid") != nullptr);
    CHECK(libc.require<int()>("getpid")() == ::getpid());
    CHECK(libc.find("mlrun_no_such_symbol") == nullptr);
    CHECK_THROWS_WITH_AS(libc.require<void()>("mlrun_no_such_symbol"),
                         doctest::Contains("libc.so.6: no mlrun_no_such_symbol"), std::runtime_error);
}
