#include "app/store_ops.hpp"

#include "app/wiring.hpp"
#include "core/error.hpp"
#include "store/folder_store.hpp"

#include <filesystem>
#include <map>
#include <memory>

namespace mlrun {

namespace {

namespace fs = std::filesystem;

// Files of a task folder that are records (imported into the database), not files.
bool is_record_file(const fs::path& name)
{
    return name == "task.json" || name == "scalars.jsonl" || name == ".lock";
}

// Copies the file or folder `from` to `to` (folders recursively, existing files overwritten);
// nothing when absent.
void copy_tree(const fs::path& from, const fs::path& to)
{
    std::error_code ec;
    if (!fs::exists(from, ec)) {
        return;
    }
    if (!fs::is_directory(from, ec)) {
        fs::create_directories(to.parent_path());
        fs::copy_file(from, to, fs::copy_options::overwrite_existing);
        return;
    }
    fs::create_directories(to);
    fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

std::size_t count_children(const fs::path& dir)
{
    std::error_code ec;
    std::size_t n = 0;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        ++n;
    }
    return n;
}

// Moves `path` (relative to `root`) under `backup`, keeping its relative path.
void move_aside(const fs::path& root, const fs::path& rel, const fs::path& backup)
{
    fs::path dest = backup / rel;
    fs::create_directories(dest.parent_path());
    fs::rename(root / rel, dest);
}

// A folder under root that does not exist yet: folder-store.bak, else folder-store.bak.N.
fs::path fresh_backup_dir(const fs::path& root)
{
    fs::path dir = root / "folder-store.bak";
    for (int n = 2; fs::exists(dir); ++n) {
        dir = root / ("folder-store.bak." + std::to_string(n));
    }
    return dir;
}

} // namespace

MigrateReport migrate_store(const MigrateRequest& request, const std::function<void(const std::string&)>& progress)
{
    const std::string home = resolve_store(request.home).root;
    StoreLocation from = resolve_store(request.from.empty() ? "folder:" + home : request.from);
    if (from.kind != StoreLocation::Kind::folder) {
        throw UsageError("--from must name a folder store (folder:PATH), not \"" + request.from + "\"");
    }
    StoreLocation to = resolve_store(request.to.empty() ? "sqlite:" + home : request.to);
    if (to.kind == StoreLocation::Kind::folder) {
        throw UsageError("--to must name a database store (sqlite:PATH or a path), not a folder store");
    }
    const fs::path src_root = from.root;
    const fs::path dst_root = to.root;
    std::error_code ec;
    if (!fs::exists(src_root / "store.json", ec) && !fs::exists(src_root / "tasks", ec)) {
        throw UsageError("no folder store at " + src_root.string() + " (nothing to migrate)");
    }
    const bool in_place = fs::equivalent(src_root, dst_root, ec) || src_root == dst_root;
    if (in_place && !is_unmigrated_folder_store(src_root)) {
        throw UsageError("the store " + src_root.string() + " is an SQLite store already (nothing to migrate)");
    }
    std::unique_ptr<FolderStore> src = open_store(from, false);
    std::unique_ptr<FolderStore> dst = open_store(to, false);
    dst->ensure_created();

    MigrateReport report;
    report.from = src->location();
    report.to = dst->location();
    const std::string files_note = in_place ? "files in place" : "files copied";
    const std::string src_prefix = "file://" + src_root.string() + "/";
    const std::string dst_prefix = "file://" + dst_root.string() + "/";

    // Tasks, their scalars, logs and artifacts.
    progress("reading the folder store at " + src_root.string());
    std::vector<Task> tasks = src->list(TaskFilter{});
    MigrateCount n_tasks{"tasks", tasks.size(), 0, ""};
    MigrateCount n_scalars{"scalars", 0, 0, ""};
    MigrateCount n_logs{"logs", 0, 0, files_note};
    MigrateCount n_artifacts{"artifacts", 0, 0, files_note};
    std::map<std::string, std::size_t> scalar_counts;
    progress("importing " + std::to_string(tasks.size()) + " tasks");
    for (Task& t : tasks) {
        std::vector<Scalar> scalars = src->read_scalars(t.id);
        scalar_counts[t.id] = scalars.size();
        n_scalars.found += scalars.size();
        n_artifacts.found += t.artifacts.size();
        const fs::path src_dir = src->task_dir(t.id);
        if (fs::exists(src_dir / "log.txt", ec)) {
            ++n_logs.found;
        }
        if (!in_place) {
            for (ArtifactRecord& a : t.artifacts) {
                if (a.uri.compare(0, src_prefix.size(), src_prefix) == 0) {
                    a.uri = dst_prefix + a.uri.substr(src_prefix.size());
                }
            }
        }
        dst->import_task(t, scalars);
        if (!in_place) {
            for (const fs::directory_entry& e : fs::directory_iterator(src_dir, ec)) {
                if (!is_record_file(e.path().filename())) {
                    copy_tree(e.path(), dst->task_dir(t.id) / e.path().filename());
                }
            }
        }
    }

    // Records of every kind (runs, models, datasets, cache, sync cursors, ...).
    std::map<std::string, std::vector<std::string>> record_ids;
    for (const fs::directory_entry& e : fs::directory_iterator(src_root / "records", ec)) {
        if (e.is_directory()) {
            const std::string kind = e.path().filename().string();
            record_ids[kind] = src->list_records(kind);
        }
    }
    for (const auto& [kind, ids] : record_ids) {
        for (const std::string& id : ids) {
            if (std::optional<Json> rec = src->get_record(kind, id)) {
                dst->put_record(kind, id, *rec);
            }
        }
    }

    // The file-only parts: dataset versions and blobs, queues and agents.
    MigrateCount n_queues{"queues", count_children(src_root / "queues"), 0, files_note};
    if (!in_place) {
        for (const char* dir : {"blobs", "datasets", "queues", "agents"}) {
            copy_tree(src_root / dir, dst_root / dir);
        }
    }

    // Verify: every record reads back equal from the new store.
    progress("verifying");
    for (const Task& t : tasks) {
        std::optional<Task> back = dst->find(t.id);
        if (!back || back->to_json() != t.to_json()) {
            throw std::runtime_error("store migrate: task " + t.id + " did not read back equal from " + report.to
                                     + "; the folder store is untouched");
        }
        ++n_tasks.imported;
        const std::size_t scalars = dst->read_scalars(t.id).size();
        if (scalars != scalar_counts[t.id]) {
            throw std::runtime_error("store migrate: task " + t.id + " has " + std::to_string(scalars) + " scalars in "
                                     + report.to + ", " + std::to_string(scalar_counts[t.id])
                                     + " in the folder store; the folder store is untouched");
        }
        n_scalars.imported += scalars;
        n_artifacts.imported += back->artifacts.size();
        if (fs::exists(dst->task_dir(t.id) / "log.txt", ec)) {
            ++n_logs.imported;
        }
    }
    report.counts = {n_tasks, n_scalars, n_logs, n_artifacts};
    for (const char* kind : {"runs", "models", "datasets"}) {
        record_ids.emplace(kind, std::vector<std::string>{}); // printed even when none
    }
    for (const auto& [kind, ids] : record_ids) {
        MigrateCount c{kind, ids.size(), 0, ""};
        for (const std::string& id : ids) {
            std::optional<Json> a = src->get_record(kind, id);
            std::optional<Json> b = dst->get_record(kind, id);
            if (!b || (a && *a != *b)) {
                throw std::runtime_error("store migrate: " + kind + " record " + id + " did not read back equal from "
                                         + report.to + "; the folder store is untouched");
            }
            ++c.imported;
        }
        if (kind == "datasets") {
            c.note = files_note;
        }
        report.counts.push_back(c);
    }
    n_queues.imported = count_children(dst_root / "queues");
    report.counts.push_back(n_queues);

    // Only now, and only in place: the old record files go aside (store.json last, so an
    // interrupted move is still detected as a folder store to migrate).
    if (in_place) {
        const fs::path backup = fresh_backup_dir(src_root);
        progress("moving the folder store's records to " + backup.string());
        for (const Task& t : tasks) {
            for (const char* name : {"task.json", "scalars.jsonl"}) {
                const fs::path rel = fs::path("tasks") / t.id / name;
                if (fs::exists(src_root / rel, ec)) {
                    move_aside(src_root, rel, backup);
                }
            }
        }
        for (const auto& [kind, ids] : record_ids) {
            for (const std::string& id : ids) {
                const fs::path rel = fs::path("records") / kind / (id + ".json");
                if (fs::exists(src_root / rel, ec)) {
                    move_aside(src_root, rel, backup);
                }
            }
        }
        if (fs::exists(src_root / "store.json", ec)) {
            move_aside(src_root, "store.json", backup);
        }
        report.moved_aside = backup.string();
    }
    return report;
}

} // namespace mlrun
