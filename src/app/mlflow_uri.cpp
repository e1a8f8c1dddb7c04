// libcurl's URL API behind app/uri.hpp, in libmlrun_mlflow.so: libcurl (and its tree of TLS,
// Kerberos and LDAP libraries) is loaded only when a scheme:// URI has to be parsed.
#include "app/mlflow_plugin.hpp"

#include <curl/curl.h>

#include <memory>

namespace mlrun::plugin_impl {

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

} // namespace

bool curl_split_uri(const std::string& text, ParsedUri& out, std::string& error)
{
    std::unique_ptr<CURLU, UrlDeleter> url(curl_url());
    if (!url) {
        error = "out of memory";
        return false;
    }
    // Any scheme (redis, rediss, postgresql, ...).
    CURLUcode rc = curl_url_set(url.get(), CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME);
    if (rc != CURLUE_OK) {
        error = curl_url_strerror(rc);
        return false;
    }
    out.scheme = part(url.get(), CURLUPART_SCHEME);
    out.user = part(url.get(), CURLUPART_USER);
    out.password = part(url.get(), CURLUPART_PASSWORD);
    out.host = part(url.get(), CURLUPART_HOST);
    out.port = part(url.get(), CURLUPART_PORT);
    out.path = part(url.get(), CURLUPART_PATH);
    out.query = part(url.get(), CURLUPART_QUERY);
    out.fragment = part(url.get(), CURLUPART_FRAGMENT);
    return true;
}

} // namespace mlrun::plugin_impl
