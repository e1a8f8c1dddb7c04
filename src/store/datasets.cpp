#include "store/datasets.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "store/folder_store.hpp"

#include <algorithm>
#include <map>
#include <vector>

namespace mlrun {

Json create_dataset(FolderStore& store, const DatasetRequest& request)
{
    check_name(request.name, "dataset name");
    if (!request.project.empty()) {
        check_relative_path(request.project, "project name");
    }
    if (request.paths.empty()) {
        throw UsageError("dataset create: give at least one file or folder");
    }
    // relative path in the dataset -> source file
    std::map<std::string, fs::path> files;
    for (const fs::path& p : request.paths) {
        std::error_code ec;
        auto add = [&](const std::string& rel, const fs::path& src) {
            if (!files.emplace(rel, src).second) {
                throw UsageError("dataset create: two inputs would both be \"" + rel + "\" in the dataset");
            }
        };
        if (fs::is_regular_file(p, ec)) {
            add(p.filename().string(), p);
        } else if (fs::is_directory(p, ec)) {
            fs::path base = fs::absolute(p).lexically_normal();
            if (base.filename().empty()) {
                base = base.parent_path();
            }
            for (const fs::directory_entry& e : fs::recursive_directory_iterator(base)) {
                if (e.is_regular_file()) {
                    add((base.filename() / fs::relative(e.path(), base)).generic_string(), e.path());
                }
            }
        } else {
            throw UsageError("dataset create: " + p.string() + " is not a file or folder");
        }
    }
    if (files.empty()) {
        throw UsageError("dataset create: no files in the given paths");
    }
    Json parent;
    if (!request.parent.empty()) {
        parent = get_dataset(store, request.parent);
    }
    store.ensure_created();
    std::string id = new_id();
    fs::path staging = store.root() / "datasets" / (".staging-" + id);
    fs::create_directories(staging);
    // A create that fails (a full disk, a bad input) leaves nothing: no staging folder, no
    // temp copy, no blob only it stored, no dataset folder without its record.
    struct Cleanup {
        fs::path dir;
        std::vector<fs::path> new_blobs;
        fs::path tmp;
        bool keep = false;
        ~Cleanup()
        {
            if (!keep) {
                std::error_code ec;
                fs::remove_all(dir, ec);
                if (!tmp.empty()) {
                    fs::remove(tmp, ec);
                }
                for (const fs::path& b : new_blobs) {
                    fs::remove(b, ec);
                }
            }
        }
    } cleanup{staging, {}, {}};
    Json list = Json::array();
    std::uint64_t total = 0, stored = 0;
    // The parent's files are kept unless a path replaces them.
    if (!parent.is_null()) {
        for (const Json& f : parent["files"]) {
            std::string rel = f["path"].get<std::string>();
            if (!files.count(rel)) {
                fs::path blob = store.root() / "blobs" / f["sha256"].get<std::string>().substr(0, 2)
                                / f["sha256"].get<std::string>();
                fs::create_directories((staging / rel).parent_path());
                fs::create_hard_link(blob, staging / rel);
                list.push_back({{"path", rel}, {"sha256", f["sha256"]}, {"size", f["size"]}, {"reused", true}});
                total += f["size"].get<std::uint64_t>();
            }
        }
    }
    for (const auto& [rel, src] : files) {
        std::string sha = sha256_file(src);
        std::uint64_t size = fs::file_size(src);
        fs::path blob_dir = store.root() / "blobs" / sha.substr(0, 2);
        fs::path blob = blob_dir / sha;
        bool reused = fs::exists(blob);
        if (!reused) {
            fs::create_directories(blob_dir);
            fs::path tmp = blob;
            tmp += ".tmp." + new_id();
            cleanup.tmp = tmp;
            fs::copy_file(src, tmp);
            fs::permissions(tmp, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
            fs::rename(tmp, blob);
            cleanup.tmp.clear();
            cleanup.new_blobs.push_back(blob);
            stored += size;
        }
        fs::create_directories((staging / rel).parent_path());
        fs::create_hard_link(blob, staging / rel);
        list.push_back({{"path", rel}, {"sha256", sha}, {"size", size}, {"reused", reused}});
        total += size;
    }
    std::sort(list.begin(), list.end(), [](const Json& a, const Json& b) { return a["path"] < b["path"]; });
    fs::rename(staging, store.root() / "datasets" / id);
    cleanup.dir = store.root() / "datasets" / id; // until its record is written
    Json record{{"id", id},
                {"name", request.name},
                {"project", request.project},
                {"parent", parent.is_null() ? Json("") : parent["id"]},
                {"created_ms", now_ms()},
                {"files", list},
                {"total_size", total},
                {"stored_bytes", stored},
                {"finalized", true}};
    store.put_record("datasets", id, record);
    cleanup.keep = true;
    return record;
}

Json get_dataset(FolderStore& store, const std::string& id)
{
    check_name(id, "dataset id");
    std::optional<Json> rec = store.get_record("datasets", id);
    if (!rec) {
        std::vector<std::string> ids = store.list_records("datasets");
        std::vector<std::string> hits;
        for (const std::string& d : ids) {
            if (d.rfind(id, 0) == 0) {
                hits.push_back(d);
            }
        }
        if (hits.size() == 1) {
            return *store.get_record("datasets", hits[0]);
        }
        throw UsageError("unknown dataset \"" + id + "\" in " + store.location());
    }
    return *rec;
}

std::vector<Json> list_datasets(FolderStore& store)
{
    std::vector<Json> out;
    for (const std::string& id : store.list_records("datasets")) {
        if (auto rec = store.get_record("datasets", id)) {
            out.push_back(*rec);
        }
    }
    return out;
}

fs::path dataset_path(FolderStore& store, const std::string& id)
{
    Json rec = get_dataset(store, id);
    return store.root() / "datasets" / rec["id"].get<std::string>();
}

} // namespace mlrun
