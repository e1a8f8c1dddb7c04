#pragma once
// What the two halves of app/sync (the state readers in mlrun_core, the network half in
// libmlrun_mlflow.so: app/mlflow_sync.cpp) agree on about the sync cursors in the store.
#include "app/uri.hpp"
#include "core/params.hpp"

#include <cstdint>
#include <string>

namespace mlrun::sync_detail {

// The store records of MLflow sync cursors: kind "mlflow", id = task id or run_key(run id).
inline constexpr const char* k_cursor_kind = "mlflow";

// The cursor id of a pipeline run.
inline std::string run_key(const std::string& run_id)
{
    return "run:" + run_id;
}

// The MLflow status a local status ends as ("" while it has not ended).
inline std::string mlflow_status(const std::string& status)
{
    if (status == "completed" || status == "published") {
        return "FINISHED";
    }
    if (status == "failed") {
        return "FAILED";
    }
    if (status == "aborted") {
        return "KILLED";
    }
    return "";
}

// j[key] when it is an integer (a string), else 0 (""): cursors are read leniently.
inline std::int64_t int_of(const Json& j, const char* key)
{
    return j.contains(key) && j[key].is_number_integer() ? j[key].get<std::int64_t>() : 0;
}

inline std::string str_of(const Json& j, const char* key)
{
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// A server URL for messages: credentials and secret query values masked, no "/" added.
inline std::string display_server(const std::string& url)
{
    std::string out = redact_uri(url);
    if (!url.empty() && url.back() != '/' && !out.empty() && out.back() == '/') {
        out.pop_back();
    }
    return out;
}

} // namespace mlrun::sync_detail
