#include "tracking/mlflow_client.hpp"

#include "core/util.hpp"

#include <simdjson.h>

#include <charconv>
#include <cmath>

namespace mlrun::mlflow {

namespace {

constexpr const char* k_api = "/api/2.0/mlflow/";

bool plain_key_char(unsigned char c)
{
    return std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '/';
}

bool is_hex_upper(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

// Any '/'-separated part that is empty, "." or "..": the server would read it as a path.
bool path_like(std::string_view key)
{
    std::size_t start = 0;
    while (true) {
        std::size_t end = key.find('/', start);
        std::string_view part = key.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (part.empty() || part == "." || part == "..") {
            return true;
        }
        if (end == std::string_view::npos) {
            return false;
        }
        start = end + 1;
    }
}

void append_escape(std::string& out, unsigned char c)
{
    static const char* k_hex = "0123456789ABCDEF";
    out += ' ';
    out += k_hex[c >> 4];
    out += k_hex[c & 15];
}

void append_double(std::string& out, double v)
{
    if (std::isnan(v)) {
        out += "\"NaN\"";
    } else if (std::isinf(v)) {
        out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    } else {
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, v);
        out.append(buf, r.ptr);
    }
}

void append_int(std::string& out, std::int64_t v)
{
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void append_key_values(std::string& out, const char* field, const std::vector<KeyValue>& items, std::size_t from,
                       std::size_t to)
{
    if (from >= to) {
        return;
    }
    out += ",\"";
    out += field;
    out += "\":[";
    for (std::size_t i = from; i < to; ++i) {
        out += i == from ? "{\"key\":" : ",{\"key\":";
        out += json_quote(items[i].key);
        out += ",\"value\":";
        out += json_quote(items[i].value);
        out += '}';
    }
    out += ']';
}

HttpError bad_answer(const std::string& what, std::string_view body)
{
    HttpError e;
    e.kind = HttpError::Kind::not_mlflow;
    e.status = 200;
    e.message = "MLflow " + what + ": unexpected answer: " + std::string(body.substr(0, 200));
    return e;
}

using simdjson::dom::array;
using simdjson::dom::element;

std::string get_str(element e, const char* key)
{
    std::string_view v;
    if (e[key].get_string().get(v)) {
        return "";
    }
    return std::string(v);
}

std::int64_t get_int(element e, const char* key)
{
    element v;
    if (e[key].get(v)) {
        return 0;
    }
    std::int64_t i = 0;
    if (!v.get_int64().get(i)) {
        return i;
    }
    double d = 0;
    if (!v.get_double().get(d)) {
        return static_cast<std::int64_t>(d);
    }
    return 0;
}

double get_number(element e, const char* key)
{
    element v;
    if (e[key].get(v)) {
        return 0;
    }
    double d = 0;
    if (!v.get_double().get(d)) {
        return d;
    }
    std::string_view s;
    if (!v.get_string().get(s)) { // "NaN", "Infinity", "-Infinity"
        return std::strtod(std::string(s).c_str(), nullptr);
    }
    return 0;
}

std::vector<KeyValue> get_key_values(element e, const char* key)
{
    std::vector<KeyValue> out;
    array arr;
    if (e[key].get_array().get(arr)) {
        return out;
    }
    for (element item : arr) {
        out.push_back({get_str(item, "key"), get_str(item, "value")});
    }
    return out;
}

MetricPoint parse_metric(element m)
{
    return MetricPoint{get_str(m, "key"), get_number(m, "value"), get_int(m, "timestamp"), get_int(m, "step")};
}

RunInfo parse_run_info(element info)
{
    RunInfo r;
    r.run_id = get_str(info, "run_id");
    if (r.run_id.empty()) {
        r.run_id = get_str(info, "run_uuid");
    }
    r.experiment_id = get_str(info, "experiment_id");
    r.run_name = get_str(info, "run_name");
    r.status = get_str(info, "status");
    r.artifact_uri = get_str(info, "artifact_uri");
    r.lifecycle_stage = get_str(info, "lifecycle_stage");
    r.start_time = get_int(info, "start_time");
    r.end_time = get_int(info, "end_time");
    return r;
}

RunInfo parse_run(element run)
{
    element info, data;
    RunInfo r;
    if (!run["info"].get(info)) {
        r = parse_run_info(info);
    }
    if (!run["data"].get(data)) {
        r.tags = get_key_values(data, "tags");
        r.params = get_key_values(data, "params");
        array metrics;
        if (!data["metrics"].get_array().get(metrics)) {
            for (element m : metrics) {
                r.metrics.push_back(parse_metric(m));
            }
        }
    }
    return r;
}

ModelVersion parse_version(element v)
{
    return ModelVersion{get_str(v, "name"), get_str(v, "version"), get_str(v, "source"), get_str(v, "run_id"),
                        get_key_values(v, "tags")};
}

// A filter value in quotes; MLflow takes single or double quotes.
std::string filter_quote(const std::string& value)
{
    return value.find('\'') == std::string::npos ? "'" + value + "'" : "\"" + value + "\"";
}

} // namespace

std::string sanitize_key(std::string_view key)
{
    bool plain = !key.empty();
    for (unsigned char c : key) {
        plain = plain && plain_key_char(c);
    }
    const bool escape_path = path_like(key);
    std::string out;
    if (plain && !escape_path) {
        out = std::string(key);
    } else {
        out.reserve(key.size() + 8);
        for (unsigned char c : key) {
            if (!plain_key_char(c) || (escape_path && (c == '.' || c == '/'))) {
                append_escape(out, c);
            } else {
                out += static_cast<char>(c);
            }
        }
        if (out.empty()) {
            out = " -empty"; // "" is no key; " -" never comes out of escaping
        }
    }
    if (out.size() > k_max_key_length) {
        out.resize(231);
        out += " -";
        out += sha256_hex(key).substr(0, 16);
        // 231 + 2 + 16 = 249 characters
    }
    return out;
}

std::string unsanitize_key(std::string_view key)
{
    std::string out;
    for (std::size_t i = 0; i < key.size(); ++i) {
        if (key[i] == ' ' && i + 2 < key.size() && is_hex_upper(key[i + 1]) && is_hex_upper(key[i + 2])) {
            out += static_cast<char>(std::stoi(std::string(key.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += key[i];
        }
    }
    return out;
}

std::string truncate_value(std::string_view value, std::size_t limit)
{
    if (value.size() <= limit) {
        return std::string(value);
    }
    const std::string marker = " …[truncated from " + std::to_string(value.size()) + " bytes]";
    std::size_t keep = limit > marker.size() ? limit - marker.size() : 0;
    // Never cut a UTF-8 character: back up over continuation bytes.
    while (keep > 0 && (static_cast<unsigned char>(value[keep]) & 0xC0) == 0x80) {
        --keep;
    }
    return std::string(value.substr(0, keep)) + marker;
}

std::string json_quote(std::string_view text)
{
    static const char* k_hex = "0123456789abcdef";
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    for (unsigned char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                out += "\\u00";
                out += k_hex[c >> 4];
                out += k_hex[c & 15];
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    out += '"';
    return out;
}

const std::string* RunInfo::tag(std::string_view key) const
{
    for (const KeyValue& kv : tags) {
        if (kv.key == key) {
            return &kv.value;
        }
    }
    return nullptr;
}

MlflowClient::MlflowClient(HttpConfig config) : m_http(std::move(config))
{}

HttpOutcome MlflowClient::check_server()
{
    auto r = m_http.get(std::string(k_api) + "experiments/get-by-name?experiment_name=" + url_encode("mlrun-check"));
    if (r.ok() || r.error().error_code == "RESOURCE_DOES_NOT_EXIST") {
        return std::nullopt;
    }
    return r.error();
}

Result<std::optional<std::string>> MlflowClient::experiment_by_name(const std::string& name)
{
    auto r = m_http.get(std::string(k_api) + "experiments/get-by-name?experiment_name=" + url_encode(name));
    if (!r.ok()) {
        if (r.error().error_code == "RESOURCE_DOES_NOT_EXIST") {
            return std::optional<std::string>();
        }
        return r.error();
    }
    simdjson::dom::parser parser;
    element doc, exp;
    if (parser.parse(r.value().body).get(doc) || doc["experiment"].get(exp)) {
        return bad_answer("experiments/get-by-name", r.value().body);
    }
    std::string id = get_str(exp, "experiment_id");
    if (id.empty()) {
        return bad_answer("experiments/get-by-name", r.value().body);
    }
    return std::optional<std::string>(id);
}

Result<std::string> MlflowClient::ensure_experiment(const std::string& name)
{
    auto found = experiment_by_name(name);
    if (!found.ok()) {
        return found.error();
    }
    if (found.value()) {
        return *found.value();
    }
    // Creating twice fails with RESOURCE_ALREADY_EXISTS, so a retry is harmless here.
    auto r = m_http.post_json(std::string(k_api) + "experiments/create", "{\"name\":" + json_quote(name) + "}");
    if (!r.ok()) {
        if (r.error().error_code == "RESOURCE_ALREADY_EXISTS") {
            auto again = experiment_by_name(name);
            if (again.ok() && again.value()) {
                return *again.value();
            }
            return again.ok() ? Result<std::string>(r.error()) : Result<std::string>(again.error());
        }
        return r.error();
    }
    simdjson::dom::parser parser;
    element doc;
    std::string id;
    if (parser.parse(r.value().body).get(doc) || (id = get_str(doc, "experiment_id")).empty()) {
        return bad_answer("experiments/create", r.value().body);
    }
    return id;
}

Result<RunInfo> MlflowClient::create_run(const std::string& experiment_id, const std::string& run_name,
                                         std::int64_t start_time_ms, const std::vector<KeyValue>& tags)
{
    std::string body = "{\"experiment_id\":" + json_quote(experiment_id) + ",\"run_name\":" + json_quote(run_name)
                       + ",\"start_time\":";
    append_int(body, start_time_ms);
    const std::string* user = nullptr;
    for (const KeyValue& kv : tags) {
        if (kv.key == "mlflow.user") {
            user = &kv.value;
        }
    }
    if (user) {
        body += ",\"user_id\":" + json_quote(*user);
    }
    body += ",\"tags\":[";
    for (std::size_t i = 0; i < tags.size(); ++i) {
        body += (i ? ",{\"key\":" : "{\"key\":") + json_quote(tags[i].key) + ",\"value\":" + json_quote(tags[i].value)
                + "}";
    }
    body += "]}";
    auto r = m_http.post_json(std::string(k_api) + "runs/create", body, Retry::unsafe);
    if (!r.ok()) {
        return r.error();
    }
    simdjson::dom::parser parser;
    element doc, run;
    if (parser.parse(r.value().body).get(doc) || doc["run"].get(run)) {
        return bad_answer("runs/create", r.value().body);
    }
    RunInfo info = parse_run(run);
    if (info.run_id.empty()) {
        return bad_answer("runs/create", r.value().body);
    }
    return info;
}

HttpOutcome MlflowClient::update_run(const std::string& run_id, const std::string& status, std::int64_t end_time_ms)
{
    std::string body = "{\"run_id\":" + json_quote(run_id) + ",\"status\":" + json_quote(status);
    if (end_time_ms > 0) {
        body += ",\"end_time\":";
        append_int(body, end_time_ms);
    }
    body += "}";
    auto r = m_http.post_json(std::string(k_api) + "runs/update", body);
    return r.ok() ? HttpOutcome() : HttpOutcome(r.error());
}

Result<RunInfo> MlflowClient::get_run(const std::string& run_id)
{
    auto r = m_http.get(std::string(k_api) + "runs/get?run_id=" + url_encode(run_id));
    if (!r.ok()) {
        return r.error();
    }
    simdjson::dom::parser parser;
    element doc, run;
    if (parser.parse(r.value().body).get(doc) || doc["run"].get(run)) {
        return bad_answer("runs/get", r.value().body);
    }
    return parse_run(run);
}

Result<std::vector<RunInfo>> MlflowClient::search_runs(const std::string& experiment_id, const std::string& filter)
{
    std::vector<RunInfo> out;
    std::string token;
    simdjson::dom::parser parser;
    do {
        std::string body = "{\"experiment_ids\":[" + json_quote(experiment_id) + "],\"filter\":" + json_quote(filter)
                           + ",\"max_results\":1000,\"run_view_type\":\"ACTIVE_ONLY\"";
        if (!token.empty()) {
            body += ",\"page_token\":" + json_quote(token);
        }
        body += "}";
        auto r = m_http.post_json(std::string(k_api) + "runs/search", body);
        if (!r.ok()) {
            return r.error();
        }
        element doc;
        if (parser.parse(r.value().body).get(doc)) {
            return bad_answer("runs/search", r.value().body);
        }
        array runs;
        if (!doc["runs"].get_array().get(runs)) { // no match answers {} (no "runs" key)
            for (element run : runs) {
                out.push_back(parse_run(run));
            }
        }
        token = get_str(doc, "next_page_token");
    } while (!token.empty());
    return out;
}

Result<std::optional<RunInfo>> MlflowClient::find_run_by_tag(const std::string& experiment_id, const std::string& key,
                                                             const std::string& value)
{
    auto runs = search_runs(experiment_id, "tags.`" + key + "` = " + filter_quote(value));
    if (!runs.ok()) {
        return runs.error();
    }
    std::optional<RunInfo> best;
    for (RunInfo& r : runs.value()) {
        const std::string* v = r.tag(key);
        if (v && *v == value && (!best || r.start_time < best->start_time)) {
            best = std::move(r);
        }
    }
    return best;
}

Result<std::vector<MetricPoint>> MlflowClient::metric_history(const std::string& run_id, const std::string& key)
{
    auto r = m_http.get(std::string(k_api) + "metrics/get-history?run_id=" + url_encode(run_id)
                        + "&metric_key=" + url_encode(key));
    if (!r.ok()) {
        return r.error();
    }
    simdjson::dom::parser parser;
    element doc;
    if (parser.parse(r.value().body).get(doc)) {
        return bad_answer("metrics/get-history", r.value().body);
    }
    std::vector<MetricPoint> out;
    array metrics;
    if (!doc["metrics"].get_array().get(metrics)) {
        for (element m : metrics) {
            out.push_back(parse_metric(m));
        }
    }
    return out;
}

std::size_t MlflowClient::metrics_in_requests(std::size_t metrics, std::size_t params, std::size_t tags,
                                              std::size_t requests)
{
    std::size_t sent = 0;
    for (std::size_t i = 0; i < requests && (params > 0 || tags > 0 || sent < metrics); ++i) {
        std::size_t p = std::min(params, k_max_batch_params);
        std::size_t t = std::min(tags, k_max_batch_tags);
        params -= p;
        tags -= t;
        std::size_t m = std::min({metrics - sent, k_max_batch_metrics, k_max_batch_entities - p - t});
        sent += m;
    }
    return sent;
}

HttpOutcome MlflowClient::log_batch(const std::string& run_id, const std::vector<MetricPoint>& metrics,
                                    const std::vector<KeyValue>& params, const std::vector<KeyValue>& tags,
                                    std::size_t* requests_done)
{
    std::size_t m = 0, p = 0, t = 0, done = 0;
    if (requests_done) {
        *requests_done = 0;
    }
    std::string body;
    const std::string path = std::string(k_api) + "runs/log-batch";
    const std::string head = "{\"run_id\":" + json_quote(run_id);
    while (m < metrics.size() || p < params.size() || t < tags.size()) {
        const std::size_t p_end = std::min(params.size(), p + k_max_batch_params);
        const std::size_t t_end = std::min(tags.size(), t + k_max_batch_tags);
        const std::size_t room = k_max_batch_entities - (p_end - p) - (t_end - t);
        const std::size_t m_end = std::min({metrics.size(), m + k_max_batch_metrics, m + room});
        body.clear();
        body.reserve(64 + (m_end - m) * 72);
        body += head;
        if (m < m_end) {
            body += ",\"metrics\":[";
            for (std::size_t i = m; i < m_end; ++i) {
                const MetricPoint& mp = metrics[i];
                body += i == m ? "{\"key\":" : ",{\"key\":";
                body += json_quote(mp.key);
                body += ",\"value\":";
                append_double(body, mp.value);
                body += ",\"timestamp\":";
                append_int(body, mp.timestamp_ms);
                body += ",\"step\":";
                append_int(body, mp.step);
                body += '}';
            }
            body += ']';
        }
        append_key_values(body, "params", params, p, p_end);
        append_key_values(body, "tags", tags, t, t_end);
        body += '}';
        auto r = m_http.post_json(path, body);
        if (!r.ok()) {
            return r.error();
        }
        m = m_end;
        p = p_end;
        t = t_end;
        ++done;
        if (requests_done) {
            *requests_done = done;
        }
    }
    return std::nullopt;
}

HttpOutcome MlflowClient::set_tag(const std::string& run_id, const std::string& key, const std::string& value)
{
    auto r = m_http.post_json(std::string(k_api) + "runs/set-tag", "{\"run_id\":" + json_quote(run_id)
                                                                       + ",\"key\":" + json_quote(key)
                                                                       + ",\"value\":" + json_quote(value) + "}");
    return r.ok() ? HttpOutcome() : HttpOutcome(r.error());
}

HttpOutcome MlflowClient::put_artifact(const std::string& experiment_id, const std::string& run_id,
                                       const std::string& rel_path, const std::filesystem::path& file)
{
    auto r = m_http.put_file("/api/2.0/mlflow-artifacts/artifacts/" + url_encode(experiment_id) + "/"
                                 + url_encode(run_id) + "/artifacts/" + url_encode(rel_path, true),
                             file);
    return r.ok() ? HttpOutcome() : HttpOutcome(r.error());
}

Result<std::vector<ArtifactEntry>> MlflowClient::list_artifacts(const std::string& run_id, const std::string& rel_path)
{
    std::string q = std::string(k_api) + "artifacts/list?run_id=" + url_encode(run_id);
    if (!rel_path.empty()) {
        q += "&path=" + url_encode(rel_path);
    }
    auto r = m_http.get(q);
    if (!r.ok()) {
        return r.error();
    }
    simdjson::dom::parser parser;
    element doc;
    if (parser.parse(r.value().body).get(doc)) {
        return bad_answer("artifacts/list", r.value().body);
    }
    std::vector<ArtifactEntry> out;
    array files;
    if (!doc["files"].get_array().get(files)) { // a missing folder answers no "files"
        for (element f : files) {
            bool is_dir = false;
            if (f["is_dir"].get_bool().get(is_dir)) {
                is_dir = false;
            }
            out.push_back({get_str(f, "path"), is_dir, get_int(f, "file_size")});
        }
    }
    return out;
}

HttpOutcome MlflowClient::ensure_registered_model(const std::string& name)
{
    auto r = m_http.post_json(std::string(k_api) + "registered-models/create", "{\"name\":" + json_quote(name) + "}");
    if (r.ok() || r.error().error_code == "RESOURCE_ALREADY_EXISTS") {
        return std::nullopt;
    }
    return r.error();
}

Result<ModelVersion> MlflowClient::create_model_version(const std::string& name, const std::string& source,
                                                        const std::string& run_id, const std::vector<KeyValue>& tags)
{
    std::string body = "{\"name\":" + json_quote(name) + ",\"source\":" + json_quote(source)
                       + ",\"run_id\":" + json_quote(run_id);
    append_key_values(body, "tags", tags, 0, tags.size());
    body += "}";
    auto r = m_http.post_json(std::string(k_api) + "model-versions/create", body, Retry::unsafe);
    if (!r.ok()) {
        return r.error();
    }
    simdjson::dom::parser parser;
    element doc, v;
    if (parser.parse(r.value().body).get(doc) || doc["model_version"].get(v)) {
        return bad_answer("model-versions/create", r.value().body);
    }
    return parse_version(v);
}

Result<std::vector<ModelVersion>> MlflowClient::versions_of_run(const std::string& name, const std::string& run_id)
{
    std::vector<ModelVersion> out;
    std::string token;
    simdjson::dom::parser parser;
    do {
        // GET only: the POST form answers 405 (shared/mlflow-contract README, Idempotency).
        std::string q = std::string(k_api) + "model-versions/search?filter="
                        + url_encode("run_id=" + filter_quote(run_id)) + "&max_results=1000";
        if (!token.empty()) {
            q += "&page_token=" + url_encode(token);
        }
        auto r = m_http.get(q);
        if (!r.ok()) {
            return r.error();
        }
        element doc;
        if (parser.parse(r.value().body).get(doc)) {
            return bad_answer("model-versions/search", r.value().body);
        }
        array versions;
        if (!doc["model_versions"].get_array().get(versions)) {
            for (element v : versions) {
                ModelVersion mv = parse_version(v);
                if (mv.name == name && mv.run_id == run_id) {
                    out.push_back(std::move(mv));
                }
            }
        }
        token = get_str(doc, "next_page_token");
    } while (!token.empty());
    return out;
}

HttpOutcome MlflowClient::set_alias(const std::string& name, const std::string& alias, const std::string& version)
{
    auto r = m_http.post_json(std::string(k_api) + "registered-models/alias",
                              "{\"name\":" + json_quote(name) + ",\"alias\":" + json_quote(alias)
                                  + ",\"version\":" + json_quote(version) + "}");
    return r.ok() ? HttpOutcome() : HttpOutcome(r.error());
}

Result<std::optional<ModelVersion>> MlflowClient::get_alias(const std::string& name, const std::string& alias)
{
    auto r = m_http.get(std::string(k_api) + "registered-models/alias?name=" + url_encode(name)
                        + "&alias=" + url_encode(alias));
    if (!r.ok()) {
        // An unknown alias is a 400 INVALID_PARAMETER_VALUE "... alias X not found." (not 404).
        if (r.error().status == 400 && r.error().message.find("not found") != std::string::npos) {
            return std::optional<ModelVersion>();
        }
        return r.error();
    }
    simdjson::dom::parser parser;
    element doc, v;
    if (parser.parse(r.value().body).get(doc) || doc["model_version"].get(v)) {
        return bad_answer("registered-models/alias", r.value().body);
    }
    return std::optional<ModelVersion>(parse_version(v));
}

HttpOutcome MlflowClient::set_model_version_tag(const std::string& name, const std::string& version,
                                                const std::string& key, const std::string& value)
{
    auto r = m_http.post_json(std::string(k_api) + "model-versions/set-tag",
                              "{\"name\":" + json_quote(name) + ",\"version\":" + json_quote(version)
                                  + ",\"key\":" + json_quote(key) + ",\"value\":" + json_quote(value) + "}");
    return r.ok() ? HttpOutcome() : HttpOutcome(r.error());
}

} // namespace mlrun::mlflow
