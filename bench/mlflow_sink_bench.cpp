// MLflow mirror benchmark (bench/README.md, "MLflow mirror"), against the fake server of
// the tests on loopback:
//  1. client-side throughput: scalars/s through MlflowSink when the server acknowledges
//     each log-batch at once without parsing it (what the client costs: JSON writing, HTTP);
//     and the same against the storing fake (its own parsing included);
//  2. training-loop overhead: a loop that does ~1 ms of work and logs 10 scalars per step,
//     with the mirror against a server answering each request after 200 ms, against the
//     same loop with no mirror.
//  3. completeness: 100,000 scalars of one task against the storing fake arrive complete,
//     in order, in at most 110 log-batch requests;
//  4. the app's mirror (app/sync.hpp open_mlflow_mirror: cursors in a store, fingerprints of
//     what it forwards) in answer-at-once mode, the way `pipeline run --tracking` feeds it.
// Usage: mlflow_sink_bench [SCALARS=1000000] [STEPS=2000]
#include "fake_mlflow.hpp"

#include "app/sync.hpp"
#include "store/local_store.hpp"
#include "tracking/mlflow_sink.hpp"

#include <filesystem>
#include <unistd.h>

#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace mlrun;
using namespace mlrun::mlflow;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0)
{
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

double cpu_seconds()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec)
           + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

Task task(const std::string& id)
{
    Task t;
    t.id = id;
    t.name = id;
    t.project = "bench";
    t.kind = "train_model";
    t.status = Status::in_progress;
    t.started_ms = 1795345450000;
    return t;
}

MlflowSinkOptions options(const std::string& url)
{
    MlflowSinkOptions o;
    o.http.base_url = url;
    o.user = "bench";
    return o;
}

std::vector<Scalar> step_scalars(std::int64_t step)
{
    std::vector<Scalar> out;
    static const char* k_titles[] = {"loss", "acc", "lr", "grad_norm", "f1"};
    for (int i = 0; i < 10; ++i) {
        out.push_back({k_titles[i % 5], i < 5 ? "train" : "valid", step, 1.0 / static_cast<double>(step + i + 1),
                       1795345450000 + step});
    }
    return out;
}

void throughput(bool ack_only, std::int64_t n)
{
    test::FakeMlflow fake;
    fake.set_ack_only(ack_only);
    MlflowSink sink(options(fake.url()));
    sink.task_started(task("t1"));
    sink.flush();
    const double cpu0 = cpu_seconds();
    const auto t0 = Clock::now();
    for (std::int64_t step = 0; step < n / 10; ++step) {
        sink.scalars("t1", step_scalars(step));
    }
    const double enqueue_s = seconds_since(t0);
    const Outcome flushed = sink.flush();
    const double wall = seconds_since(t0);
    const double cpu = cpu_seconds() - cpu0;
    std::printf("%-28s %9lld scalars  %6.3f s wall  %10.0f scalars/s  enqueue %6.1f ns/scalar  "
                "cpu %5.2f s (client + fake)  %4d log-batch requests%s\n",
                ack_only ? "ack-at-once server:" : "storing fake server:", static_cast<long long>(n), wall,
                static_cast<double>(n) / wall, enqueue_s * 1e9 / static_cast<double>(n), cpu, fake.count("log-batch"),
                flushed ? "  (FAILED)" : "");
}

// 100,000 scalars (10 series) of one task: every point arrives, in order, in few requests.
bool complete_in_order(std::int64_t n)
{
    test::FakeMlflow fake;
    std::string run_id;
    {
        MlflowSink sink(options(fake.url()));
        sink.task_started(task("t1"));
        sink.flush();
        for (std::int64_t step = 0; step < n / 10; ++step) {
            sink.scalars("t1", step_scalars(step));
        }
        sink.flush();
        run_id = sink.task_cursor("t1").value("run_id", "");
    }
    const std::optional<test::FakeRun> run = fake.run(run_id);
    std::int64_t points = 0;
    bool ordered = run.has_value();
    if (run) {
        for (const auto& [key, history] : run->metrics) {
            for (std::size_t i = 0; i < history.size(); ++i) {
                ordered = ordered && history[i].step == static_cast<std::int64_t>(i);
            }
            points += static_cast<std::int64_t>(history.size());
        }
    }
    const int requests = fake.count("log-batch");
    const bool ok = ordered && points == n && requests <= 110;
    std::printf("%-28s %9lld scalars sent, %9lld stored, %s, in %d log-batch requests (limit 110): %s\n",
                "complete and in order:", static_cast<long long>(n), static_cast<long long>(points),
                ordered ? "every series in step order" : "OUT OF ORDER", requests, ok ? "ok" : "FAILED");
    return ok;
}

// The app's mirror (a LocalStore for its cursors) against the answer-at-once fake.
void app_mirror_throughput(std::int64_t n)
{
    test::FakeMlflow fake;
    fake.set_ack_only(true);
    const std::filesystem::path home = std::filesystem::temp_directory_path()
                                       / ("mlflow_bench_" + std::to_string(::getpid()));
    {
        LocalStore store(home);
        std::unique_ptr<ResultSink> mirror = open_mlflow_mirror(fake.url(), store);
        mirror->task_started(task("t1"));
        mirror->flush();
        const double cpu0 = cpu_seconds();
        const auto t0 = Clock::now();
        for (std::int64_t step = 0; step < n / 10; ++step) {
            mirror->scalars("t1", step_scalars(step));
        }
        const double enqueue_s = seconds_since(t0);
        mirror->flush();
        const double wall = seconds_since(t0);
        std::printf("%-28s %9lld scalars  %6.3f s wall  %10.0f scalars/s  enqueue %6.1f ns/scalar  "
                    "cpu %5.2f s (client + fake)  %4d log-batch requests\n",
                    "app mirror, ack-at-once:", static_cast<long long>(n), wall, static_cast<double>(n) / wall,
                    enqueue_s * 1e9 / static_cast<double>(n), cpu_seconds() - cpu0, fake.count("log-batch"));
    }
    std::error_code ec;
    std::filesystem::remove_all(home, ec);
}

volatile double g_sink_hole = 0;

// About `us` microseconds of arithmetic.
void work(long iterations)
{
    double acc = 0;
    for (long i = 0; i < iterations; ++i) {
        acc += std::sqrt(static_cast<double>(i) + acc * 1e-9);
    }
    g_sink_hole = acc;
}

long calibrate_1ms()
{
    long it = 1000;
    while (true) {
        const auto t0 = Clock::now();
        work(it);
        const double s = seconds_since(t0);
        if (s > 0.02) {
            return static_cast<long>(static_cast<double>(it) * 0.001 / s);
        }
        it *= 2;
    }
}

// CPU time of the calling thread: on a loaded machine, what the loop itself cost, without
// the time other processes (and the mirror's sender) held the cores.
double thread_cpu_seconds()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Wall time of the loop; *in_sink (when given) sums the time spent inside sink->scalars();
// *thread_cpu (when given) gets the loop thread's CPU time.
double loop(MlflowSink* sink, std::int64_t steps, long iterations, double* in_sink = nullptr,
            double* thread_cpu = nullptr)
{
    const double cpu0 = thread_cpu_seconds();
    const auto t0 = Clock::now();
    for (std::int64_t step = 0; step < steps; ++step) {
        work(iterations);
        if (sink) {
            std::vector<Scalar> batch = step_scalars(step);
            const auto c0 = Clock::now();
            sink->scalars("t1", batch);
            *in_sink += seconds_since(c0);
        }
    }
    if (thread_cpu) {
        *thread_cpu = thread_cpu_seconds() - cpu0;
    }
    return seconds_since(t0);
}

} // namespace

int main(int argc, char** argv)
{
    const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 1000000;
    const std::int64_t steps = argc > 2 ? std::atoll(argv[2]) : 2000;

    throughput(true, n);
    throughput(false, std::min<std::int64_t>(n, 200000));
    const bool complete = complete_in_order(100000);
    app_mirror_throughput(n);

    const long it = calibrate_1ms();
    test::FakeMlflow slow;
    slow.set_delay_ms(200);
    double best_without = 1e9, best_with = 1e9, best_in_sink = 1e9, cpu_without = 1e9, cpu_with = 1e9;
    for (int round = 0; round < 3; ++round) {
        double cpu = 0;
        best_without = std::min(best_without, loop(nullptr, steps, it, nullptr, &cpu));
        cpu_without = std::min(cpu_without, cpu);
        MlflowSink sink(options(slow.url()));
        sink.task_started(task("t1"));
        double in_sink = 0;
        best_with = std::min(best_with, loop(&sink, steps, it, &in_sink, &cpu));
        cpu_with = std::min(cpu_with, cpu);
        best_in_sink = std::min(best_in_sink, in_sink);
        // The destructor sends what is queued: 200 ms per request, outside the timed loop.
    }
    std::printf("training loop, %lld steps of ~1 ms + 10 scalars, server answering after 200 ms: "
                "%.3f s without mirror, %.3f s with (%+.2f %%); inside scalars(): %.2f us per step = %.3f %% of "
                "the loop without mirror\n",
                static_cast<long long>(steps), best_without, best_with,
                100.0 * (best_with - best_without) / best_without, best_in_sink * 1e6 / static_cast<double>(steps),
                100.0 * best_in_sink / best_without);
    std::printf("training loop thread CPU: %.3f s without mirror, %.3f s with (%+.2f %%)\n", cpu_without, cpu_with,
                100.0 * (cpu_with - cpu_without) / cpu_without);
    return complete ? 0 : 1;
}
