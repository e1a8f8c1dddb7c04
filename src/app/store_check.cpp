#include "app/store_check.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "engine/run_record.hpp"
#include "store/folder_store.hpp"

#include <algorithm>
#include <chrono>
#include <set>

namespace mlrun {

namespace {

// Record kinds every store may hold; a folder store's records/ may name more.
const std::vector<std::string> k_record_kinds = {"runs", "datasets", "models", "cache", "mlflow"};

std::int64_t age_ms(const fs::path& p)
{
    std::error_code ec;
    auto t = fs::last_write_time(p, ec);
    if (ec) {
        return 0;
    }
    auto now = fs::file_time_type::clock::now();
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - t).count();
}

std::string relative_to(const fs::path& p, const fs::path& root)
{
    return fs::relative(p, root).generic_string();
}

// Runs `fix` (returns what it did) unless not repairing; a failure is told, not thrown.
void repair(StoreFinding& f, const StoreCheckOptions& options, const std::function<std::string()>& fix)
{
    if (!options.repair) {
        return;
    }
    try {
        f.repaired = fix();
    } catch (const std::exception& e) {
        f.repaired = std::string("repair failed: ") + e.what();
    }
}

// Moves `path` to quarantine/<relative path>.<ms>, keeping its place in the tree.
std::string move_to_quarantine(const fs::path& root, const fs::path& path)
{
    fs::path to = root / "quarantine" / (relative_to(path, root) + "." + std::to_string(now_ms()));
    fs::create_directories(to.parent_path());
    fs::rename(path, to);
    return "moved to " + relative_to(to, root);
}

void check_tasks(FolderStore& store, const StoreCheckOptions& options, std::vector<StoreFinding>& out)
{
    TaskFilter all;
    all.include_corrupt = true; // whole records: a listing summary may be sound while the record is not
    std::set<std::string> known;
    for (const Task& t : store.list(all)) {
        known.insert(t.id);
        if (t.corrupt.empty()) {
            continue;
        }
        StoreFinding f{"corrupt_task", t.id, t.corrupt, ""};
        repair(f, options, [&] { return "quarantined in " + relative_to(store.quarantine_task(t.id), store.root()); });
        out.push_back(std::move(f));
    }
    // A folder with no record: a create that died between the two (or a record lost).
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(store.root() / "tasks", ec)) {
        const std::string id = e.path().filename().string();
        if (!e.is_directory() || id.front() == '.' || known.count(id) || age_ms(e.path()) < options.grace_ms) {
            continue;
        }
        if (store.find(id)) {
            continue; // created after the listing
        }
        StoreFinding f{"orphan_task_dir", "tasks/" + id, "a task folder without a task record", ""};
        repair(f, options, [&] { return move_to_quarantine(store.root(), e.path()); });
        out.push_back(std::move(f));
    }
}

std::vector<std::string> record_kinds(FolderStore& store)
{
    std::set<std::string> kinds(k_record_kinds.begin(), k_record_kinds.end());
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(store.root() / "records", ec)) {
        if (e.is_directory()) {
            kinds.insert(e.path().filename().string());
        }
    }
    return {kinds.begin(), kinds.end()};
}

void check_records(FolderStore& store, const StoreCheckOptions& options, std::vector<StoreFinding>& out)
{
    for (const std::string& kind : record_kinds(store)) {
        for (const std::string& id : store.list_records(kind)) {
            std::string why;
            try {
                std::optional<Json> rec = store.get_record(kind, id);
                if (rec && !rec->is_object()) {
                    why = "not a JSON object";
                }
            } catch (const std::exception& e) {
                why = e.what();
            }
            if (why.empty()) {
                continue;
            }
            StoreFinding f{"corrupt_record", kind + "/" + id, why, ""};
            repair(f, options,
                   [&] { return "quarantined in " + relative_to(store.quarantine_record(kind, id), store.root()); });
            out.push_back(std::move(f));
        }
    }
}

void check_temp_files(FolderStore& store, const StoreCheckOptions& options, std::vector<StoreFinding>& out)
{
    const fs::path root = store.root();
    std::vector<fs::path> found;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) {
            break;
        }
        const fs::path& p = it->path();
        const std::string name = p.filename().string();
        if (it.depth() == 0 && name == "quarantine") {
            it.disable_recursion_pending();
            continue;
        }
        const bool staging = name.rfind(".staging-", 0) == 0 && p.parent_path().filename() == "datasets";
        if (name.find(".tmp.") != std::string::npos || staging) {
            if (it->is_directory(ec)) {
                it.disable_recursion_pending();
            }
            if (age_ms(p) >= options.grace_ms) {
                found.push_back(p);
            }
        }
    }
    for (const fs::path& p : found) {
        StoreFinding f{"temp_file", relative_to(p, root), "a leftover of a write that did not finish", ""};
        repair(f, options, [&] { return move_to_quarantine(root, p); });
        out.push_back(std::move(f));
    }
}

void check_blobs(FolderStore& store, const StoreCheckOptions& options, std::vector<StoreFinding>& out)
{
    const fs::path root = store.root();
    std::set<std::string> referenced;
    for (const std::string& id : store.list_records("datasets")) {
        std::optional<Json> rec;
        try {
            rec = store.get_record("datasets", id);
        } catch (const std::exception&) {
            continue; // a corrupt record: reported by check_records; its blobs are not called dangling
        }
        if (!rec || !rec->is_object() || !rec->contains("files") || !(*rec)["files"].is_array()) {
            continue;
        }
        for (const Json& file : (*rec)["files"]) {
            const std::string sha = file.is_object() ? file.value("sha256", "") : "";
            if (sha.size() < 2) {
                continue;
            }
            referenced.insert(sha);
            std::error_code ec;
            if (!fs::exists(root / "blobs" / sha.substr(0, 2) / sha, ec)) {
                out.push_back(StoreFinding{"missing_blob", "datasets/" + id,
                                           "file " + file.value("path", "") + ": blob " + sha.substr(0, 12)
                                               + " is gone (not repairable: create the dataset again)",
                                           ""});
            }
        }
    }
    std::error_code ec;
    for (const fs::directory_entry& dir : fs::directory_iterator(root / "blobs", ec)) {
        std::error_code ec2;
        for (const fs::directory_entry& blob : fs::directory_iterator(dir.path(), ec2)) {
            const std::string name = blob.path().filename().string();
            if (name.find(".tmp.") != std::string::npos || referenced.count(name)
                || age_ms(blob.path()) < options.grace_ms) {
                continue; // temp files are check_temp_files' (a young blob: a create going on)
            }
            StoreFinding f{"dangling_blob", relative_to(blob.path(), root), "no dataset version refers to it", ""};
            repair(f, options, [&] { return move_to_quarantine(root, blob.path()); });
            out.push_back(std::move(f));
        }
    }
}

void check_runs(FolderStore& store, const StoreCheckOptions& options, std::vector<StoreFinding>& out)
{
    for (const std::string& id : store.list_records("runs")) {
        std::optional<Json> run;
        try {
            run = store.get_record("runs", id);
        } catch (const std::exception&) {
            continue; // reported by check_records
        }
        if (!run || !run->is_object() || run->value("status", "") != "running") {
            continue;
        }
        std::unique_ptr<RunLock> lock;
        try {
            lock = store.try_lock_run(id);
        } catch (const std::exception&) {
            continue; // cannot tell (read-only)
        }
        if (!lock) {
            continue; // its driver is alive
        }
        StoreFinding f{"dead_run", "runs/" + id,
                       "recorded running, but no mlrun process drives it (its run lock is free)", ""};
        // Repaired holding the run lock: a resume cannot start meanwhile.
        repair(f, options, [&] {
            const std::string why = "driver lost: the mlrun process driving the run exited without ending it";
            int ended = 0;
            for (const Task& t : store.list(TaskFilter{"", std::nullopt, "", id, ""})) {
                if (t.status != Status::in_progress && t.status != Status::queued) {
                    continue;
                }
                store.update(t.id, [&](Task& x) {
                    if (x.status == Status::in_progress || x.status == Status::queued) {
                        if (x.status == Status::queued) {
                            x.transition(Status::in_progress, now_ms());
                        }
                        x.transition(Status::failed, now_ms());
                        x.error = why;
                        x.error_class = k_error_class_driver_lost;
                    }
                });
                ++ended;
            }
            // get + put under the run lock held here (update_record would wait for that very
            // lock file in the folder store).
            std::optional<Json> got = store.get_record("runs", id);
            if (!got) {
                return std::string("the run record is gone");
            }
            Json& r = *got;
            {
                r["status"] = "failed";
                r["why"] = why;
                r["error_class"] = k_error_class_driver_lost;
                r["finished_ms"] = now_ms();
                if (r.contains("nodes") && r["nodes"].is_array()) {
                    for (Json& n : r["nodes"]) {
                        if (n.is_object() && (n.value("state", "") == "running" || n.value("state", "") == "pending")) {
                            n["state"] = "failed";
                            n["reason"] = why;
                        }
                    }
                }
            }
            store.put_record("runs", id, r);
            return "marked failed (" + std::string(k_error_class_driver_lost) + "), with " + std::to_string(ended)
                   + " unfinished step(s)";
        });
        out.push_back(std::move(f));
    }
}

} // namespace

StoreCheckReport check_store(FolderStore& store, const StoreCheckOptions& options)
{
    StoreCheckReport report;
    for (const std::string& problem : store.integrity_problems()) {
        report.findings.push_back(StoreFinding{"integrity", store.location(), problem, ""});
    }
    check_tasks(store, options, report.findings);
    check_records(store, options, report.findings);
    check_runs(store, options, report.findings);
    check_blobs(store, options, report.findings);
    check_temp_files(store, options, report.findings);
    return report;
}

std::string format_store_report(const StoreCheckReport& report, bool repair)
{
    std::string out;
    size_t repaired = 0;
    for (const StoreFinding& f : report.findings) {
        out += f.kind + "  " + f.where + ": " + f.detail;
        if (!f.repaired.empty()) {
            out += "\n    -> " + f.repaired;
            repaired += f.repaired.rfind("repair failed", 0) == 0 ? 0 : 1;
        }
        out += "\n";
    }
    if (report.clean()) {
        out += "store is clean\n";
    } else {
        out += std::to_string(report.findings.size()) + " problem(s) found";
        out += repair ? ", " + std::to_string(repaired) + " repaired\n"
                      : "; `mlrun store check --repair` fixes what it can\n";
    }
    return out;
}

} // namespace mlrun
