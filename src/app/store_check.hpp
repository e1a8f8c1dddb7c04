#pragma once
// `mlrun store check [--repair]`: what is broken in a store, through the TaskStore port and
// the store folder (both the folder and the SQLite store are FolderStores):
//   corrupt_task     a task record that cannot be read or decoded
//   corrupt_record   a run / dataset / model / cache / mirror-cursor record that cannot be read
//   orphan_task_dir  a task folder without a record (older than the grace)
//   temp_file        a leftover "*.tmp.*" file or dataset ".staging-*" folder (older than the grace)
//   dangling_blob    a dataset blob no dataset version refers to
//   missing_blob     a dataset file whose blob is gone (not repairable)
//   dead_run         a run recorded running that no process drives (its run lock is free)
//   integrity        what the adapter reports about its own storage (SQLite integrity_check)
// --repair moves what is broken aside under <store>/quarantine/ (listed in the report) and
// ends dead runs: the run failed with error class "driver_lost", its unfinished steps too.
#include <cstdint>
#include <string>
#include <vector>

namespace mlrun {

class FolderStore;

constexpr const char* k_error_class_driver_lost = "driver_lost";

struct StoreCheckOptions {
    bool repair = false;
    // Temp files and record-less task folders younger than this may belong to a live write.
    std::int64_t grace_ms = 10 * 60 * 1000;
};

struct StoreFinding {
    std::string kind;     // one of the kinds above
    std::string where;    // a task id, "runs/<id>", or a path relative to the store
    std::string detail;   // what is wrong
    std::string repaired; // what --repair did ("" when nothing was done)
};

struct StoreCheckReport {
    std::vector<StoreFinding> findings;
    bool clean() const { return findings.empty(); }
};

// Runs every check; with options.repair also fixes what it can. A repair that fails is
// reported in its finding ("repair failed: ..."), never thrown. Throws only when the store
// cannot be listed at all.
StoreCheckReport check_store(FolderStore& store, const StoreCheckOptions& options);

// One line per finding and a summary line: what `store check` prints.
std::string format_store_report(const StoreCheckReport& report, bool repair);

} // namespace mlrun
