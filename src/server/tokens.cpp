#include "server/tokens.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "platform/file_lock.hpp"
#include "ports/task_store.hpp"

#include <algorithm>
#include <fstream>
#include <random>

namespace mlrun::server {

namespace {

constexpr const char* k_kind = "server_tokens";

TokenInfo from_json(const Json& j)
{
    TokenInfo t;
    t.name = j.value("name", "");
    t.role = j.value("role", "submitter");
    t.hash = j.value("hash", "");
    t.created_ms = j.value("created_ms", std::int64_t{0});
    t.revoked_ms = j.value("revoked_ms", std::int64_t{0});
    const Json q = j.value("quota", Json::object());
    t.quota.requests_per_minute = q.value("requests_per_minute", t.quota.requests_per_minute);
    t.quota.submissions_per_day = q.value("submissions_per_day", t.quota.submissions_per_day);
    t.quota.concurrent_jobs = q.value("concurrent_jobs", t.quota.concurrent_jobs);
    return t;
}

Json stored(const TokenInfo& t)
{
    Json j = t.to_json();
    j["hash"] = t.hash;
    return j;
}

std::string random_hex(std::size_t bytes)
{
    std::random_device rd; // /dev/urandom on Linux
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < bytes; ++i) {
        const unsigned v = rd() & 0xffu;
        out += digits[v >> 4];
        out += digits[v & 15];
    }
    return out;
}

bool is_hash(std::string_view s)
{
    return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

} // namespace

Json TokenInfo::to_json() const
{
    return Json{{"name", name},
                {"role", role},
                {"created_ms", created_ms},
                {"revoked_ms", revoked_ms},
                {"quota",
                 {{"requests_per_minute", quota.requests_per_minute},
                  {"submissions_per_day", quota.submissions_per_day},
                  {"concurrent_jobs", quota.concurrent_jobs}}}};
}

TokenBook::TokenBook(TaskStore& store, std::filesystem::path file) : m_store(store), m_file(std::move(file))
{}

std::vector<TokenInfo> TokenBook::load_file()
{
    std::vector<TokenInfo> out;
    if (!fs::exists(m_file)) {
        return out;
    }
    const Json doc = Json::parse(read_file(m_file), nullptr, false);
    if (!doc.is_object() || !doc.value("tokens", Json()).is_array()) {
        throw UsageError(m_file.string() + ": not a tokens file (expected {\"tokens\": [...]})");
    }
    for (const Json& j : doc["tokens"]) {
        out.push_back(from_json(j));
    }
    return out;
}

void TokenBook::save_file(const std::vector<TokenInfo>& tokens)
{
    Json doc{{"tokens", Json::array()}};
    for (const TokenInfo& t : tokens) {
        doc["tokens"].push_back(stored(t));
    }
    write_file_atomic(m_file, doc.dump(2) + "\n");
    fs::permissions(m_file, fs::perms::owner_read | fs::perms::owner_write);
}

std::string TokenBook::create(const std::string& name, const std::string& role, const Quota& quota)
{
    check_name(name, "token name");
    if (name.size() > 64) {
        throw UsageError("invalid token name \"" + name + "\": longer than 64 characters");
    }
    if (role != "submitter" && role != "admin") {
        throw UsageError("invalid role \"" + role + "\": expected submitter or admin");
    }
    for (const TokenInfo& t : list()) {
        if (t.name == name && t.revoked_ms == 0) {
            throw UsageError("a valid token named \"" + name + "\" exists (revoke it first)");
        }
    }
    const std::string secret = "mlr_" + random_hex(24);
    TokenInfo t;
    t.name = name;
    t.role = role;
    t.hash = sha256_hex(secret);
    t.created_ms = now_ms();
    t.quota = quota;
    if (m_file.empty()) {
        m_store.ensure_created();
        m_store.put_record(k_kind, t.hash, stored(t));
    } else {
        FileLock lock(m_file.string() + ".lock");
        std::vector<TokenInfo> all = load_file();
        all.push_back(t);
        save_file(all);
    }
    return secret;
}

std::vector<TokenInfo> TokenBook::list()
{
    std::vector<TokenInfo> out;
    if (m_file.empty()) {
        for (const std::string& id : m_store.list_records(k_kind)) {
            if (std::optional<Json> j = m_store.get_record(k_kind, id)) {
                out.push_back(from_json(*j));
            }
        }
    } else {
        out = load_file();
    }
    std::stable_sort(out.begin(), out.end(), [](const TokenInfo& a, const TokenInfo& b) {
        return a.name != b.name ? a.name < b.name : a.created_ms < b.created_ms;
    });
    return out;
}

void TokenBook::revoke(const std::string& name)
{
    bool found = false;
    if (m_file.empty()) {
        for (const TokenInfo& t : list()) {
            if (t.name == name && t.revoked_ms == 0) {
                m_store.update_record(k_kind, t.hash, [](Json& j) { j["revoked_ms"] = now_ms(); });
                found = true;
            }
        }
    } else {
        FileLock lock(m_file.string() + ".lock");
        std::vector<TokenInfo> all = load_file();
        for (TokenInfo& t : all) {
            if (t.name == name && t.revoked_ms == 0) {
                t.revoked_ms = now_ms();
                found = true;
            }
        }
        save_file(all);
    }
    if (!found) {
        throw UsageError("no valid token named \"" + name + "\"");
    }
}

std::optional<TokenInfo> TokenBook::authenticate(std::string_view secret)
{
    if (secret.size() < 8 || secret.size() > 200) {
        return std::nullopt;
    }
    const std::string hash = sha256_hex(secret);
    std::optional<TokenInfo> t;
    if (m_file.empty()) {
        if (std::optional<Json> j = m_store.get_record(k_kind, hash)) {
            t = from_json(*j);
        }
    } else {
        for (const TokenInfo& x : load_file()) {
            if (x.hash == hash) {
                t = x;
            }
        }
    }
    if (!t || t->revoked_ms != 0 || !is_hash(t->hash)) {
        return std::nullopt;
    }
    return t;
}

} // namespace mlrun::server
