#include "core/task_codec.hpp"

#include "core/error.hpp"

#include <simdjson.h>

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace mlrun {

namespace {

// The one list of task.json fields. Every codec is a visitor with one member per kind of
// field (required text, text, number, list of text, document, status, artifacts), so a
// field added here reaches the writer and both readers, and a new kind of field does not
// compile until each codec handles it. T is Task or const Task.
template <class T, class Visitor>
void visit_fields(T& t, Visitor& v)
{
    v.required("id", t.id);
    v.text("name", t.name);
    v.text("project", t.project);
    v.text("type", t.type);
    v.required("kind", t.kind);
    v.text("template", t.template_name);
    v.document("params", t.params);
    v.list("editable", t.editable);
    v.list("tags", t.tags);
    v.text("run_id", t.run_id);
    v.text("step", t.step);
    v.text("parent", t.parent);
    v.text("cloned_from", t.cloned_from);
    v.text("queue", t.queue);
    v.status("status", t.status);
    v.number("created_ms", t.created_ms);
    v.number("updated_ms", t.updated_ms);
    v.number("started_ms", t.started_ms);
    v.number("finished_ms", t.finished_ms);
    v.number("attempts", t.attempts);
    v.number("exit_code", t.exit_code);
    v.text("error", t.error);
    v.text("error_class", t.error_class);
    v.list("attempt_errors", t.attempt_errors);
    v.number("lease_epoch", t.lease_epoch);
    v.text("cache_key", t.cache_key);
    v.artifacts("artifacts", t.artifacts);
    v.document("values", t.values);
}

// Task -> JSON object: every field, always present.
struct Writer {
    Json out = Json::object();

    void required(const char* key, const std::string& v) { out[key] = v; }
    void text(const char* key, const std::string& v) { out[key] = v; }
    template <class N>
    void number(const char* key, N v)
    {
        out[key] = v;
    }
    void list(const char* key, const std::vector<std::string>& v) { out[key] = v; }
    void document(const char* key, const Json& v) { out[key] = v; }
    void status(const char* key, Status v) { out[key] = std::string(to_string(v)); }
    void artifacts(const char* key, const std::vector<ArtifactRecord>& v)
    {
        Json arts = Json::array();
        for (const ArtifactRecord& a : v) {
            arts.push_back({{"name", a.name},
                            {"content_type", a.content_type},
                            {"size", a.size},
                            {"sha256", a.sha256},
                            {"uri", a.uri}});
        }
        out[key] = std::move(arts);
    }
};

// JSON object -> Task, strict: required fields must be there, and a field that is there
// must have its type (nlohmann throws; from_json turns that into a UsageError). An absent
// optional field keeps the default of a new Task.
struct FullReader {
    const Json& in;

    const Json* find(const char* key) const
    {
        auto it = in.find(key);
        return it == in.end() ? nullptr : &*it;
    }
    void required(const char* key, std::string& v) { v = in.at(key).get<std::string>(); }
    void text(const char* key, std::string& v)
    {
        if (const Json* j = find(key)) {
            v = j->get<std::string>();
        }
    }
    template <class N>
    void number(const char* key, N& v)
    {
        if (const Json* j = find(key)) {
            v = j->get<N>();
        }
    }
    void list(const char* key, std::vector<std::string>& v)
    {
        if (const Json* j = find(key)) {
            v = j->get<std::vector<std::string>>();
        }
    }
    void document(const char* key, Json& v)
    {
        if (const Json* j = find(key)) {
            v = *j;
        }
    }
    void status(const char* key, Status& v) { v = parse_status(in.at(key).get<std::string>()); }
    void artifacts(const char* key, std::vector<ArtifactRecord>& v)
    {
        if (const Json* j = find(key)) {
            for (const Json& a : *j) {
                v.push_back({a.at("name").get<std::string>(), a.value("content_type", ""),
                             a.value("size", std::uint64_t{0}), a.value("sha256", ""), a.value("uri", "")});
            }
        }
    }
};

// simdjson element -> Task for a listing, lenient: a field of the wrong type keeps its
// default; documents and artifacts are skipped (the listing does not show them); ok turns
// false when a required field or the status is missing or unusable.
struct ListingReader {
    simdjson::dom::element in;
    bool ok = true;

    void required(const char* key, std::string& v)
    {
        text(key, v);
        ok = ok && !v.empty();
    }
    void text(const char* key, std::string& v)
    {
        std::string_view s;
        if (!in[key].get_string().get(s)) {
            v = std::string(s);
        }
    }
    template <class N>
    void number(const char* key, N& v)
    {
        std::int64_t n = 0;
        if (!in[key].get_int64().get(n)) {
            v = static_cast<N>(n);
        }
    }
    void list(const char* key, std::vector<std::string>& v)
    {
        simdjson::dom::array items;
        if (in[key].get_array().get(items)) {
            return;
        }
        for (simdjson::dom::element item : items) {
            std::string_view s;
            if (!item.get_string().get(s)) {
                v.emplace_back(s);
            }
        }
    }
    void document(const char* /*key*/, Json& /*v*/) {}
    void status(const char* key, Status& v)
    {
        std::string_view s;
        if (in[key].get_string().get(s)) {
            ok = false;
            return;
        }
        try {
            v = parse_status(s);
        } catch (const UsageError&) {
            ok = false;
        }
    }
    void artifacts(const char* /*key*/, std::vector<ArtifactRecord>& /*v*/) {}
};

} // namespace

Json Task::to_json() const
{
    Writer w;
    visit_fields(*this, w);
    return std::move(w.out);
}

Task Task::from_json(const Json& j)
{
    if (!j.is_object()) {
        throw UsageError("task record is not a JSON object");
    }
    try {
        Task t;
        FullReader r{j};
        visit_fields(t, r);
        return t;
    } catch (const Json::exception& e) {
        throw UsageError(std::string("malformed task record: ") + e.what());
    }
}

struct TaskListingReader::Impl {
    simdjson::dom::parser parser;
    std::vector<char> buf;
};

TaskListingReader::TaskListingReader() : m_impl(std::make_unique<Impl>())
{}

TaskListingReader::~TaskListingReader() = default;

std::optional<Task> TaskListingReader::read(const std::filesystem::path& path)
{
    // open + read + close: padded_string::load adds fstat, lseek and stdio per file.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return std::nullopt;
    }
    std::vector<char>& buf = m_impl->buf;
    size_t len = 0;
    while (true) {
        if (buf.size() < len + 4096 + simdjson::SIMDJSON_PADDING) {
            buf.resize(2 * buf.size() + 65536);
        }
        ssize_t n = ::read(fd, buf.data() + len, buf.size() - len - simdjson::SIMDJSON_PADDING);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += static_cast<size_t>(n);
    }
    ::close(fd);
    simdjson::dom::element doc;
    if (m_impl->parser.parse(buf.data(), len, false).get(doc) || !doc.is_object()) {
        return std::nullopt;
    }
    Task t;
    ListingReader r{doc};
    visit_fields(t, r);
    if (!r.ok) {
        return std::nullopt;
    }
    return t;
}

} // namespace mlrun
