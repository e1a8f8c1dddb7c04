#pragma once
// URIs of the backends (store, tracking, queue), parsed once (libcurl's URL API, in
// uri.cpp only) and redacted on the parsed form.
#include <string>

namespace mlrun {

struct ParsedUri {
    std::string scheme; // lower case; "" for a plain path
    std::string user;
    std::string password;
    std::string host;
    std::string port;     // "" when not given
    std::string path;     // a plain path: the whole text
    std::string query;    // without '?'
    std::string fragment; // without '#'
};

// A plain path (no "scheme://") parses as a path. Throws UsageError for a malformed URI
// (the message carries the redacted text only).
ParsedUri parse_uri(const std::string& text);

// The URI with its secrets replaced by *** (the password, a user name given without one,
// and token-like query parameters: token, access_token, api_key, key, password, secret,
// sig, ...). A URI that does not parse shows as "scheme://***".
std::string redact_uri(const std::string& text);
std::string redact_uri(const ParsedUri& uri);

// Query parameter names that carry secrets (case-insensitive).
bool is_secret_query_key(const std::string& key);

} // namespace mlrun
