// The ETA of the terminal progress (issue 12: "said 1 s with 3.8 s left"): estimated from
// the step durations seen so far, not from the fraction of steps ended.
#include "engine/progress.hpp"

#include <doctest/doctest.h>

using mlrun::estimate_remaining_ms;
using mlrun::EtaInput;

TEST_CASE("eta: waiting steps cost the mean duration seen so far, spread over the slots")
{
    EtaInput in;
    in.ended_ms = {1000, 3000}; // mean 2 s
    in.waiting = 4;
    in.parallelism = 2;
    CHECK(estimate_remaining_ms(in) == 4000); // 4 × 2 s over 2 slots
    in.parallelism = 1;
    CHECK(estimate_remaining_ms(in) == 8000);
}

TEST_CASE("eta: a running step's rest comes from its stage fraction, else from the mean")
{
    EtaInput in;
    in.ended_ms = {2000};
    in.running = {{500, 0.0}, {3000, 0.75}}; // rest 1.5 s (mean 2 s - 0.5 s) and 1 s (3 s × 0.25 / 0.75)
    in.parallelism = 2;
    CHECK(estimate_remaining_ms(in) == 1500); // the longest rest bounds it from below
    in.waiting = 1;
    CHECK(estimate_remaining_ms(in) == 2250); // (1.5 + 1 + 2) / 2
}

TEST_CASE("eta: the last slow step is not hidden by many quick ones")
{
    // Nine 100 ms steps done, the tenth has run 200 ms of an expected 4 s (5 % of its epochs):
    // the fraction of steps ended (0.9) would say ~0.2 s; its own stages say 3.8 s.
    EtaInput in;
    in.ended_ms = std::vector<std::int64_t>(9, 100);
    in.running = {{200, 0.05}};
    CHECK(estimate_remaining_ms(in) == 3800);
}

TEST_CASE("eta: unknown before anything gives a basis")
{
    EtaInput in;
    in.waiting = 3;
    CHECK(estimate_remaining_ms(in) == -1);
    in.running = {{100, 0.0}};
    CHECK(estimate_remaining_ms(in) == -1);
    in.running = {{100, 0.5}}; // a whole step of ~200 ms: the waiting ones are guessed at that
    CHECK(estimate_remaining_ms(in) == 700);
}
