#include "app/uri.hpp"

#include "core/error.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>

namespace mlrun {

namespace {

struct UrlDeleter {
    void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

// One part of a parsed URL; "" when absent.
std::string part(CURLU* url, CURLUPart which)
{
    char* text = nullptr;
    if (curl_url_get(url, which, &text, 0) != CURLUE_OK || !text) {
        return "";
    }
    std::string out(text);
    curl_free(text);
    return out;
}

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string scheme_of(const std::string& text)
{
    size_t sep = text.find("://");
    return sep == std::string::npos ? "" : lower(text.substr(0, sep));
}

} // namespace

bool is_secret_query_key(const std::string& key)
{
    static const char* const k_exact[] = {"key", "sig", "signature", "auth", "pwd", "passwd", "code", "credential"};
    static const char* const k_within[] = {"token",  "secret",     "password",  "api_key",
                                           "apikey", "access_key", "signature", "credential"};
    std::string k = lower(key);
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
    std::unique_ptr<CURLU, UrlDeleter> url(curl_url());
    if (!url) {
        throw std::runtime_error("out of memory parsing a URI");
    }
    // Any scheme (redis, rediss, file, ...); file:// keeps a local path.
    CURLUcode rc = curl_url_set(url.get(), CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME);
    if (rc != CURLUE_OK) {
        throw UsageError("malformed URI \"" + redact_uri(text) + "\": " + curl_url_strerror(rc));
    }
    out.scheme = lower(part(url.get(), CURLUPART_SCHEME));
    out.user = part(url.get(), CURLUPART_USER);
    out.password = part(url.get(), CURLUPART_PASSWORD);
    out.host = part(url.get(), CURLUPART_HOST);
    out.port = part(url.get(), CURLUPART_PORT);
    out.path = part(url.get(), CURLUPART_PATH);
    out.query = part(url.get(), CURLUPART_QUERY);
    out.fragment = part(url.get(), CURLUPART_FRAGMENT);
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
    std::unique_ptr<CURLU, UrlDeleter> url(curl_url());
    if (!url || curl_url_set(url.get(), CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        return scheme_of(text) + "://***"; // unparseable: show nothing that might be a secret
    }
    return redact_uri(parse_uri(text));
}

} // namespace mlrun
