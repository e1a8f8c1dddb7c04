#include "store/local_store.hpp"

#include "core/error.hpp"
#include "core/task_codec.hpp"
#include "core/util.hpp"
#include "platform/file_lock.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mlrun {

namespace {

void check_id(const std::string& id)
{
    check_name(id, "task id");
}

Json parse_json_file(const fs::path& path)
{
    std::string text = read_file(path);
    Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded()) {
        throw UsageError(path.string() + ": not valid JSON");
    }
    return j;
}

} // namespace

LocalStore::LocalStore(fs::path root) : m_root(std::move(root))
{
    fs::path meta = m_root / "store.json";
    std::error_code ec;
    if (fs::exists(meta, ec)) {
        Json j = parse_json_file(meta);
        int version = j.value("schema_version", 0);
        if (version > k_store_schema_version) {
            throw UsageError("store " + m_root.string() + " has schema version " + std::to_string(version)
                             + ", newer than this mlrun understands (" + std::to_string(k_store_schema_version)
                             + "); upgrade mlrun");
        }
        m_created = true;
    }
}

std::string LocalStore::location() const
{
    return m_root.string();
}

std::string LocalStore::uri() const
{
    return "folder:" + m_root.string(); // a bare path opens the SQLite store
}

namespace {

class LocalRunLock final : public RunLock {
public:
    explicit LocalRunLock(int fd) : m_fd(fd) {}
    ~LocalRunLock() override { ::close(m_fd); }
    LocalRunLock(const LocalRunLock&) = delete;
    LocalRunLock& operator=(const LocalRunLock&) = delete;

private:
    int m_fd;
};

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

std::unique_ptr<RunLock> LocalStore::try_lock_run(const std::string& run_id)
{
    check_name(run_id, "run id");
    ensure_created();
    fs::create_directories(m_root / "records" / "runs");
    return try_lock_file(m_root / "records" / "runs" / ("." + run_id + ".lock"));
}

std::unique_ptr<RunLock> try_lock_file(const fs::path& path)
{
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw std::runtime_error("cannot open the lock " + path.string() + ": " + std::strerror(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return nullptr;
    }
    return std::make_unique<LocalRunLock>(fd);
}

void LocalStore::ensure_created()
{
    if (m_created) {
        return;
    }
    fs::create_directories(m_root / "tasks");
    fs::path meta = m_root / "store.json";
    if (!fs::exists(meta)) {
        FileLock lock(m_root / ".store.lock");
        if (!fs::exists(meta)) {
            write_file_atomic(meta,
                              dump_json(Json{{"schema_version", k_store_schema_version}, {"created_ms", now_ms()}}, 2));
        }
    }
    m_created = true;
}

fs::path LocalStore::task_dir(const std::string& id)
{
    return m_root / "tasks" / id;
}

void LocalStore::with_task_lock(const std::string& id, const std::function<void()>& fn)
{
    check_id(id);
    FileLock lock(task_dir(id) / ".lock");
    fn();
}

void LocalStore::create(Task& task)
{
    ensure_created();
    if (task.id.empty()) {
        task.id = new_id();
    }
    check_id(task.id);
    task.created_ms = task.created_ms ? task.created_ms : now_ms();
    task.updated_ms = task.created_ms;
    fs::path dir = task_dir(task.id);
    std::error_code ec;
    if (!fs::create_directory(dir, ec)) {
        throw std::runtime_error("cannot create task folder " + dir.string()
                                 + (ec ? ": " + ec.message() : ": it exists already"));
    }
    try {
        write_file_atomic(dir / "task.json", dump_json(task.to_json(), 2));
    } catch (...) {
        fs::remove_all(dir, ec); // no empty task folder left behind
        throw;
    }
}

void LocalStore::import_task(const Task& task, const std::vector<Scalar>& scalars)
{
    ensure_created();
    check_id(task.id);
    fs::path dir = task_dir(task.id);
    fs::create_directories(dir);
    {
        FileLock lock(dir / ".lock");
        std::error_code ec;
        fs::remove(dir / "scalars.jsonl", ec);
        write_file_atomic(dir / "task.json", dump_json(task.to_json(), 2));
    }
    if (!scalars.empty()) { // takes the task's lock itself
        append_scalars(task.id, scalars);
    }
}

std::optional<Task> LocalStore::find(const std::string& id)
{
    check_id(id);
    fs::path path = task_dir(id) / "task.json";
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        return std::nullopt;
    }
    return Task::from_json(parse_json_file(path));
}

Task LocalStore::update(const std::string& id, const std::function<void(Task&)>& change)
{
    check_id(id);
    fs::path dir = task_dir(id);
    if (!fs::exists(dir / "task.json")) {
        throw UsageError("unknown task " + id);
    }
    FileLock lock(dir / ".lock");
    Task task = Task::from_json(parse_json_file(dir / "task.json"));
    change(task);
    task.updated_ms = now_ms();
    write_file_atomic(dir / "task.json", dump_json(task.to_json(), 2));
    return task;
}

std::vector<Task> LocalStore::list(const TaskFilter& filter)
{
    std::vector<Task> out;
    std::error_code ec;
    fs::directory_iterator it(m_root / "tasks", ec);
    if (ec) {
        return out;
    }
    std::vector<std::string> ids;
    for (const fs::directory_entry& e : it) {
        ids.push_back(e.path().filename().string());
    }
    std::sort(ids.begin(), ids.end());
    if (filter.newest_first) {
        std::reverse(ids.begin(), ids.end());
    }
    TaskListingReader listing;
    for (const std::string& id : ids) {
        if (filter.limit != 0 && out.size() >= filter.limit) {
            break;
        }
        fs::path path = m_root / "tasks" / id / "task.json";
        if (filter.light) {
            if (std::optional<Task> t = listing.read(path); t && matches(*t, filter)) {
                out.push_back(std::move(*t));
            }
            continue;
        }
        std::string text;
        try {
            text = read_file(path);
        } catch (const UsageError&) {
            continue; // a task being created: its folder exists before its record
        }
        Json j = Json::parse(text, nullptr, false);
        if (j.is_discarded()) {
            continue;
        }
        Task t = Task::from_json(j);
        if (matches(t, filter)) {
            out.push_back(std::move(t));
        }
    }
    return out;
}

std::string LocalStore::resolve(const std::string& id_or_prefix)
{
    if (id_or_prefix.empty()) {
        throw UsageError("empty task id");
    }
    check_id(id_or_prefix);
    if (fs::exists(task_dir(id_or_prefix) / "task.json")) {
        return id_or_prefix;
    }
    std::vector<std::string> hits;
    std::vector<std::string> all;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(m_root / "tasks", ec)) {
        std::string name = e.path().filename().string();
        all.push_back(name);
        if (name.compare(0, id_or_prefix.size(), id_or_prefix) == 0) {
            hits.push_back(name);
        }
    }
    if (hits.size() == 1) {
        return hits.front();
    }
    if (hits.empty()) {
        std::string near = nearest(id_or_prefix, all);
        throw UsageError("unknown task \"" + id_or_prefix + "\" in " + location()
                         + (near.empty() ? "" : " (did you mean " + near + "?)"));
    }
    throw UsageError("task id prefix \"" + id_or_prefix + "\" is ambiguous (" + std::to_string(hits.size())
                     + " tasks match)");
}

void LocalStore::append_log(const std::string& id, std::string_view text)
{
    check_id(id);
    fs::path path = task_dir(id) / "log.txt";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw std::runtime_error("cannot append to " + path.string() + ": " + std::strerror(errno));
    }
    // One write per call: O_APPEND keeps concurrent lines whole.
    ssize_t n = ::write(fd, text.data(), text.size());
    ::close(fd);
    if (n < 0) {
        throw std::runtime_error("cannot append to " + path.string() + ": " + std::strerror(errno));
    }
}

std::string LocalStore::read_log(const std::string& id, std::uint64_t offset)
{
    check_id(id);
    fs::path path = task_dir(id) / "log.txt";
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        return "";
    }
    std::string all = read_file(path);
    return offset >= all.size() ? "" : all.substr(offset);
}

void LocalStore::append_scalars(const std::string& id, const std::vector<Scalar>& batch)
{
    if (batch.empty()) {
        return;
    }
    std::string lines;
    for (const Scalar& s : batch) {
        Json line{{"title", s.title}, {"series", s.series}, {"iteration", s.iteration}, {"value", s.value}};
        if (s.timestamp_ms != 0) {
            line["timestamp_ms"] = s.timestamp_ms;
        }
        lines += dump_json(line);
        lines += '\n';
    }
    fs::path path = task_dir(id) / "scalars.jsonl";
    with_task_lock(id, [&] {
        int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            throw std::runtime_error("cannot append to " + path.string() + ": " + std::strerror(errno));
        }
        // A killed writer may have left a torn last line without its newline: end it, so that
        // this batch's first line is not glued to it (and lost with it).
        struct stat st {};
        char last = '\n';
        if (::fstat(fd, &st) == 0 && st.st_size > 0 && ::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
            lines.insert(lines.begin(), '\n');
        }
        ssize_t n = ::write(fd, lines.data(), lines.size());
        ::close(fd);
        if (n != static_cast<ssize_t>(lines.size())) {
            throw std::runtime_error("cannot append to " + path.string());
        }
    });
}

std::vector<Scalar> LocalStore::read_scalars(const std::string& id)
{
    check_id(id);
    std::vector<Scalar> out;
    fs::path path = task_dir(id) / "scalars.jsonl";
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
        std::int64_t stamp = 0;
        if (!doc["timestamp_ms"].get_int64().get(stamp)) {
            sc.timestamp_ms = stamp;
        }
        sc.title = title;
        sc.series = series;
        out.push_back(std::move(sc));
    }
    return out;
}

ArtifactRecord LocalStore::put_artifact(const std::string& id, const std::string& name, const fs::path& source)
{
    check_id(id);
    check_relative_path(name, "artifact name");
    std::error_code ec;
    if (!fs::exists(source, ec)) {
        throw UsageError("artifact \"" + name + "\": " + source.string() + " does not exist");
    }
    fs::path dest = task_dir(id) / "artifacts" / name;
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
    return rec;
}

std::optional<fs::path> LocalStore::artifact_path(const std::string& id, const std::string& name)
{
    check_id(id);
    check_relative_path(name, "artifact name");
    fs::path path = task_dir(id) / "artifacts" / name;
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        return std::nullopt;
    }
    return path;
}

void LocalStore::clear_outputs(const std::string& id)
{
    check_id(id);
    fs::path dir = task_dir(id);
    std::error_code ec;
    fs::remove_all(dir / "artifacts", ec);
    fs::remove_all(dir / "work", ec);
    fs::remove(dir / "scalars.jsonl", ec);
    fs::remove(dir / "log.txt", ec);
}

void LocalStore::put_record(const std::string& kind, const std::string& id, const Json& record)
{
    check_name(kind, "record kind");
    check_name(id, "record id");
    ensure_created();
    fs::path dir = m_root / "records" / kind;
    fs::create_directories(dir);
    write_file_atomic(dir / (id + ".json"), dump_json(record, 2));
}

std::optional<Json> LocalStore::get_record(const std::string& kind, const std::string& id)
{
    check_name(kind, "record kind");
    check_name(id, "record id");
    fs::path path = m_root / "records" / kind / (id + ".json");
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        return std::nullopt;
    }
    return parse_json_file(path);
}

std::vector<std::string> LocalStore::list_records(const std::string& kind)
{
    check_name(kind, "record kind");
    std::vector<std::string> ids;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(m_root / "records" / kind, ec)) {
        if (e.path().extension() == ".json") {
            ids.push_back(e.path().stem().string());
        }
    }
    std::sort(ids.begin(), ids.end());
    return ids;
}

Json LocalStore::update_record(const std::string& kind, const std::string& id, const std::function<void(Json&)>& change)
{
    check_name(kind, "record kind");
    check_name(id, "record id");
    ensure_created();
    fs::path dir = m_root / "records" / kind;
    fs::create_directories(dir);
    FileLock lock(dir / ("." + id + ".lock"));
    fs::path path = dir / (id + ".json");
    Json record = fs::exists(path) ? parse_json_file(path) : Json();
    change(record);
    write_file_atomic(path, dump_json(record, 2));
    return record;
}

} // namespace mlrun
