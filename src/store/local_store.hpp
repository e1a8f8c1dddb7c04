#pragma once
// The local store (DESIGN §3): a directory, `./.mlrun` by default.
//   store.json                schema version
//   tasks/<id>/task.json      the record (atomic writes, flock on tasks/<id>/.lock)
//   tasks/<id>/log.txt        appended log;  scalars.jsonl  appended scalars
//   tasks/<id>/artifacts/     artifact files and folders
//   records/<kind>/<id>.json  runs, datasets, models
//   blobs/<aa>/<sha256>       dataset file contents, stored once
//   datasets/<id>/            a dataset version's files (hard links to blobs)
#include "ports/log_stream.hpp"
#include "store/folder_store.hpp"

#include <cstdint>
#include <filesystem>

namespace mlrun {

constexpr int k_store_schema_version = 1;
// A task log's size cap unless MLRUN_LOG_MAX_BYTES says otherwise (0: no cap).
constexpr std::uint64_t k_default_log_cap_bytes = 64ull << 20;

class LocalStore final : public FolderStore, public LogStreamReader {
public:
    // Does not create anything until the first write. Throws UsageError when the folder
    // holds a store of a newer schema.
    explicit LocalStore(std::filesystem::path root);

    std::string location() const override;
    // "folder:<root>": what MLRUN_HOME of a child process names.
    std::string uri() const override;
    // Creates the root and store.json when missing.
    void ensure_created() override;
    std::filesystem::path task_dir(const std::string& id) override;
    // An flock(2) on records/runs/.<run>.lock, taken without waiting; UsageError when the
    // store is read-only.
    std::unique_ptr<RunLock> try_lock_run(const std::string& run_id) override;
    void create(Task& task) override;
    std::optional<Task> find(const std::string& id) override;
    Task update(const std::string& id, const std::function<void(Task&)>& change) override;
    std::vector<Task> list(const TaskFilter& filter) override;
    std::string resolve(const std::string& id_or_prefix) override;
    // Past the cap, the log keeps its first half-cap (to a line's end) and its newest
    // quarter-cap (from a line's start), with a marker line between them that says where
    // the tail starts in the stream (rewritten in place at most once per quarter-cap
    // appended; log.cut beside log.txt says where the marker is).
    void append_log(const std::string& id, std::string_view text) override;
    std::string read_log(const std::string& id, std::uint64_t offset) override;
    std::string read_log_part(const std::string& id, std::uint64_t offset, std::size_t max_bytes) override;
    // Stream offsets through the cut: the head, then (cut = what was removed) the tail.
    LogPiece read_log_stream(const std::string& id, std::uint64_t from, std::size_t max_bytes) override;
    // scalars.jsonl, one O_APPEND write per batch under the task's lock.
    void append_scalars(const std::string& id, const std::vector<Scalar>& batch) override;
    std::vector<Scalar> read_scalars(const std::string& id) override;
    // UsageError when `source` does not exist or `name` is not a relative path.
    ArtifactRecord put_artifact(const std::string& id, const std::string& name,
                                const std::filesystem::path& source) override;
    std::optional<std::filesystem::path> artifact_path(const std::string& id, const std::string& name) override;
    void clear_outputs(const std::string& id) override;
    void put_record(const std::string& kind, const std::string& id, const Json& record) override;
    std::optional<Json> get_record(const std::string& kind, const std::string& id) override;
    std::vector<std::string> list_records(const std::string& kind) override;
    Json update_record(const std::string& kind, const std::string& id,
                       const std::function<void(Json&)>& change) override;
    // tasks/<id> -> quarantine/tasks/<id>.<ms>; records/<kind>/<id>.json -> quarantine/records/.
    std::string quarantine_task(const std::string& id) override;
    std::string quarantine_record(const std::string& kind, const std::string& id) override;

    const std::filesystem::path& root() const override { return m_root; }
    // task.json written as given; scalars.jsonl replaced by `scalars`.
    void import_task(const Task& task, const std::vector<Scalar>& scalars) override;
    // Runs `fn` holding the exclusive lock of tasks/<id>/.lock.
    void with_task_lock(const std::string& id, const std::function<void()>& fn);

private:
    // Rewrites log.txt as head + marker + tail (with `text`) under the task's lock.
    void cut_log(const std::string& id, const std::filesystem::path& path, std::string_view text);

    std::filesystem::path m_root;
    bool m_created = false;
    std::uint64_t m_log_cap; // bytes; 0: none
};

// An flock(2) on `path` (created when missing) taken without waiting; nullptr when another
// process holds it. Throws std::runtime_error when the file cannot be opened.
std::unique_ptr<RunLock> try_lock_file(const std::filesystem::path& path);
// UsageError "store ... is read-only" when the store folder cannot be written (EROFS, EACCES):
// said before taking a run lock, instead of "still running in another process".
void check_writable_store(const std::filesystem::path& root);

} // namespace mlrun
