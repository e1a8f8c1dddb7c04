#include "app/uri.hpp"
#include "core/util.hpp"

#include "app/mlflow_plugin.hpp"
#include "core/error.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace mlrun {

namespace {

std::string scheme_of(const std::string& text)
{
    size_t sep = text.find("://");
    return sep == std::string::npos ? "" : ascii_lower(text.substr(0, sep));
}

bool is_unreserved(unsigned char c)
{
    return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// A URI simple enough to split by hand exactly as libcurl does (and checked against it in
// tests/core/redact_test.cpp): a letter-led scheme, an authority of unreserved characters,
// %-escapes and sub-delimiters with at most one '@', a host name (no [v6]), a decimal port,
// and a path, query and fragment of RFC 3986 characters without dot segments. Anything else
// goes to libcurl.
bool split_simple(const std::string& text, ParsedUri& out)
{
    const size_t sep = text.find("://");
    if (sep == 0 || !std::isalpha(static_cast<unsigned char>(text[0]))) {
        return false;
    }
    for (size_t i = 0; i < sep; ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') {
            return false;
        }
    }
    const size_t start = sep + 3;
    const size_t end = text.find_first_of("/?#", start);
    const std::string authority = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    for (const unsigned char c : authority) {
        if (!is_unreserved(c) && (c == 0 || !std::strchr("%!$&'()*+,;=:@", c))) {
            return false;
        }
    }
    std::string hostport = authority;
    if (const size_t at = authority.find('@'); at != std::string::npos) {
        if (authority.find('@', at + 1) != std::string::npos) {
            return false;
        }
        const std::string userinfo = authority.substr(0, at);
        hostport = authority.substr(at + 1);
        const size_t colon = userinfo.find(':');
        out.user = userinfo.substr(0, colon);
        out.password = colon == std::string::npos ? "" : userinfo.substr(colon + 1);
    }
    const size_t colon = hostport.find(':');
    out.host = hostport.substr(0, colon);
    out.port = colon == std::string::npos ? "" : hostport.substr(colon + 1);
    if (out.host.empty() || out.port.size() > 5 || (colon != std::string::npos && out.port.empty())) {
        return false;
    }
    for (const unsigned char c : out.host) {
        if (!std::isalnum(c) && c != '-' && c != '.' && c != '_') {
            return false;
        }
    }
    for (const unsigned char c : out.port) {
        if (!std::isdigit(c)) {
            return false;
        }
    }
    if (!out.port.empty() && (out.port[0] == '0' || std::stol(out.port) > 65535)) {
        return false; // libcurl rewrites or refuses those
    }
    std::string rest = end == std::string::npos ? "" : text.substr(end);
    for (const unsigned char c : rest) {
        if (!is_unreserved(c) && (c == 0 || !std::strchr("%!$&'()*+,;=:@/?#", c))) {
            return false;
        }
    }
    if (rest.find("/.") != std::string::npos || std::count(rest.begin(), rest.end(), '#') > 1) {
        return false; // libcurl removes dot segments
    }
    if (const size_t hash = rest.find('#'); hash != std::string::npos) {
        out.fragment = rest.substr(hash + 1);
        rest.erase(hash);
    }
    if (const size_t q = rest.find('?'); q != std::string::npos) {
        out.query = rest.substr(q + 1);
        rest.erase(q);
    }
    out.path = rest.empty() ? "/" : rest; // as libcurl gives it
    out.scheme = ascii_lower(text.substr(0, sep));
    return true;
}

} // namespace

bool is_secret_query_key(const std::string& key)
{
    static const char* const k_exact[] = {"key", "sig", "signature", "auth", "pwd", "passwd", "code", "credential"};
    static const char* const k_within[] = {"token",  "secret",     "password",  "api_key",
                                           "apikey", "access_key", "signature", "credential"};
    std::string k = ascii_lower(key);
    for (const char* e : k_exact) {
        if (k == e) {
            return true;
        }
    }
    for (const char* w : k_within) {
        if (k.find(w) != std::string::npos) {
            return true;
        }
    }
    return false;
}

ParsedUri parse_uri(const std::string& text)
{
    ParsedUri out;
    if (text.find("://") == std::string::npos) {
        out.path = text;
        return out;
    }
    if (scheme_of(text) == "file") {
        // file://PATH keeps PATH as written, relative or not (curl would read a host in it).
        out.scheme = "file";
        out.path = text.substr(7);
        return out;
    }
    std::string error;
    if (!mlflow_entry().split_uri(text, out, error)) {
        throw UsageError("malformed URI \"" + redact_uri(text) + "\": " + error);
    }
    out.scheme = ascii_lower(out.scheme);
    return out;
}

std::string redact_uri(const ParsedUri& uri)
{
    if (uri.scheme.empty()) {
        return uri.path;
    }
    std::string out = uri.scheme + "://";
    if (!uri.user.empty() || !uri.password.empty()) {
        // A user alone is a token often enough (https://TOKEN@host): hide it too.
        out += uri.password.empty() ? "***" : uri.user + ":***";
        out += "@";
    }
    out += uri.host;
    if (!uri.port.empty()) {
        out += ":" + uri.port;
    }
    out += uri.path;
    if (!uri.query.empty()) {
        std::string query;
        size_t pos = 0;
        while (pos <= uri.query.size()) {
            size_t amp = uri.query.find('&', pos);
            std::string pair = uri.query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
            size_t eq = pair.find('=');
            if (eq != std::string::npos && is_secret_query_key(pair.substr(0, eq))) {
                pair = pair.substr(0, eq) + "=***";
            }
            query += (query.empty() ? "" : "&") + pair;
            if (amp == std::string::npos) {
                break;
            }
            pos = amp + 1;
        }
        out += "?" + query;
    }
    if (!uri.fragment.empty()) {
        out += "#" + uri.fragment;
    }
    return out;
}

std::string redact_uri(const std::string& text)
{
    if (text.find("://") == std::string::npos) {
        return text;
    }
    if (scheme_of(text) == "file") {
        return text;
    }
    ParsedUri uri;
    if (split_simple(text, uri)) {
        return redact_uri(uri); // no libcurl for the common case
    }
    std::string error;
    try {
        if (!mlflow_entry().split_uri(text, uri, error)) {
            return scheme_of(text) + "://***"; // unparseable: show nothing that might be a secret
        }
    } catch (const UsageError&) {
        return scheme_of(text) + "://***"; // no URL parser in this build: show nothing either
    }
    uri.scheme = ascii_lower(uri.scheme);
    return redact_uri(uri);
}

} // namespace mlrun
