/* The body of a latency task of bench/rq_bench.py: writes CLOCK_REALTIME in ns to argv[1].
   A tiny program (C library only) so that the stamp costs one exec, not a shell's start-up. */
#include <cstdio>
#include <ctime>

int main(int argc, char** argv)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (argc < 2) {
        return 2;
    }
    std::FILE* f = std::fopen(argv[1], "w");
    if (!f) {
        return 1;
    }
    std::fprintf(f, "%lld\n", static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec);
    return std::fclose(f) == 0 ? 0 : 1;
}
