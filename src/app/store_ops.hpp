#pragma once
// Store maintenance use cases behind `mlrun store ...`: migrate (a folder store of an older
// mlrun into the SQLite store). One function per subcommand; add more beside it.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace mlrun {

struct MigrateRequest {
    std::string home; // --home: where the defaults below point
    std::string from; // --from folder:PATH; "" = the folder store at the home
    std::string to;   // --to URI; "" = the SQLite store in the same folder
};

// One kind of thing migrated: found in the folder store, and found in the new store after
// the import (verified record by record).
struct MigrateCount {
    std::string what; // "tasks", "scalars", "logs", "artifacts", "runs", "models", ...
    std::size_t found = 0;
    std::size_t imported = 0;
    std::string note; // "files in place", "copied"
};

struct MigrateReport {
    std::string from; // locations, for messages
    std::string to;
    std::vector<MigrateCount> counts;
    // Where the folder store's record files went (a migration in place), else "".
    std::string moved_aside;
};

// Imports every task (with its scalars), every record (runs, models, datasets, cache, ...)
// and the files (logs, artifacts, dataset blobs, queues: left in place when `to` is the
// same folder, else copied) into `to`, then reads each back and compares it with the
// source. Only after that check passes, and only in place, the source's record files
// (task.json, scalars.jsonl, records/*.json, store.json last) are moved into
// <root>/folder-store.bak/, never deleted. Safe to run again after an interruption.
// UsageError when there is no folder store at `from` or the URIs are unsupported;
// std::runtime_error naming the first mismatch when the check fails (nothing moved).
// `progress` gets one line per phase.
MigrateReport migrate_store(const MigrateRequest& request, const std::function<void(const std::string&)>& progress);

} // namespace mlrun
