// Enqueue → claim latency of the Redis queue adapter, next to a raw LPUSH/BRPOP loop on the
// same redis-server: N paced messages (one every PACE ms), one producer handle and one
// consumer thread blocked in claim (or BRPOP), latency = claim returned − push started.
//   redis_queue_bench [N=500] [PACE_MS=2] [URI]   (no URI: starts its own redis-server)
// Prints p50 / p99 / max in ms for both and their ratio. Not a test: figures only.
#include "queue/redis_connection.hpp"
#include "queue/redis_queue.hpp"
#include "redis_server.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

using namespace mlrun;
using clock_type = std::chrono::steady_clock;

namespace {

struct Figures {
    double p50 = 0;
    double p99 = 0;
    double max = 0;
};

Figures figures(std::vector<double> ms)
{
    std::sort(ms.begin(), ms.end());
    auto at = [&](double q) {
        return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * static_cast<double>(ms.size() - 1) + 0.5))];
    };
    return {at(0.50), at(0.99), ms.back()};
}

double since_ms(clock_type::time_point t0, clock_type::time_point t1)
{
    return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

// Runs `consume(i)` on a thread (it returns once message i arrived) while `produce(i)` sends
// message i every pace_ms; the per-message latencies.
template <class Produce, class Consume>
std::vector<double> paced(int n, int pace_ms, Produce produce, Consume consume)
{
    std::vector<clock_type::time_point> sent(n), got(n);
    std::atomic<int> received{0};
    std::thread consumer([&] {
        for (int i = 0; i < n; ++i) {
            int id = consume();
            got[id] = clock_type::now();
            received = i + 1;
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50)); // the consumer is blocked by now
    for (int i = 0; i < n; ++i) {
        sent[i] = clock_type::now();
        produce(i);
        std::this_thread::sleep_for(std::chrono::milliseconds(pace_ms));
    }
    consumer.join();
    std::vector<double> out;
    for (int i = 0; i < n; ++i) {
        out.push_back(since_ms(sent[i], got[i]));
    }
    return out;
}

} // namespace

int main(int argc, char** argv)
{
    const int n = argc > 1 ? std::atoi(argv[1]) : 500;
    const int pace_ms = argc > 2 ? std::atoi(argv[2]) : 2;
    std::unique_ptr<mlrun::test::RedisServer> own;
    std::string uri_text;
    if (argc > 3) {
        uri_text = argv[3];
    } else {
        own = std::make_unique<mlrun::test::RedisServer>();
        uri_text = own->uri();
    }
    try {
        RedisUri uri = parse_redis_uri(uri_text);
        RedisQueueOptions o;
        o.prefix = "bench" + std::to_string(::getpid()) + ":";
        RedisQueue producer(uri, o);
        RedisQueue consumer(uri, o);
        producer.create("bench");
        std::vector<double> queue_ms = paced(
            n, pace_ms, [&](int i) { producer.push("bench", "m" + std::to_string(i), 0); },
            [&] {
                while (true) {
                    if (auto lease = consumer.claim({"bench"}, 10'000)) {
                        consumer.ack(*lease);
                        return std::stoi(lease->task_id.substr(1));
                    }
                }
            });

        RedisConnection push_conn(uri);
        RedisConnection pop_conn(uri);
        const std::string list = o.prefix + "raw";
        std::vector<double> raw_ms = paced(
            n, pace_ms,
            [&](int i) {
                push_conn.command({"LPUSH", list, std::to_string(i)});
            },
            [&] {
                while (true) {
                    RedisValue r = pop_conn.command_blocking({"BRPOP", list, "10"}, 10'000);
                    if (!r.is_nil()) {
                        return std::stoi(r.as_array().at(1).as_string());
                    }
                }
            });

        Figures q = figures(queue_ms);
        Figures raw = figures(raw_ms);
        std::printf("%d messages, one every %d ms, %s\n", n, pace_ms, uri.masked().c_str());
        std::printf("%-28s %8s %8s %8s\n", "", "p50 ms", "p99 ms", "max ms");
        std::printf("%-28s %8.3f %8.3f %8.3f\n", "RedisQueue push -> claim", q.p50, q.p99, q.max);
        std::printf("%-28s %8.3f %8.3f %8.3f\n", "raw LPUSH -> BRPOP", raw.p50, raw.p99, raw.max);
        std::printf("%-28s %8.2f %8.2f\n", "ratio queue / raw", q.p50 / raw.p50, q.p99 / raw.p99);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "redis_queue_bench: %s\n", e.what());
        return 2;
    }
    return 0;
}
