#include "store/local_store.hpp"

#include "core/error.hpp"
#include "core/task_codec.hpp"
#include "core/util.hpp"
#include "platform/file_lock.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
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
        throw CorruptRecord(path.string() + ": not valid JSON" + (text.empty() ? " (empty file)" : ""));
    }
    return j;
}

// The task record at `path`: CorruptRecord when it is not JSON or not a task.
Task read_task_file(const fs::path& path)
{
    Json j = parse_json_file(path);
    try {
        return Task::from_json(j);
    } catch (const std::exception& e) {
        throw CorruptRecord(path.string() + ": not a task record: " + e.what());
    }
}

// IoError for a storage errno (full, read-only, failing disk), else std::runtime_error.
[[noreturn]] void throw_append_error(const fs::path& path, int err)
{
    std::string what = "cannot append to " + path.string() + ": " + std::strerror(err);
    if (is_io_errno(err)) {
        throw IoError(what);
    }
    throw std::runtime_error(what);
}

// A listing entry for a record that cannot be read.
Task corrupt_entry(const std::string& id, const std::string& why)
{
    Task t;
    t.id = id;
    t.corrupt = why;
    return t;
}

// The log cap: MLRUN_LOG_MAX_BYTES (0: none), else k_default_log_cap_bytes.
std::uint64_t log_cap_from_env()
{
    const char* env = std::getenv("MLRUN_LOG_MAX_BYTES");
    if (!env || !*env) {
        return k_default_log_cap_bytes;
    }
    char* end = nullptr;
    unsigned long long v = std::strtoull(env, &end, 10);
    return end && *end == '\0' ? v : k_default_log_cap_bytes;
}

} // namespace

LocalStore::LocalStore(fs::path root) : m_root(std::move(root)), m_log_cap(log_cap_from_env())
{
    fs::path meta = m_root / "store.json";
    std::error_code ec;
    if (fs::exists(m_root, ec) && !fs::is_directory(m_root, ec)) {
        throw UsageError("store " + m_root.string() + " is a file, not a folder (--home / MLRUN_HOME)");
    }
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

void check_writable_store(const fs::path& root)
{
    if (::access(root.c_str(), W_OK) != 0 && (errno == EROFS || errno == EACCES)) {
        throw UsageError("store " + root.string() + " is read-only (" + std::strerror(errno)
                         + "): a run needs to write to it");
    }
}

std::unique_ptr<RunLock> LocalStore::try_lock_run(const std::string& run_id)
{
    check_name(run_id, "run id");
    check_writable_store(m_root);
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
    return read_task_file(path);
}

Task LocalStore::update(const std::string& id, const std::function<void(Task&)>& change)
{
    check_id(id);
    fs::path dir = task_dir(id);
    if (!fs::exists(dir / "task.json")) {
        throw UsageError("unknown task " + id);
    }
    FileLock lock(dir / ".lock");
    Task task = read_task_file(dir / "task.json");
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
        if (id.front() == '.') {
            continue; // not a task folder
        }
        fs::path path = m_root / "tasks" / id / "task.json";
        if (filter.light) {
            if (std::optional<Task> t = listing.read(path)) {
                if (matches(*t, filter)) {
                    out.push_back(std::move(*t));
                }
            } else if (filter.include_corrupt && fs::exists(path, ec)) {
                out.push_back(corrupt_entry(id, "task.json cannot be decoded"));
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
        std::optional<Task> t;
        std::string why = text.empty() ? "task.json is empty" : "task.json is not valid JSON";
        if (!j.is_discarded()) {
            try {
                t = Task::from_json(j);
            } catch (const std::exception& e) {
                why = std::string("task.json is not a task record: ") + e.what();
            }
        }
        if (!t) {
            if (filter.include_corrupt) {
                out.push_back(corrupt_entry(id, why));
            }
            continue;
        }
        if (matches(*t, filter)) {
            out.push_back(std::move(*t));
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
    if (fd < 0 && errno == ENOENT) {
        // The database stores make a task's folder with its first file.
        std::error_code ec;
        fs::create_directories(path.parent_path(), ec);
        fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    }
    if (fd < 0) {
        throw_append_error(path, errno);
    }
    struct stat st {};
    if (m_log_cap > 0 && ::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) + text.size() > m_log_cap) {
        ::close(fd);
        cut_log(id, path, text);
        return;
    }
    // One write per call: O_APPEND keeps concurrent lines whole.
    ssize_t n = ::write(fd, text.data(), text.size());
    int err = errno;
    ::close(fd);
    if (n < 0) {
        throw_append_error(path, err);
    }
    if (static_cast<size_t>(n) != text.size()) {
        throw_append_error(path, ENOSPC); // a short write: the file system is full
    }
}

namespace {

// A cut log (see LocalStore::append_log): log.txt holds head + marker + tail. The marker
// sits at byte `head` and has a fixed length (a 20-digit number), so later cuts rewrite it
// in place and readers' offsets in the head stay valid; it says at which stream offset the
// tail starts. log.cut ("HEAD MARKER_BYTES\n") is written once, before the first cut log.
constexpr std::string_view k_cut_prefix = "[mlrun: log over its cap (MLRUN_LOG_MAX_BYTES): the middle is cut here; "
                                          "the log goes on from byte ";
constexpr std::string_view k_cut_suffix = "]\n";

std::string cut_marker(bool newline_first, std::uint64_t tail_start)
{
    char digits[32];
    std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(tail_start));
    return std::string(newline_first ? "\n" : "") + std::string(k_cut_prefix) + digits + std::string(k_cut_suffix);
}

// The tail's stream offset written in `marker`; nullopt when it is not a cut marker.
std::optional<std::uint64_t> parse_cut_marker(std::string_view marker)
{
    if (!marker.empty() && marker.front() == '\n') {
        marker.remove_prefix(1);
    }
    if (marker.size() != k_cut_prefix.size() + 20 + k_cut_suffix.size()
        || marker.substr(0, k_cut_prefix.size()) != k_cut_prefix
        || marker.substr(marker.size() - k_cut_suffix.size()) != k_cut_suffix) {
        return std::nullopt;
    }
    std::uint64_t v = 0;
    for (char c : marker.substr(k_cut_prefix.size(), 20)) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
}

struct CutLayout {
    std::uint64_t head = 0;       // bytes of the head (the marker starts here)
    std::uint64_t marker = 0;     // bytes of the marker
    std::uint64_t tail_start = 0; // stream offset of the tail's first byte
};

std::string pread_string(int fd, std::uint64_t from, std::uint64_t len)
{
    std::string out(len, '\0');
    size_t got = 0;
    while (got < len) {
        ssize_t n = ::pread(fd, out.data() + got, len - got, static_cast<off_t>(from + got));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += static_cast<size_t>(n);
    }
    out.resize(got);
    return out;
}

// The layout of the open log `fd` when it is a cut one (log.cut names the head and the
// marker there parses), else nullopt.
std::optional<CutLayout> cut_layout(const fs::path& dir, int fd)
{
    std::error_code ec;
    if (!fs::exists(dir / "log.cut", ec)) {
        return std::nullopt;
    }
    unsigned long long head = 0;
    unsigned long long marker = 0;
    try {
        if (std::sscanf(read_file(dir / "log.cut").c_str(), "%llu %llu", &head, &marker) != 2 || marker > 4096) {
            return std::nullopt;
        }
    } catch (const std::exception&) {
        return std::nullopt;
    }
    std::optional<std::uint64_t> start = parse_cut_marker(pread_string(fd, head, marker));
    if (!start) {
        return std::nullopt; // log.cut written, the cut log not (yet): the log is whole
    }
    return CutLayout{head, marker, *start};
}

} // namespace

void LocalStore::cut_log(const std::string& id, const fs::path& path, std::string_view text)
{
    with_task_lock(id, [&] {
        const std::uint64_t head_size = m_log_cap / 2;
        const std::uint64_t tail_size = std::max<std::uint64_t>(m_log_cap / 4, 1);
        const fs::path dir = path.parent_path();
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            throw_append_error(path, errno);
        }
        struct stat st {};
        ::fstat(fd, &st);
        const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
        const std::optional<CutLayout> before = cut_layout(dir, fd);
        std::uint64_t head = 0;
        std::uint64_t tail_file_start = 0; // where what follows the head (or the old marker) begins
        std::uint64_t stream_at = 0;       // the stream offset of byte tail_file_start
        if (before) {
            head = before->head;
            tail_file_start = std::min(size, before->head + before->marker);
            stream_at = before->tail_start;
        } else {
            // The head ends after a whole line when there is one to end it.
            std::string first = pread_string(fd, 0, std::min(head_size, size));
            const size_t nl = first.rfind('\n');
            head = nl == std::string::npos || nl + 1 < first.size() / 2 ? first.size() : nl + 1;
            tail_file_start = head;
            stream_at = head;
        }
        const std::string head_text = pread_string(fd, 0, head);
        // The newest bytes: the end of the file, then the text, cut to tail_size together,
        // and then to the start of a line when one starts in it.
        std::string tail;
        if (text.size() < tail_size) {
            const std::uint64_t from_file = std::min<std::uint64_t>(tail_size - text.size(), size - tail_file_start);
            tail = pread_string(fd, size - from_file, from_file);
            tail.append(text);
        } else {
            tail = std::string(text.substr(text.size() - tail_size));
        }
        ::close(fd);
        const std::uint64_t stream_end = stream_at + (size - tail_file_start) + text.size();
        const size_t nl = tail.find('\n');
        if (nl != std::string::npos && nl + 1 < tail.size()) {
            tail.erase(0, nl + 1);
        }
        const bool newline_first = !head_text.empty() && head_text.back() != '\n';
        const std::string marker = cut_marker(newline_first, stream_end - tail.size());
        try {
            if (!before) {
                write_file_atomic(dir / "log.cut", std::to_string(head) + " " + std::to_string(marker.size()) + "\n");
            }
            write_file_atomic(path, head_text + marker + tail);
        } catch (const std::runtime_error& e) {
            throw IoError(std::string("cannot cut the log: ") + e.what());
        }
    });
}

LogPiece LocalStore::read_log_stream(const std::string& id, std::uint64_t from, std::size_t max_bytes)
{
    check_id(id);
    const fs::path dir = task_dir(id);
    LogPiece piece;
    piece.next = from;
    int fd = ::open((dir / "log.txt").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return piece;
    }
    // One open file for the layout and the bytes: a cut meanwhile replaces the file, not these.
    struct stat st {};
    const std::uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    const std::optional<CutLayout> cut = cut_layout(dir, fd);
    std::uint64_t at = from; // the file offset of stream offset `from`
    std::uint64_t end = size;
    if (cut) {
        if (from < cut->head) {
            end = cut->head; // the head first; the marker is not the log's
        } else {
            if (from < cut->tail_start) {
                piece.cut = cut->tail_start - from;
                from = cut->tail_start;
            }
            at = cut->head + cut->marker + (from - cut->tail_start);
        }
    }
    if (at < end) {
        const std::uint64_t len = max_bytes == 0 ? end - at : std::min<std::uint64_t>(end - at, max_bytes);
        piece.text = pread_string(fd, at, len);
    }
    ::close(fd);
    piece.next = from + piece.text.size();
    return piece;
}

std::string LocalStore::read_log(const std::string& id, std::uint64_t offset)
{
    return read_log_part(id, offset, 0);
}

std::string LocalStore::read_log_part(const std::string& id, std::uint64_t offset, std::size_t max_bytes)
{
    check_id(id);
    fs::path path = task_dir(id) / "log.txt";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return "";
    }
    struct stat st {};
    std::string out;
    if (::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) > offset) {
        std::uint64_t len = static_cast<std::uint64_t>(st.st_size) - offset;
        if (max_bytes != 0) {
            len = std::min<std::uint64_t>(len, max_bytes);
        }
        out = pread_string(fd, offset, len);
    }
    ::close(fd);
    return out;
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
            throw_append_error(path, errno);
        }
        // A killed writer may have left a torn last line without its newline: end it, so that
        // this batch's first line is not glued to it (and lost with it).
        struct stat st {};
        char last = '\n';
        if (::fstat(fd, &st) == 0 && st.st_size > 0 && ::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
            lines.insert(lines.begin(), '\n');
        }
        ssize_t n = ::write(fd, lines.data(), lines.size());
        int err = n < 0 ? errno : ENOSPC; // a short write: the file system is full
        if (n >= 0 && n != static_cast<ssize_t>(lines.size())) {
            // Take the torn batch back: the next batch must not be glued to half a line.
            [[maybe_unused]] int r = ::ftruncate(fd, st.st_size);
        }
        ::close(fd);
        if (n != static_cast<ssize_t>(lines.size())) {
            throw_append_error(path, err);
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
    fs::remove(dir / "log.cut", ec);
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

namespace {
// Moves `from` to `to` (a fresh name under quarantine/), creating the folders on the way.
std::string move_aside(const fs::path& from, const fs::path& to)
{
    fs::create_directories(to.parent_path());
    fs::rename(from, to);
    return to.string();
}
} // namespace

std::string LocalStore::quarantine_task(const std::string& id)
{
    check_id(id);
    return move_aside(task_dir(id), m_root / "quarantine" / "tasks" / (id + "." + std::to_string(now_ms())));
}

std::string LocalStore::quarantine_record(const std::string& kind, const std::string& id)
{
    check_name(kind, "record kind");
    check_name(id, "record id");
    return move_aside(m_root / "records" / kind / (id + ".json"),
                      m_root / "quarantine" / "records" / kind / (id + "." + std::to_string(now_ms()) + ".json"));
}

} // namespace mlrun
