#pragma once
// Progress of a pipeline run, three ways (DESIGN §5):
//  - terminal: one bar for the run (by stages, so it moves while a model trains), a line per
//    running step (slot, step, stage, elapsed) and an ETA, redrawn in place;
//  - plain: one log line per event, for CI logs and pipes (no colour, no bars);
//  - json: one JSON object per line per event.
#include "engine/run_observer.hpp"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

namespace mlrun {

enum class ProgressMode { terminal, plain, json, quiet };

// What the ETA is estimated from: the durations of the steps that ran to their end, the
// running steps (elapsed, and the fraction of their stages done when they report one),
// how many steps have not started, and the run's parallelism.
struct EtaInput {
    struct Running {
        std::int64_t elapsed_ms = 0;
        double fraction = 0; // 0 when the step reports no stages
    };
    std::vector<std::int64_t> ended_ms;
    std::vector<Running> running;
    std::size_t waiting = 0;
    int parallelism = 1;
};

// Milliseconds left: each running step's expected rest (from its stage fraction, else the mean
// duration seen so far) plus the waiting steps at that mean, spread over the slots, never less
// than the longest running rest. -1 when nothing gives a basis yet (shown as "?").
std::int64_t estimate_remaining_ms(const EtaInput& in);

// terminal when `out` is a TTY and TERM is not "dumb", else plain.
ProgressMode default_progress_mode(std::FILE* out);
std::unique_ptr<RunObserver> make_progress(ProgressMode mode, std::FILE* out);

} // namespace mlrun
