#pragma once
// Progress of a pipeline run, three ways (DESIGN §5):
//  - terminal: one bar for the run (by stages, so it moves while a model trains), a line per
//    running step (slot, step, stage, elapsed) and an ETA, redrawn in place;
//  - plain: one log line per event, for CI logs and pipes (no colour, no bars);
//  - json: one JSON object per line per event.
#include "engine/run_observer.hpp"

#include <cstdio>
#include <memory>

namespace mlrun {

enum class ProgressMode { terminal, plain, json, quiet };

// terminal when `out` is a TTY and TERM is not "dumb", else plain.
ProgressMode default_progress_mode(std::FILE* out);
std::unique_ptr<RunObserver> make_progress(ProgressMode mode, std::FILE* out);

} // namespace mlrun
