// The mlrun half of bench/rq_bench.py: an agent on a Redis broker, measured the way RQ's
// workers are measured there.
//   rq_agent_bench URI N PACE_MS STAMP_BIN [cold]   (cold: agents without warm children)
// 1. latency: N exec tasks whose body is STAMP_BIN (writes CLOCK_REALTIME ns); one idle
//    agent (--workers 1); each task enqueued (enqueue_task: record + push) every PACE_MS;
//    latency = body start - enqueue start.
// 2. throughput: N no-op exec tasks (`true`) enqueued first, then one agent --workers 1;
//    tasks/s = N / (last finished - first started), from the records.
// Prints one JSON line: {"latency_ms": [...], "throughput": tasks_per_s}. Not a test.
#include "app/task_ops.hpp"
#include "app/wiring.hpp"
#include "platform/subprocess.hpp"
#include "ports/task_store.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

using namespace mlrun;
namespace fs = std::filesystem;

namespace {

std::int64_t realtime_ns()
{
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// `mlrun ARGS...` with MLRUN_HOME and the broker; its stdout; exits on failure.
std::string mlrun_cli(const std::string& home, const std::string& uri, const std::vector<std::string>& args)
{
    SubprocessOptions o;
    o.argv = {MLRUN_BIN, "--broker", uri};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = {{"MLRUN_HOME", home}};
    o.merge_stderr = false;
    Subprocess p = Subprocess::spawn(o);
    std::string out;
    ExitStatus st = p.wait([&](std::string_view line) { out += std::string(line) + "\n"; });
    if (st.exit_code != 0 || st.signaled) {
        std::fprintf(stderr, "mlrun failed: %s\n", out.c_str());
        std::exit(1);
    }
    while (!out.empty() && out.back() == '\n') {
        out.pop_back();
    }
    return out;
}

bool g_cold = false;

Subprocess start_agent(const std::string& home, const std::string& uri)
{
    SubprocessOptions o;
    o.argv = {MLRUN_BIN, "--broker", uri, "agent", "daemon", "--queue", "bench", "--workers", "1", "-q"};
    if (g_cold) {
        o.argv.push_back("--cold");
    }
    o.env = {{"MLRUN_HOME", home}};
    return Subprocess::spawn(o);
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 5) {
        std::fprintf(stderr, "usage: rq_agent_bench URI N PACE_MS STAMP_BIN\n");
        return 2;
    }
    const std::string uri = argv[1];
    const int n = std::atoi(argv[2]);
    const int pace_ms = std::atoi(argv[3]);
    const std::string stamp = argv[4];
    g_cold = argc > 5 && std::string(argv[5]) == "cold";
    char tmpl[] = "/tmp/rq_agent_bench_XXXXXX";
    const fs::path dir = ::mkdtemp(tmpl);
    const std::string home = (dir / "home").string();

    mlrun_cli(home, uri, {"queue", "create", "bench"});
    std::string lat_src = mlrun_cli(home, uri,
                                    {"task", "create", "exec", "--set", "command=[\"" + stamp + "\", \"x\"]"});
    std::string noop_src = mlrun_cli(home, uri, {"task", "create", "exec", "--set", "command=[\"true\"]"});
    BackendOptions options;
    options.home = home;
    options.queue = uri;
    Backends b = open_backends(options);
    // Clones made in-process (same record a `task clone` makes), each stamping its own file.
    auto clone = [&](const std::string& src, const std::string& command_arg) {
        Task c = clone_spec(b.store->get(src));
        if (!command_arg.empty()) {
            c.params["command"][1] = command_arg;
        }
        b.store->create(c);
        return c.id;
    };
    std::vector<std::string> lat_ids, noop_ids;
    for (int i = 0; i < n; ++i) {
        lat_ids.push_back(clone(lat_src, (dir / ("stamp-" + std::to_string(i))).string()));
        noop_ids.push_back(clone(noop_src, ""));
    }

    // 1. Latency on an idle agent.
    Subprocess agent = start_agent(home, uri);
    std::this_thread::sleep_for(std::chrono::milliseconds(500)); // registered and blocked in its claim
    std::vector<std::int64_t> sent(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        sent[static_cast<std::size_t>(i)] = realtime_ns();
        enqueue_task(b, lat_ids[static_cast<std::size_t>(i)], "bench", 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(pace_ms));
    }
    nlohmann::json latency = nlohmann::json::array();
    for (int i = 0; i < n; ++i) {
        const fs::path f = dir / ("stamp-" + std::to_string(i));
        for (int w = 0; w < 30000 && !fs::exists(f); ++w) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::ifstream in(f);
        long long at = 0;
        in >> at;
        latency.push_back(static_cast<double>(at - sent[static_cast<std::size_t>(i)]) / 1e6);
    }
    ::kill(agent.pid(), SIGTERM);
    agent.wait([](std::string_view) {}, 20'000);

    // 2. Throughput: all enqueued first, then one agent drains them.
    for (const std::string& id : noop_ids) {
        enqueue_task(b, id, "bench", 0);
    }
    Subprocess drain = start_agent(home, uri);
    std::int64_t first = 0, last = 0;
    for (int w = 0; w < 600; ++w) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        std::optional<Task> t = b.store->find(noop_ids.back());
        if (t && is_final(t->status)) {
            break;
        }
    }
    int completed = 0;
    for (const std::string& id : noop_ids) {
        Task t = b.store->get(id);
        completed += t.status == Status::completed ? 1 : 0;
        first = first == 0 ? t.started_ms : std::min(first, t.started_ms);
        last = std::max(last, t.finished_ms);
    }
    ::kill(drain.pid(), SIGTERM);
    drain.wait([](std::string_view) {}, 20'000);
    double per_s = last > first ? 1000.0 * completed / static_cast<double>(last - first) : 0;
    std::printf(
        "%s\n",
        nlohmann::json{{"latency_ms", latency}, {"throughput", per_s}, {"completed", completed}}.dump().c_str());
    std::error_code ec;
    fs::remove_all(dir, ec);
    return 0;
}
