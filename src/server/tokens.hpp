#pragma once
// Bearer tokens of the submission server: `mlrun server token create|list|revoke`. A token is
// shown once when created; only its sha256 is kept, in the store's records ("server_tokens",
// id = the hash) or, with --tokens FILE, in that JSON file (written atomically under a lock).
#include "core/params.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrun {
class TaskStore;
}

namespace mlrun::server {

// Per-token limits; over one the server answers 429 with Retry-After.
struct Quota {
    int requests_per_minute = 600;
    int submissions_per_day = 100;
    int concurrent_jobs = 4;
};

struct TokenInfo {
    std::string name;
    std::string role = "submitter"; // submitter | admin
    std::string hash;               // sha256 hex of the secret
    std::int64_t created_ms = 0;
    std::int64_t revoked_ms = 0; // 0: valid
    Quota quota;

    bool is_admin() const { return role == "admin"; }
    Json to_json() const; // every field but the hash
};

class TokenBook {
public:
    // Tokens in `store`'s records, or in `file` when it is not empty.
    TokenBook(TaskStore& store, std::filesystem::path file);

    // Creates a token and returns its secret ("mlr_" + 48 hex digits). UsageError for a bad
    // name or role, or a name a valid token already has.
    std::string create(const std::string& name, const std::string& role, const Quota& quota);
    // Every token, revoked ones included, by name.
    std::vector<TokenInfo> list();
    // Marks the valid token of that name revoked; UsageError when there is none.
    void revoke(const std::string& name);
    // The valid token with that secret, or nullopt (unknown or revoked).
    std::optional<TokenInfo> authenticate(std::string_view secret);

private:
    std::vector<TokenInfo> load_file();
    void save_file(const std::vector<TokenInfo>& tokens);

    TaskStore& m_store;
    std::filesystem::path m_file;
};

} // namespace mlrun::server
