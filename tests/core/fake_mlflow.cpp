// The strict fake MLflow server (fake_mlflow.hpp). Every answer below follows an exchange
// of shared/mlflow-contract/transcript.md or a probe of limits.txt; comments name it.
#include "fake_mlflow.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <mutex>
#include <regex>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

namespace mlrun::test {

using Json = nlohmann::json;

namespace {

const char* k_html_404 = "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
                         "<p>The requested URL was not found on the server. If you entered the URL manually please "
                         "check your spelling and try again.</p>\n";
const char* k_html_405 = "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n"
                         "<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n";
const char* k_html_500 = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
                         "<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable "
                         "to complete your request.</p>\n";

// An MLflow error answer: {"error_code", "message"}.
struct ApiError {
    int status;
    std::string code;
    std::string message;
};

ApiError invalid(std::string message)
{
    return {400, "INVALID_PARAMETER_VALUE", std::move(message)};
}

ApiError not_found(std::string message)
{
    return {404, "RESOURCE_DOES_NOT_EXIST", std::move(message)};
}

// posixpath.normpath, as MLflow's path_not_unique() uses it.
std::string normpath(const std::string& path)
{
    if (path.empty()) {
        return ".";
    }
    std::size_t slashes = 0;
    while (slashes < path.size() && path[slashes] == '/') {
        ++slashes;
    }
    const std::string prefix = slashes == 0 ? "" : (slashes == 2 ? "//" : "/");
    std::vector<std::string> parts;
    std::size_t start = slashes;
    while (start <= path.size()) {
        std::size_t end = path.find('/', start);
        if (end == std::string::npos) {
            end = path.size();
        }
        std::string comp = path.substr(start, end - start);
        if (comp.empty() || comp == ".") {
        } else if (comp == ".." && (prefix.empty() ? (!parts.empty() && parts.back() != "..") : true)) {
            if (!parts.empty()) {
                parts.pop_back();
            }
        } else {
            parts.push_back(comp);
        }
        start = end + 1;
    }
    std::string out = prefix;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        out += (i ? "/" : "") + parts[i];
    }
    return out.empty() ? "." : out;
}

// MLflow's name checks (limits.txt: "param key with bad char '!'", "param key '..'").
std::optional<ApiError> check_name(const std::string& what, const std::string& name)
{
    for (unsigned char c : name) {
        if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == ' ' || c == '/')) {
            return invalid("Invalid " + what + " name: '" + name
                           + "'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), "
                             "spaces ( ), and slashes (/).");
        }
    }
    const std::string norm = normpath(name);
    if (norm != name || norm == "." || norm.rfind("..", 0) == 0 || norm.rfind("/", 0) == 0) {
        return invalid("Invalid " + what + " name: '" + name
                       + "'. Names may be treated as files in certain cases, and must not resolve to other names "
                         "when treated as such. This name would resolve to '"
                       + norm + "'");
    }
    return std::nullopt;
}

std::optional<ApiError> check_length(const std::string& what, const std::string& value, std::size_t limit)
{
    // limits.txt counts characters (Python len): count UTF-8 lead bytes.
    std::size_t n = 0;
    for (unsigned char c : value) {
        n += (c & 0xC0) != 0x80;
    }
    if (n > limit) {
        return invalid(what + " '" + value.substr(0, 250) + "' had length " + std::to_string(n)
                       + ", which exceeded length limit of " + std::to_string(limit));
    }
    return std::nullopt;
}

std::uint64_t bits(double v)
{
    if (std::isnan(v)) {
        v = std::nan("");
    }
    std::uint64_t b;
    std::memcpy(&b, &v, sizeof b);
    return b;
}

struct Fault {
    enum class Type { fail, drop, lose } type;
    int remaining;
    int status;
    std::string path_part;
};

struct Model {
    std::vector<FakeVersion> versions;
    std::map<std::string, std::string> aliases;
};

} // namespace

std::string FakeRun::tag(const std::string& key) const
{
    for (const auto& [k, v] : tags) {
        if (k == key) {
            return v;
        }
    }
    return "";
}

std::string FakeRun::param(const std::string& key) const
{
    for (const auto& [k, v] : params) {
        if (k == key) {
            return v;
        }
    }
    return "";
}

int free_port()
{
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
        || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        throw std::runtime_error("free_port: no socket");
    }
    int port = ntohs(addr.sin_port);
    ::close(fd);
    return port;
}

struct FakeMlflow::Impl {
    httplib::Server server;
    std::thread thread;
    int port = 0;

    mutable std::mutex mu;
    std::vector<Fault> faults;
    int retry_after_s = 1;
    int delay_ms = 0;
    std::string bearer;
    std::string basic; // "Basic base64"
    bool html_mode = false;
    bool ack_only = false;
    bool forbidden = false;
    int upload_delay_ms = 0;
    std::vector<FakePartialUpload> partial;
    std::map<std::string, std::size_t> uploading; // path -> bytes received so far
    std::vector<std::string> requests;            // "METHOD path"
    std::vector<std::string> violations;

    std::map<std::string, std::string> experiments; // name -> id
    int next_experiment = 1;
    std::vector<FakeRun> runs; // creation order
    std::map<std::string, std::set<std::tuple<std::string, std::int64_t, std::int64_t, std::uint64_t>>> seen_points;
    std::map<std::string, std::string> artifacts; // "<exp>/<run>/artifacts/<path>" -> bytes
    std::map<std::string, Model> models;
    std::uint64_t id_counter = 0;

    FakeRun* find_run(const std::string& id)
    {
        for (FakeRun& r : runs) {
            if (r.run_id == id) {
                return &r;
            }
        }
        return nullptr;
    }

    std::string new_run_id()
    {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%016llx%016llx", 0x5eedULL + static_cast<unsigned long long>(port),
                      static_cast<unsigned long long>(++id_counter));
        return buf;
    }

    void violate(const std::string& what) { violations.push_back(what); }

    // ---- JSON views ----

    static Json kv_json(const std::vector<std::pair<std::string, std::string>>& items)
    {
        Json a = Json::array();
        for (const auto& [k, v] : items) {
            a.push_back({{"key", k}, {"value", v}});
        }
        return a;
    }

    static Json point_json(const std::string& key, const FakePoint& p)
    {
        Json v = std::isnan(p.value) ? Json("NaN") : Json(p.value);
        return {{"key", key}, {"value", v}, {"timestamp", p.timestamp}, {"step", p.step}};
    }

    static Json info_json(const FakeRun& r)
    {
        Json info{{"run_uuid", r.run_id},
                  {"experiment_id", r.experiment_id},
                  {"run_name", r.run_name},
                  {"user_id", r.user_id},
                  {"status", r.status},
                  {"start_time", r.start_time},
                  {"artifact_uri", "mlflow-artifacts:/" + r.experiment_id + "/" + r.run_id + "/artifacts"},
                  {"lifecycle_stage", r.lifecycle_stage},
                  {"run_id", r.run_id}};
        if (r.end_time) {
            info["end_time"] = r.end_time;
        }
        return info;
    }

    static Json run_json(const FakeRun& r)
    {
        Json data = Json::object();
        if (!r.metrics.empty()) {
            Json m = Json::array();
            for (const auto& [key, points] : r.metrics) {
                const FakePoint* latest = &points.front();
                for (const FakePoint& p : points) {
                    if (std::tie(p.step, p.timestamp) >= std::tie(latest->step, latest->timestamp)) {
                        latest = &p;
                    }
                }
                m.push_back(point_json(key, *latest));
            }
            data["metrics"] = m;
        }
        if (!r.params.empty()) {
            data["params"] = kv_json(r.params);
        }
        if (!r.tags.empty()) {
            data["tags"] = kv_json(r.tags);
        }
        return {{"info", info_json(r)}, {"data", data}, {"inputs", Json::object()}};
    }

    static Json version_json(const FakeVersion& v)
    {
        Json j{{"name", v.name},          {"version", v.version}, {"creation_timestamp", 1795345535998},
               {"current_stage", "None"}, {"description", ""},    {"source", v.source},
               {"run_id", v.run_id},      {"status", "READY"},    {"run_link", ""}};
        if (!v.tags.empty()) {
            j["tags"] = kv_json(v.tags);
        }
        return j;
    }

    static std::string str_field(const Json& body, const char* key)
    {
        auto it = body.find(key);
        return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
    }

    // ---- routes (lock held) ----

    using Handler = std::function<Json(const httplib::Request&, const Json&)>;

    // experiments/get-by-name (transcript: get-by-name cpp-pipeline-test / does-not-exist).
    Json experiments_get_by_name(const httplib::Request& req, const Json&)
    {
        const std::string name = req.get_param_value("experiment_name");
        auto it = experiments.find(name);
        if (it == experiments.end()) {
            throw not_found("Could not find experiment with name '" + name + "'");
        }
        return {{"experiment",
                 {{"experiment_id", it->second},
                  {"name", name},
                  {"artifact_location", "mlflow-artifacts:/" + it->second},
                  {"lifecycle_stage", "active"},
                  {"last_update_time", 1795345450047},
                  {"creation_time", 1795345450047}}}};
    }

    // experiments/create (transcript: create, create again -> RESOURCE_ALREADY_EXISTS, {} and "").
    Json experiments_create(const httplib::Request&, const Json& body)
    {
        const std::string name = str_field(body, "name");
        if (name.empty()) {
            throw invalid("Missing value for required parameter 'name'. See the API docs for more information about "
                          "request parameters.");
        }
        if (experiments.count(name)) {
            throw ApiError{400, "RESOURCE_ALREADY_EXISTS",
                           "Experiment(name=" + name
                               + ") already exists. Error: (sqlite3.IntegrityError) UNIQUE "
                                 "constraint failed: experiments.name"};
        }
        const std::string id = std::to_string(next_experiment++);
        experiments[name] = id;
        return {{"experiment_id", id}};
    }

    // runs/create (transcript: with start_time and tags; {"experiment_id":"999"}; {} ; numeric id).
    Json runs_create(const httplib::Request&, const Json& body)
    {
        std::string exp;
        if (body.contains("experiment_id") && body["experiment_id"].is_string()) {
            exp = body["experiment_id"].get<std::string>();
        } else if (body.contains("experiment_id") && body["experiment_id"].is_number_integer()) {
            violate("runs/create: experiment_id sent as a number");
            exp = std::to_string(body["experiment_id"].get<long long>());
        } else {
            throw ApiError{400, "BAD_REQUEST", "(sqlite3.IntegrityError) FOREIGN KEY constraint failed"};
        }
        bool known = false;
        for (const auto& [name, id] : experiments) {
            known = known || id == exp;
        }
        if (!known) {
            throw not_found("No Experiment with id=" + exp + " exists");
        }
        FakeRun r;
        r.run_id = new_run_id();
        r.experiment_id = exp;
        r.run_name = str_field(body, "run_name");
        if (r.run_name.empty()) {
            r.run_name = "gaudy-squid-" + std::to_string(runs.size());
        }
        r.user_id = str_field(body, "user_id");
        if (body.contains("start_time") && body["start_time"].is_number_integer()) {
            r.start_time = body["start_time"].get<std::int64_t>();
        } else {
            violate("runs/create without an integer start_time (stored as 0)");
        }
        bool has_name_tag = false;
        if (body.contains("tags") && body["tags"].is_array()) {
            for (const Json& t : body["tags"]) {
                if (!t.value("key", Json()).is_string() || !t.value("value", Json()).is_string()) {
                    violate("runs/create: a tag without string key and value");
                    continue;
                }
                has_name_tag = has_name_tag || t["key"] == "mlflow.runName";
                r.tags.emplace_back(t["key"].get<std::string>(), t["value"].get<std::string>());
            }
        }
        if (!has_name_tag) {
            r.tags.emplace_back("mlflow.runName", r.run_name);
        }
        runs.push_back(r);
        return {{"run", run_json(r)}};
    }

    FakeRun& run_of(const Json& body, bool must_be_active)
    {
        std::string id = str_field(body, "run_id");
        if (id.empty()) {
            id = str_field(body, "run_uuid");
        }
        if (id.empty()) {
            throw invalid("Missing value for required parameter 'run_id'. See the API docs for more information about "
                          "request parameters.");
        }
        FakeRun* r = find_run(id);
        if (!r) {
            throw not_found("Run with id=" + id + " not found");
        }
        if (must_be_active && r->lifecycle_stage != "active") {
            throw invalid("The run " + id + " must be in the 'active' state. Current state is deleted.");
        }
        return *r;
    }

    // runs/update (transcript: FINISHED with end_time; "DONE" left unchanged; unknown id 404).
    Json runs_update(const httplib::Request&, const Json& body)
    {
        FakeRun& r = run_of(body, true);
        const std::string status = str_field(body, "status");
        static const std::set<std::string> k_valid{"RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"};
        if (k_valid.count(status)) {
            r.status = status;
        } else if (body.contains("status")) {
            violate("runs/update: status '" + body["status"].dump() + "' ignored");
        }
        if (body.contains("end_time")) {
            if (body["end_time"].is_number_integer()) {
                r.end_time = body["end_time"].get<std::int64_t>();
            } else {
                violate("runs/update: end_time not an integer");
            }
        }
        if (!str_field(body, "run_name").empty()) {
            r.run_name = str_field(body, "run_name");
        }
        return {{"run_info", info_json(r)}};
    }

    // runs/get (transcript: runs/get by run_id and run_uuid; "nope" -> 404).
    Json runs_get(const httplib::Request& req, const Json&)
    {
        Json q{{"run_id", req.get_param_value("run_id")}, {"run_uuid", req.get_param_value("run_uuid")}};
        return {{"run", run_json(run_of(q, false))}};
    }

    // Filter strings of runs/search (transcript: tags.sweep = 's1', tags.`mlflow.runName`,
    // attributes.status, params.lr; unquoted value -> 400).
    static std::vector<std::tuple<std::string, std::string, std::string>> parse_filter(const std::string& filter)
    {
        std::vector<std::tuple<std::string, std::string, std::string>> clauses;
        if (filter.find_first_not_of(' ') == std::string::npos) {
            return clauses;
        }
        static const std::regex k_and("\\s+(and|AND)\\s+");
        static const std::regex k_clause(
            R"(^\s*(tags|tag|params|param|attributes|attribute)\.(`[^`]+`|[A-Za-z0-9_.\-]+)\s*=\s*(.*?)\s*$)");
        std::sregex_token_iterator it(filter.begin(), filter.end(), k_and, -1), end;
        for (; it != end; ++it) {
            const std::string clause = *it;
            std::smatch m;
            if (!std::regex_match(clause, m, k_clause)) {
                throw invalid("Invalid filter '" + filter + "'");
            }
            std::string key = m[2];
            if (key.front() == '`') {
                key = key.substr(1, key.size() - 2);
            }
            std::string value = m[3];
            if (value.size() < 2
                || !((value.front() == '\'' && value.back() == '\'')
                     || (value.front() == '"' && value.back() == '"'))) {
                throw invalid("Parameter value is either not quoted or unidentified quote types used for string value "
                              + value + ". Use either single or double quotes.");
            }
            std::string entity = m[1];
            if (entity.back() != 's') {
                entity += 's';
            }
            clauses.emplace_back(entity, key, value.substr(1, value.size() - 2));
        }
        return clauses;
    }

    // runs/search, POST only (transcript: paged with next_page_token; no match -> {}).
    Json runs_search(const httplib::Request&, const Json& body)
    {
        std::set<std::string> exps;
        if (body.contains("experiment_ids") && body["experiment_ids"].is_array()) {
            for (const Json& e : body["experiment_ids"]) {
                if (e.is_string()) {
                    exps.insert(e.get<std::string>());
                } else {
                    violate("runs/search: an experiment id that is not a string");
                }
            }
        }
        const auto clauses = parse_filter(str_field(body, "filter"));
        std::int64_t max_results = 1000;
        if (body.contains("max_results")) {
            if (!body["max_results"].is_number_integer() || body["max_results"].get<std::int64_t>() > 50000) {
                throw invalid(
                    "Invalid value " + body["max_results"].dump()
                    + " for parameter 'max_results' supplied. Hint: Value was of type 'int'. See the API docs "
                      "for more information about request parameters.");
            }
            max_results = body["max_results"].get<std::int64_t>();
        }
        std::size_t offset = 0;
        if (!str_field(body, "page_token").empty()) {
            offset = std::stoul(str_field(body, "page_token"));
        }
        std::vector<const FakeRun*> matches;
        for (const FakeRun& r : runs) {
            if (!exps.count(r.experiment_id) || r.lifecycle_stage != "active") {
                continue;
            }
            bool ok = true;
            for (const auto& [entity, key, value] : clauses) {
                if (entity == "tags") {
                    ok = ok && r.tag(key) == value
                         && std::any_of(r.tags.begin(), r.tags.end(), [&](const auto& t) { return t.first == key; });
                } else if (entity == "params") {
                    ok = ok && r.param(key) == value;
                } else if (key == "status") {
                    ok = ok && r.status == value;
                } else if (key == "run_name") {
                    ok = ok && r.run_name == value;
                } else if (key == "run_id") {
                    ok = ok && r.run_id == value;
                } else {
                    throw invalid("Invalid attribute key '" + key + "' specified.");
                }
            }
            if (ok) {
                matches.push_back(&r);
            }
        }
        Json out = Json::object();
        if (offset < matches.size()) {
            Json a = Json::array();
            std::size_t end = std::min(matches.size(), offset + static_cast<std::size_t>(max_results));
            for (std::size_t i = offset; i < end; ++i) {
                a.push_back(run_json(*matches[i]));
            }
            out["runs"] = a;
            if (end < matches.size()) {
                out["next_page_token"] = std::to_string(end);
            }
        }
        return out;
    }

    // runs/log-batch (limits.txt: every probe; transcript: the atomic batch with a param conflict).
    Json runs_log_batch(const httplib::Request&, const Json& body)
    {
        FakeRun& r = run_of(body, true);
        const Json none = Json::array();
        const Json& metrics = body.contains("metrics") && body["metrics"].is_array() ? body["metrics"] : none;
        const Json& params = body.contains("params") && body["params"].is_array() ? body["params"] : none;
        const Json& tags = body.contains("tags") && body["tags"].is_array() ? body["tags"] : none;
        const std::size_t nm = metrics.size(), np = params.size(), nt = tags.size();
        if (nm > 1000) {
            throw invalid("A batch logging request can contain at most 1000 metrics. Got " + std::to_string(nm)
                          + " metrics. Please split up metrics across multiple requests and try again.");
        }
        if (np > 100) {
            throw invalid("A batch logging request can contain at most 100 params. Got " + std::to_string(np)
                          + " params. Please split up params across multiple requests and try again.");
        }
        if (nt > 100) {
            throw invalid("A batch logging request can contain at most 100 tags. Got " + std::to_string(nt)
                          + " tags. Please split up tags across multiple requests and try again.");
        }
        if (nm + np + nt > 1000) {
            throw invalid("A batch logging request can contain at most 1000 metrics, params, and tags. Got "
                          + std::to_string(nm + np + nt)
                          + " metrics, params, and tags. Please split up metrics, params, and tags across multiple "
                            "requests and try again.");
        }
        // Validate everything first: a batch is all-or-nothing.
        struct M {
            std::string key;
            FakePoint p;
        };
        std::vector<M> ms;
        for (const Json& m : metrics) {
            const std::string key = str_field(m, "key");
            if (auto e = check_length("Metric name", key, 250)) {
                throw *e;
            }
            if (auto e = check_name("metric", key)) {
                throw *e;
            }
            if (!m.contains("timestamp")) {
                throw invalid("Invalid value [" + m.dump()
                              + "] for parameter 'metrics' supplied. Hint: Value was of "
                                "type 'list'. See the API docs for more information about "
                                "request parameters.");
            }
            FakePoint p;
            if (m["timestamp"].is_number_integer()) {
                p.timestamp = m["timestamp"].get<std::int64_t>();
            } else {
                violate("log-batch: metric " + key + " timestamp not an integer (stored as 0)");
            }
            const Json v = m.value("value", Json());
            if (v.is_number()) {
                p.value = v.get<double>();
            } else if (v.is_string() && (v == "NaN" || v == "Infinity" || v == "-Infinity")) {
                p.value = v == "NaN" ? std::nan("")
                                     : (v == "Infinity" ? 1.7976931348623157e308 : -1.7976931348623157e308);
            } else if (v.is_string()) {
                violate("log-batch: metric " + key + " value sent as a string");
                p.value = std::strtod(v.get<std::string>().c_str(), nullptr);
            } else {
                violate("log-batch: metric " + key + " without a numeric value");
            }
            if (m.contains("step")) {
                if (m["step"].is_number_integer()) {
                    p.step = m["step"].get<std::int64_t>();
                } else {
                    violate("log-batch: metric " + key + " step not an integer");
                }
            }
            ms.push_back({key, p});
        }
        std::vector<std::pair<std::string, std::string>> ps;
        std::set<std::string> keys;
        std::vector<std::string> dups;
        for (const Json& p : params) {
            const std::string key = str_field(p, "key");
            if (!p.value("value", Json()).is_string()) {
                violate("log-batch: param " + key + " value not a string (stored as \"\")");
            }
            const std::string value = str_field(p, "value");
            if (auto e = check_length("Param key", key, 250)) {
                throw *e;
            }
            if (auto e = check_name("parameter", key)) {
                throw *e;
            }
            if (auto e = check_length("Param value", value, 6000)) {
                throw *e;
            }
            if (!keys.insert(key).second) {
                dups.push_back("'" + key + "'");
            }
            ps.emplace_back(key, value);
        }
        if (!dups.empty()) {
            std::string list;
            for (const std::string& d : dups) {
                list += (list.empty() ? "" : ", ") + d;
            }
            throw invalid("Duplicate parameter keys have been submitted: [" + list
                          + "]. Please ensure the request contains only one param value per param key.");
        }
        for (const auto& [key, value] : ps) {
            for (const auto& [k, v] : r.params) {
                if (k == key && v != value) {
                    throw invalid("Changing param values is not allowed. Params were already logged='[{'key': '" + key
                                  + "', 'old_value': '" + v + "', 'new_value': '" + value + "'}]' for run ID='"
                                  + r.run_id + "'.");
                }
            }
        }
        std::vector<std::pair<std::string, std::string>> ts;
        for (const Json& t : tags) {
            const std::string key = str_field(t, "key");
            if (!t.value("value", Json()).is_string()) {
                violate("log-batch: tag " + key + " value not a string");
            }
            const std::string value = str_field(t, "value");
            if (auto e = check_length("Tag key", key, 250)) {
                throw *e;
            }
            if (auto e = check_name("tag", key)) {
                throw *e;
            }
            if (auto e = check_length("Tag value", value, 5000)) {
                throw *e;
            }
            ts.emplace_back(key, value);
        }
        // Apply: an exact re-send of a point is not stored again (README, Idempotency).
        for (const M& m : ms) {
            auto& seen = seen_points[r.run_id];
            if (seen.insert({m.key, m.p.step, m.p.timestamp, bits(m.p.value)}).second) {
                r.metrics[m.key].push_back(m.p);
            }
        }
        for (const auto& [key, value] : ps) {
            bool have = false;
            for (const auto& kv : r.params) {
                have = have || kv.first == key;
            }
            if (!have) {
                r.params.emplace_back(key, value);
            }
        }
        for (const auto& [key, value] : ts) {
            bool replaced = false;
            for (auto& kv : r.tags) {
                if (kv.first == key) {
                    kv.second = value; // tags overwrite
                    replaced = true;
                }
            }
            if (!replaced) {
                r.tags.emplace_back(key, value);
            }
        }
        return Json::object();
    }

    // runs/set-tag (transcript: set-tag note=x).
    Json runs_set_tag(const httplib::Request& req, const Json& body)
    {
        Json batch{
            {"run_id", str_field(body, "run_id")},
            {"tags", Json::array({{{"key", body.value("key", Json())}, {"value", body.value("value", Json())}}})}};
        return runs_log_batch(req, batch);
    }

    // metrics/get-history (transcript: get-history loss: the whole series).
    Json metrics_get_history(const httplib::Request& req, const Json&)
    {
        Json q{{"run_id", req.get_param_value("run_id")}};
        FakeRun& r = run_of(q, false);
        const std::string key = req.get_param_value("metric_key");
        Json a = Json::array();
        auto it = r.metrics.find(key);
        if (it != r.metrics.end()) {
            for (const FakePoint& p : it->second) {
                a.push_back(point_json(key, p));
            }
        }
        return {{"metrics", a}};
    }

    // artifacts/list (transcript: root, path=model, path=nonexistent -> no "files", ../x -> 400).
    Json artifacts_list(const httplib::Request& req, const Json&)
    {
        Json q{{"run_id", req.get_param_value("run_id")}};
        FakeRun& r = run_of(q, false);
        std::string path = req.get_param_value("path");
        if (path.find("..") != std::string::npos) {
            throw invalid("Invalid path");
        }
        const std::string root = r.experiment_id + "/" + r.run_id + "/artifacts/";
        const std::string prefix = path.empty() ? "" : path + "/";
        std::map<std::string, std::pair<bool, std::size_t>> entries;
        for (const auto& [full, bytes] : artifacts) {
            if (full.rfind(root + prefix, 0) != 0) {
                continue;
            }
            const std::string rest = full.substr(root.size() + prefix.size());
            const std::size_t slash = rest.find('/');
            if (slash == std::string::npos) {
                entries[prefix + rest] = {false, bytes.size()};
            } else {
                entries[prefix + rest.substr(0, slash)] = {true, 0};
            }
        }
        Json out{{"root_uri", "mlflow-artifacts:/" + r.experiment_id + "/" + r.run_id + "/artifacts"}};
        if (!entries.empty()) {
            Json files = Json::array();
            for (const auto& [p, e] : entries) {
                Json f{{"path", p}, {"is_dir", e.first}};
                if (!e.first) {
                    f["file_size"] = e.second;
                }
                files.push_back(f);
            }
            out["files"] = files;
        }
        return out;
    }

    // registered-models/create (transcript: create; again -> RESOURCE_ALREADY_EXISTS).
    Json registered_models_create(const httplib::Request&, const Json& body)
    {
        const std::string name = str_field(body, "name");
        if (name.empty()) {
            throw invalid("Missing value for required parameter 'name'.");
        }
        if (models.count(name)) {
            throw ApiError{400, "RESOURCE_ALREADY_EXISTS", "Registered Model (name=" + name + ") already exists."};
        }
        models[name];
        return {{"registered_model", {{"name", name}, {"creation_timestamp", 1795345535901}}}};
    }

    // model-versions/create (transcript: versions "1", "2" from the same run; unknown model 404; no source 400).
    Json model_versions_create(const httplib::Request&, const Json& body)
    {
        const std::string name = str_field(body, "name");
        auto it = models.find(name);
        if (it == models.end()) {
            throw not_found("Registered Model with name=" + name + " not found");
        }
        const std::string source = str_field(body, "source");
        if (source.empty()) {
            throw invalid("Missing value for required parameter 'source'. See the API docs for more information "
                          "about request parameters.");
        }
        if (source.rfind("runs:/", 0) != 0 && source.rfind("mlflow-artifacts:/", 0) != 0) {
            throw invalid("Invalid model version source: '" + source + "'.");
        }
        FakeVersion v{name, std::to_string(it->second.versions.size() + 1), source, str_field(body, "run_id"), {}};
        if (body.contains("tags") && body["tags"].is_array()) {
            for (const Json& t : body["tags"]) {
                v.tags.emplace_back(str_field(t, "key"), str_field(t, "value"));
            }
        }
        it->second.versions.push_back(v);
        return {{"model_version", version_json(v)}};
    }

    // model-versions/search, GET (transcript: filter=name='cpp-model'; README: filter=run_id='…').
    Json model_versions_search(const httplib::Request& req, const Json&)
    {
        static const std::regex k_clause(R"(^\s*(name|run_id)\s*=\s*'([^']*)'\s*$)");
        static const std::regex k_and("\\s+(and|AND)\\s+");
        const std::string filter = req.get_param_value("filter");
        std::vector<std::pair<std::string, std::string>> clauses;
        std::sregex_token_iterator it(filter.begin(), filter.end(), k_and, -1), end;
        for (; it != end && !filter.empty(); ++it) {
            const std::string c = *it;
            std::smatch m;
            if (!std::regex_match(c, m, k_clause)) {
                throw invalid("Invalid filter string: '" + filter + "'");
            }
            clauses.emplace_back(m[1], m[2]);
        }
        Json a = Json::array();
        for (const auto& [name, model] : models) {
            for (const FakeVersion& v : model.versions) {
                bool ok = true;
                for (const auto& [field, value] : clauses) {
                    ok = ok && (field == "name" ? v.name == value : v.run_id == value);
                }
                if (ok) {
                    a.push_back(version_json(v));
                }
            }
        }
        return {{"model_versions", a}};
    }

    FakeVersion* version_of(const std::string& name, const std::string& version)
    {
        auto it = models.find(name);
        if (it != models.end()) {
            for (FakeVersion& v : it->second.versions) {
                if (v.version == version) {
                    return &v;
                }
            }
        }
        return nullptr;
    }

    // registered-models/alias POST / GET / DELETE (transcript: champion -> 1, -> 2; nope -> 400;
    // latest and v3 reserved; version 99 -> 404; version as a number -> 400).
    Json alias_set(const httplib::Request&, const Json& body)
    {
        const std::string name = str_field(body, "name");
        const std::string alias = str_field(body, "alias");
        if (body.contains("version") && !body["version"].is_string()) {
            throw invalid("Invalid value " + body["version"].dump()
                          + " for parameter 'version' supplied. Hint: Value was of type 'int'. See the API docs for "
                            "more information about request parameters.");
        }
        std::string lower = alias;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        if (lower == "latest") {
            throw invalid("'latest' alias name (case insensitive) is reserved.");
        }
        if (std::regex_match(alias, std::regex("v[0-9]+"))) {
            throw invalid("Version alias name '" + alias + "' is reserved.");
        }
        const std::string version = str_field(body, "version");
        if (!version_of(name, version)) {
            throw not_found("Model Version (name=" + name + ", version=" + version + ") not found");
        }
        models[name].aliases[alias] = version;
        return Json::object();
    }

    Json alias_get(const httplib::Request& req, const Json&)
    {
        const std::string name = req.get_param_value("name");
        const std::string alias = req.get_param_value("alias");
        auto it = models.find(name);
        if (it == models.end() || !it->second.aliases.count(alias)) {
            throw invalid("Registered model alias " + alias + " not found.");
        }
        Json v = version_json(*version_of(name, it->second.aliases[alias]));
        v["aliases"] = Json::array({alias});
        return {{"model_version", v}};
    }

    Json alias_delete(const httplib::Request&, const Json& body)
    {
        auto it = models.find(str_field(body, "name"));
        if (it != models.end()) {
            it->second.aliases.erase(str_field(body, "alias"));
        }
        return Json::object();
    }

    // model-versions/set-tag (transcript: set-tag validation_status; version 99 -> 404).
    Json model_versions_set_tag(const httplib::Request&, const Json& body)
    {
        const std::string name = str_field(body, "name");
        const std::string version = str_field(body, "version");
        FakeVersion* v = version_of(name, version);
        if (!v) {
            throw not_found("Model Version (name=" + name + ", version=" + version + ") not found");
        }
        v->tags.emplace_back(str_field(body, "key"), str_field(body, "value"));
        return Json::object();
    }

    std::map<std::string, std::map<std::string, Handler>> routes()
    {
        auto bind = [this](Json (Impl::*f)(const httplib::Request&, const Json&)) {
            return Handler([this, f](const httplib::Request& rq, const Json& b) { return (this->*f)(rq, b); });
        };
        return {
            {"experiments/get-by-name", {{"GET", bind(&Impl::experiments_get_by_name)}}},
            {"experiments/create", {{"POST", bind(&Impl::experiments_create)}}},
            {"runs/create", {{"POST", bind(&Impl::runs_create)}}},
            {"runs/update", {{"POST", bind(&Impl::runs_update)}}},
            {"runs/get", {{"GET", bind(&Impl::runs_get)}}},
            {"runs/search", {{"POST", bind(&Impl::runs_search)}}},
            {"runs/log-batch", {{"POST", bind(&Impl::runs_log_batch)}}},
            {"runs/set-tag", {{"POST", bind(&Impl::runs_set_tag)}}},
            {"metrics/get-history", {{"GET", bind(&Impl::metrics_get_history)}}},
            {"artifacts/list", {{"GET", bind(&Impl::artifacts_list)}}},
            {"registered-models/create", {{"POST", bind(&Impl::registered_models_create)}}},
            {"model-versions/create", {{"POST", bind(&Impl::model_versions_create)}}},
            {"model-versions/search", {{"GET", bind(&Impl::model_versions_search)}}},
            {"model-versions/set-tag", {{"POST", bind(&Impl::model_versions_set_tag)}}},
            {"registered-models/alias",
             {{"POST", bind(&Impl::alias_set)},
              {"GET", bind(&Impl::alias_get)},
              {"DELETE", bind(&Impl::alias_delete)}}},
        };
    }

    std::map<std::string, std::map<std::string, Handler>> table;

    static void html(httplib::Response& res, int status, const char* page)
    {
        res.status = status;
        res.set_content(page, "text/html; charset=utf-8");
    }

    static void drop(httplib::Response& res)
    {
        // Headers go out, then the body provider gives up: the client sees a cut answer.
        res.status = 200;
        res.set_content_provider(64, "application/json",
                                 [](std::size_t, std::size_t, httplib::DataSink&) { return false; });
    }

    // The API part of an answer (lock held).
    void api(const httplib::Request& req, httplib::Response& res)
    {
        const std::string artifacts_prefix = "/api/2.0/mlflow-artifacts/artifacts/";
        if (req.path.rfind(artifacts_prefix, 0) == 0) {
            // The proxied artifact API (transcript: PUT hello.txt, blob.bin, empty body, traversal -> 400,
            // POST -> 405).
            const std::string rel = req.path.substr(artifacts_prefix.size());
            if (rel.find("..") != std::string::npos) {
                res.status = 400;
                res.set_content(R"({"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid path"})",
                                "application/json");
                return;
            }
            if (req.method == "PUT") {
                artifacts[rel] = req.body;
                res.set_content("{}", "application/json");
            } else if (req.method == "GET" && artifacts.count(rel)) {
                res.set_content(artifacts[rel], "application/octet-stream");
            } else if (req.method == "GET") {
                res.status = 500;
                res.set_content(R"({"error_code": "INTERNAL_ERROR", "message": "No such file or directory"})",
                                "application/json");
            } else {
                html(res, 405, k_html_405);
            }
            return;
        }
        const std::string prefix = "/api/2.0/mlflow/";
        auto route = req.path.rfind(prefix, 0) == 0 ? table.find(req.path.substr(prefix.size())) : table.end();
        if (route == table.end()) {
            html(res, 404, k_html_404);
            return;
        }
        auto handler = route->second.find(req.method);
        if (handler == route->second.end()) {
            html(res, 405, k_html_405);
            return;
        }
        Json body = Json::object();
        if (req.method == "POST" || req.method == "DELETE") {
            if (req.get_header_value("Content-Type").find("application/json") == std::string::npos) {
                violate(req.path + ": body without Content-Type: application/json");
                res.status = 400;
                res.set_content(R"({"error_code": "BAD_REQUEST", "message": "Content-Type must be application/json"})",
                                "application/json");
                return;
            }
            try {
                body = Json::parse(req.body.empty() ? "{}" : req.body);
            } catch (const std::exception&) {
                html(res, 500, k_html_500); // malformed JSON answers HTML (README)
                return;
            }
        }
        try {
            Json out = handler->second(req, body);
            res.set_content(out.dump(2), "application/json");
        } catch (const ApiError& e) {
            res.status = e.status;
            res.set_content(Json{{"error_code", e.code}, {"message", e.message}}.dump(), "application/json");
        }
    }

    void handle(const httplib::Request& req, httplib::Response& res)
    {
        std::unique_lock<std::mutex> lk(mu);
        requests.push_back(req.method + " " + req.path);
        if (html_mode) {
            html_page(res);
            return;
        }
        if (req.path == "/health") {
            res.set_content("OK", "text/plain");
            return;
        }
        if (req.path == "/version") {
            res.set_content("2.10.2", "text/plain");
            return;
        }
        if (forbidden) {
            res.status = 403;
            res.set_content("Permission denied", "text/plain");
            return;
        }
        const std::string auth = req.get_header_value("Authorization");
        if ((!bearer.empty() && auth != "Bearer " + bearer) || (!basic.empty() && auth != basic)) {
            // As an auth proxy answers; it echoes what it got, so a client must not print it.
            res.status = 401;
            res.set_header("WWW-Authenticate", "Basic realm=\"mlflow\"");
            res.set_content("You are not authenticated. Please see the documentation. (received: " + auth + ")",
                            "text/plain");
            return;
        }
        if (delay_ms > 0) {
            const int d = delay_ms;
            lk.unlock();
            std::this_thread::sleep_for(std::chrono::milliseconds(d));
            lk.lock();
        }
        Fault* fault = nullptr;
        for (Fault& f : faults) {
            if (f.remaining > 0
                && (req.path.find(f.path_part) != std::string::npos
                    || (!f.path_part.empty() && req.body.find(f.path_part) != std::string::npos))) {
                fault = &f;
                break;
            }
        }
        if (fault) {
            --fault->remaining;
            if (fault->type == Fault::Type::fail) {
                res.status = fault->status;
                if (fault->status == 429) {
                    res.set_header("Retry-After", std::to_string(retry_after_s));
                    res.set_content(R"({"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "Too many requests"})",
                                    "application/json");
                } else {
                    res.set_content(R"({"error_code": "INTERNAL_ERROR", "message": "injected failure"})",
                                    "application/json");
                }
                return;
            }
            if (fault->type == Fault::Type::drop) {
                drop(res);
                return;
            }
            api(req, res); // lose: store first, then cut the answer
            drop(res);
            return;
        }
        if (ack_only && req.path == "/api/2.0/mlflow/runs/log-batch") {
            res.set_content("{}", "application/json");
            return;
        }
        api(req, res);
    }

    static void html_page(httplib::Response& res)
    {
        res.status = 200;
        res.set_content("<!doctype html><html><head><title>Welcome</title></head><body>It works!</body></html>",
                        "text/html");
    }
};

FakeMlflow::FakeMlflow() : m_impl(std::make_unique<Impl>())
{
    Impl& m = *m_impl;
    m.table = m.routes();
    m.experiments["Default"] = "0";
    auto h = [&m](const httplib::Request& req, httplib::Response& res) { m.handle(req, res); };
    m.server.Get(".*", h);
    m.server.Post(".*", h);
    // Artifact bodies are read here chunk by chunk (before the plain handlers: cpp-httplib
    // tries content-reader handlers first), so a body cut short is seen and never stored.
    m.server.Put("/api/2\\.0/mlflow-artifacts/artifacts/.*",
                 [&m](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read) {
                     std::size_t expected = 0;
                     if (req.has_header("Content-Length")) {
                         expected = std::stoull(req.get_header_value("Content-Length"));
                     }
                     std::string body;
                     const bool whole = read([&](const char* data, std::size_t n) {
                         body.append(data, n);
                         int delay = 0;
                         {
                             std::lock_guard<std::mutex> lk(m.mu);
                             m.uploading[req.path] = body.size();
                             delay = m.upload_delay_ms;
                         }
                         if (delay > 0) {
                             std::this_thread::sleep_for(std::chrono::milliseconds(delay));
                         }
                         return true;
                     });
                     {
                         std::lock_guard<std::mutex> lk(m.mu);
                         m.uploading.erase(req.path);
                         if (!whole || (expected > 0 && body.size() < expected)) {
                             m.requests.push_back(req.method + " " + req.path);
                             m.partial.push_back({req.path, body.size(), expected});
                             res.status = 400;
                             return;
                         }
                     }
                     httplib::Request full = req;
                     full.body = std::move(body);
                     m.handle(full, res);
                 });
    m.server.Put(".*", h);
    m.server.Delete(".*", h);
    // Answers go out at once (no Nagle wait between headers and body), and a client may
    // keep its connection for many requests, as behind gunicorn.
    m.server.set_tcp_nodelay(true);
    m.server.set_keep_alive_max_count(100000);
    m.port = m.server.bind_to_any_port("127.0.0.1");
    if (m.port <= 0) {
        throw std::runtime_error("FakeMlflow: cannot bind 127.0.0.1");
    }
    m.thread = std::thread([&m] { m.server.listen_after_bind(); });
    while (!m.server.is_running()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

FakeMlflow::~FakeMlflow()
{
    m_impl->server.stop();
    if (m_impl->thread.joinable()) {
        m_impl->thread.join();
    }
}

int FakeMlflow::port() const
{
    return m_impl->port;
}

std::string FakeMlflow::url() const
{
    return "http://127.0.0.1:" + std::to_string(m_impl->port);
}

void FakeMlflow::fail_next(int n, int status, const std::string& path_part)
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    m_impl->faults.push_back({Fault::Type::fail, n, status, path_part});
}

void FakeMlflow::drop_next(int n, const std::string& path_part)
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    m_impl->faults.push_back({Fault::Type::drop, n, 0, path_part});
}

void FakeMlflow::lose_answer_next(int n, const std::string& path_part)
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    m_impl->faults.push_back({Fault::Type::lose, n, 0, path_part});
}

void FakeMlflow::set_retry_after(int seconds)
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    m_impl->retry_after_s = seconds;
}

void FakeMlflow::set_delay_ms(int ms)
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    m_impl->delay_ms = ms;
}

void FakeMlflow::require_bearer(const std::string& token)
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    m_impl->bearer = token;
}

void FakeMlflow::require_basic(const std::string& user, const std::string& password)
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    // base64 of user:password
    static const char* k_b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const std::string in = user + ":" + password;
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8)
                     | static_cast<unsigned char>(in[i + 2]);
        out += k_b64[(v >> 18) & 63];
        out += k_b64[(v >> 12) & 63];
        out += k_b64[(v >> 6) & 63];
        out += k_b64[v & 63];
    }
    if (i + 1 == in.size()) {
        unsigned v = static_cast<unsigned char>(in[i]) << 16;
        out += k_b64[(v >> 18) & 63];
        out += k_b64[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == in.size()) {
        unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
        out += k_b64[(v >> 18) & 63];
        out += k_b64[(v >> 12) & 63];
        out += k_b64[(v >> 6) & 63];
        out += '=';
    }
    m_impl->basic = "Basic " + out;
}

void FakeMlflow::set_html_mode(bool on)
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    m_impl->html_mode = on;
}

void FakeMlflow::set_ack_only(bool on)
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    m_impl->ack_only = on;
}

std::vector<FakeRun> FakeMlflow::runs() const
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    return m_impl->runs;
}

std::optional<FakeRun> FakeMlflow::run(const std::string& run_id) const
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    FakeRun* r = m_impl->find_run(run_id);
    return r ? std::optional<FakeRun>(*r) : std::nullopt;
}

std::vector<FakeRun> FakeMlflow::runs_tagged(const std::string& key, const std::string& value) const
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    std::vector<FakeRun> out;
    for (const FakeRun& r : m_impl->runs) {
        if (r.tag(key) == value) {
            out.push_back(r);
        }
    }
    return out;
}

std::vector<std::string> FakeMlflow::experiment_names() const
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    std::vector<std::string> out;
    for (const auto& [name, id] : m_impl->experiments) {
        out.push_back(name);
    }
    return out;
}

std::vector<FakeVersion> FakeMlflow::versions(const std::string& model) const
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    auto it = m_impl->models.find(model);
    return it == m_impl->models.end() ? std::vector<FakeVersion>() : it->second.versions;
}

std::string FakeMlflow::alias(const std::string& model, const std::string& alias) const
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    auto it = m_impl->models.find(model);
    if (it == m_impl->models.end() || !it->second.aliases.count(alias)) {
        return "";
    }
    return it->second.aliases.at(alias);
}

void FakeMlflow::set_forbidden(bool on)
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    m_impl->forbidden = on;
}

void FakeMlflow::set_upload_delay_ms(int ms)
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    m_impl->upload_delay_ms = ms;
}

std::vector<FakePartialUpload> FakeMlflow::partial_uploads() const
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    return m_impl->partial;
}

std::size_t FakeMlflow::upload_bytes_in_progress(const std::string& path_part) const
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    std::size_t n = 0;
    for (const auto& [path, bytes] : m_impl->uploading) {
        if (path.find(path_part) != std::string::npos) {
            n += bytes;
        }
    }
    return n;
}

std::map<std::string, std::string> FakeMlflow::artifacts(const std::string& run_id) const
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    std::map<std::string, std::string> out;
    for (const auto& [full, bytes] : m_impl->artifacts) {
        const std::string marker = "/" + run_id + "/artifacts/";
        std::size_t p = full.find(marker);
        if (p != std::string::npos) {
            out[full.substr(p + marker.size())] = bytes;
        }
    }
    return out;
}

int FakeMlflow::count(const std::string& path_part) const
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    int n = 0;
    for (const std::string& r : m_impl->requests) {
        n += r.find(path_part) != std::string::npos;
    }
    return n;
}

std::vector<std::string> FakeMlflow::violations() const
{
    std::lock_guard<std::mutex> lk(m_impl->mu);
    return m_impl->violations;
}

} // namespace mlrun::test
