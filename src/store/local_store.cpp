#include "store/local_store.hpp"

#include "core/error.hpp"
#include "core/task_codec.hpp"
#include "core/util.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
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

FileLock::FileLock(const fs::path& path)
{
    m_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (m_fd < 0) {
        throw std::runtime_error("cannot open lock " + path.string() + ": " + std::strerror(errno));
    }
    while (::flock(m_fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int err = errno;
            ::close(m_fd);
            throw std::runtime_error("cannot lock " + path.string() + ": " + std::strerror(err));
        }
    }
}

FileLock::~FileLock()
{
    if (m_fd >= 0) {
        ::flock(m_fd, LOCK_UN);
        ::close(m_fd);
    }
}

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
            write_file_atomic(meta, dump_json(Json{{"schema_version", k_store_schema_version}, {"created_ms", now_ms()}}, 2));
        }
    }
    m_created = true;
}

fs::path LocalStore::task_dir(const std::string& id) const
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
    TaskListingReader listing;
    for (const std::string& id : ids) {
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

Json LocalStore::update_record(const std::string& kind, const std::string& id,
                               const std::function<void(Json&)>& change)
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
