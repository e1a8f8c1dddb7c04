#pragma once
// `mlrun server` (DESIGN §10): the HTTP API over the app's job use cases (app/job_ops.hpp),
// the token book, quotas, the web page and the OpenAPI document. The API only enqueues:
// agents (`mlrun agent daemon --queue Q`) run the jobs.
#include "app/wiring.hpp"
#include "server/http.hpp"
#include "server/tokens.hpp"

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>

namespace mlrun::server {

struct ServerOptions {
    std::string listen = "127.0.0.1:8000";   // HOST:PORT; port 0 = any free port
    BackendOptions backend;                  // store, broker, tracking
    std::string tokens_file;                 // "" = the store's records
    std::string allow_list;                  // --templates: templates and pipeline files jobs may use
    std::string templates_dir;               // the global --templates folder
    std::string queue = "server";            // where jobs are pushed (created when missing)
    HttpOptions http;                        // limits and timeouts (host/port from listen)
    Quota default_quota;                     // unused by tokens (each carries its own); kept for docs
    const std::atomic<bool>* stop = nullptr; // set by SIGTERM/SIGINT: finish in-flight requests, return
    // Called once listening, with the bound URL ("http://127.0.0.1:8000").
    std::function<void(const std::string&)> on_listening;
};

// Splits "HOST:PORT" (UsageError when malformed).
std::pair<std::string, int> parse_listen(const std::string& listen);
// Serves until *options.stop is set; in-flight requests finish, then it returns. UsageError
// for bad options (allow-list, listen address in use).
void run_server(const ServerOptions& options);

// The OpenAPI 3 document of every endpoint (openapi.cpp).
std::string openapi_json(const std::string& version);
// The web page served at / (web_page.cpp).
const std::string& web_page_html();

} // namespace mlrun::server
