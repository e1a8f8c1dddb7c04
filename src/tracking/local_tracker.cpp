#include "tracking/local_tracker.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "store/local_store.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace mlrun {

Json ModelRecord::to_json() const
{
    return Json{{"name", name},         {"version", version},   {"task_id", task_id},   {"run_id", run_id},
                {"source_task", source_task}, {"kind", kind},   {"artifact", artifact}, {"metrics", metrics},
                {"tags", tags},         {"lineage", lineage},   {"created_ms", created_ms}, {"reason", reason}};
}

ModelRecord ModelRecord::from_json(const Json& j)
{
    ModelRecord r;
    r.name = j.value("name", "");
    r.version = j.value("version", 0);
    r.task_id = j.value("task_id", "");
    r.run_id = j.value("run_id", "");
    r.source_task = j.value("source_task", "");
    r.kind = j.value("kind", "");
    r.artifact = j.value("artifact", "model");
    r.metrics = j.value("metrics", Json::object());
    r.tags = j.value("tags", std::vector<std::string>{});
    r.lineage = j.value("lineage", Json::object());
    r.created_ms = j.value("created_ms", std::int64_t{0});
    r.reason = j.value("reason", "");
    return r;
}

void LocalTracker::log_params(const std::string& task_id, const Json& params)
{
    m_store.update(task_id, [&](Task& t) { merge_params(t.params, params); });
}

void LocalTracker::log_scalars(const std::string& task_id, const std::vector<Scalar>& scalars)
{
    if (scalars.empty()) {
        return;
    }
    std::string lines;
    for (const Scalar& s : scalars) {
        lines += dump_json(Json{{"title", s.title}, {"series", s.series}, {"iteration", s.iteration}, {"value", s.value}});
        lines += '\n';
    }
    fs::path path = m_store.task_dir(task_id) / "scalars.jsonl";
    m_store.with_task_lock(task_id, [&] {
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            throw std::runtime_error("cannot append to " + path.string() + ": " + std::strerror(errno));
        }
        ssize_t n = ::write(fd, lines.data(), lines.size());
        ::close(fd);
        if (n != static_cast<ssize_t>(lines.size())) {
            throw std::runtime_error("cannot append to " + path.string());
        }
    });
}

std::vector<Scalar> LocalTracker::scalars(const std::string& task_id)
{
    std::vector<Scalar> out;
    fs::path path = m_store.task_dir(task_id) / "scalars.jsonl";
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        return out;
    }
    std::string text = read_file(path);
    simdjson::ondemand::parser parser;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        if (line.empty()) {
            continue;
        }
        // Line by line: a torn line (a writer killed mid-append) costs that line only.
        simdjson::padded_string padded(line);
        simdjson::ondemand::document doc;
        if (parser.iterate(padded).get(doc)) {
            continue;
        }
        Scalar sc;
        std::string_view title, series;
        if (doc["title"].get_string().get(title) || doc["series"].get_string().get(series)
            || doc["iteration"].get_int64().get(sc.iteration) || doc["value"].get_double().get(sc.value)) {
            continue;
        }
        sc.title = title;
        sc.series = series;
        out.push_back(std::move(sc));
    }
    return out;
}

void LocalTracker::log_value(const std::string& task_id, const std::string& name, const Json& value)
{
    check_relative_path(name, "value name");
    m_store.update(task_id, [&](Task& t) { t.values[name] = value; });
}

void LocalTracker::set_tags(const std::string& task_id, const std::vector<std::string>& tags)
{
    m_store.update(task_id, [&](Task& t) {
        for (const std::string& tag : tags) {
            if (std::find(t.tags.begin(), t.tags.end(), tag) == t.tags.end()) {
                t.tags.push_back(tag);
            }
        }
    });
}

namespace {

// sha256 of a folder: over the sorted "relative path\0file sha256\n" lines.
std::pair<std::uint64_t, std::string> hash_folder(const fs::path& dir)
{
    std::vector<std::pair<std::string, fs::path>> files;
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir)) {
        if (e.is_regular_file()) {
            files.emplace_back(fs::relative(e.path(), dir).generic_string(), e.path());
        }
    }
    std::sort(files.begin(), files.end());
    std::string manifest;
    std::uint64_t size = 0;
    for (const auto& [rel, path] : files) {
        manifest += rel + '\0' + sha256_file(path) + '\n';
        size += fs::file_size(path);
    }
    return {size, sha256_hex(manifest)};
}

} // namespace

ArtifactRecord LocalTracker::log_artifact(const std::string& task_id, const std::string& name,
                                          const fs::path& source)
{
    check_relative_path(name, "artifact name");
    std::error_code ec;
    if (!fs::exists(source, ec)) {
        throw UsageError("artifact \"" + name + "\": " + source.string() + " does not exist");
    }
    fs::path dest = m_store.task_dir(task_id) / "artifacts" / name;
    fs::create_directories(dest.parent_path());
    // Copy beside the destination, then rename: a reader never sees a partial artifact.
    fs::path tmp = dest;
    tmp += ".tmp." + new_id();
    ArtifactRecord rec;
    rec.name = name;
    try {
        if (fs::is_directory(source)) {
            fs::copy(source, tmp, fs::copy_options::recursive);
            auto [size, sha] = hash_folder(tmp);
            rec.size = size;
            rec.sha256 = sha;
            rec.content_type = "inode/directory";
            fs::remove_all(dest, ec);
            fs::rename(tmp, dest);
        } else {
            fs::copy_file(source, tmp, fs::copy_options::overwrite_existing);
            rec.size = fs::file_size(tmp);
            rec.sha256 = sha256_file(tmp);
            rec.content_type = content_type_for(source);
            if (fs::is_directory(dest, ec)) {
                fs::remove_all(dest, ec);
            }
            fs::rename(tmp, dest);
        }
    } catch (...) {
        fs::remove_all(tmp, ec); // no stray temp copy when the copy or the rename fails
        throw;
    }
    rec.uri = "file://" + fs::absolute(dest).string();
    m_store.update(task_id, [&](Task& t) {
        auto it = std::find_if(t.artifacts.begin(), t.artifacts.end(),
                               [&](const ArtifactRecord& a) { return a.name == name; });
        if (it != t.artifacts.end()) {
            *it = rec;
        } else {
            t.artifacts.push_back(rec);
        }
    });
    return rec;
}

fs::path LocalTracker::fetch_artifact(const std::string& task_id, const std::string& name)
{
    check_relative_path(name, "artifact name");
    fs::path path = m_store.task_dir(task_id) / "artifacts" / name;
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        throw UsageError("task " + task_id + " has no artifact \"" + name + "\"");
    }
    return path;
}

fs::path LocalTracker::fetch_dataset(const std::string& dataset_id)
{
    check_name(dataset_id, "dataset id");
    if (!m_store.get_record("datasets", dataset_id)) {
        throw UsageError("unknown dataset \"" + dataset_id + "\" in " + m_store.location());
    }
    return m_store.root() / "datasets" / dataset_id;
}

Task LocalTracker::get_task(const std::string& task_id)
{
    return m_store.get(task_id);
}

std::string LocalTracker::create_child_task(const std::string& parent_id, Task child)
{
    Task parent = m_store.get(parent_id);
    child.id.clear();
    child.parent = parent.id;
    child.run_id = parent.run_id;
    child.project = parent.project;
    for (const std::string& tag : parent.tags) {
        if (std::find(child.tags.begin(), child.tags.end(), tag) == child.tags.end()) {
            child.tags.push_back(tag);
        }
    }
    m_store.create(child);
    return child.id;
}

ModelRecord LocalTracker::register_model(ModelRecord record)
{
    check_name(record.name, "model name");
    record.created_ms = now_ms();
    m_store.update_record("models", record.name, [&](Json& j) {
        if (j.is_null()) {
            j = Json{{"name", record.name}, {"versions", Json::array()}};
        }
        record.version = static_cast<int>(j["versions"].size()) + 1;
        j["versions"].push_back(record.to_json());
    });
    return record;
}

std::vector<ModelRecord> LocalTracker::models(const std::string& name)
{
    std::vector<ModelRecord> out;
    for (const std::string& n : m_store.list_records("models")) {
        if (!name.empty() && n != name) {
            continue;
        }
        std::optional<Json> j = m_store.get_record("models", n);
        if (j) {
            for (const Json& v : j->value("versions", Json::array())) {
                out.push_back(ModelRecord::from_json(v));
            }
        }
    }
    return out;
}

std::optional<ModelRecord> LocalTracker::model(const std::string& name, int version)
{
    std::vector<ModelRecord> all = models(name);
    if (all.empty()) {
        return std::nullopt;
    }
    if (version <= 0) {
        return all.back();
    }
    for (const ModelRecord& r : all) {
        if (r.version == version) {
            return r;
        }
    }
    return std::nullopt;
}

} // namespace mlrun
