#pragma once
// The entry of libmlrun_mlflow.so (app/adapter_plugin.hpp): the MLflow mirror, `mlrun sync`,
// the registry baseline and libcurl's URL parser, the code that needs libcurl. The core-side
// forwarders (app/sync.hpp, app/uri.hpp) keep the names the app calls; the implementations
// here live in mlrun::plugin_impl so that no forwarder can bind to itself.
#include "app/sync.hpp"
#include "app/uri.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace mlrun {

struct MlflowEntry {
    std::uint32_t abi; // k_adapter_plugin_abi
    // As open_mlflow_mirror, sync_to_mlflow and fetch_registry_baseline (app/sync.hpp).
    std::unique_ptr<ResultSink> (*open_mirror)(const std::string& uri, TaskStore& store);
    SyncResult (*sync)(Backends& b, const SyncRequest& request);
    RegistryBaseline (*fetch_registry_baseline)(const std::string& tracking_uri, const std::string& ref);
    // Splits a scheme:// URI with libcurl's URL API (any scheme; parts as curl gives them,
    // the scheme as written). False with curl's reason in `error` when it does not parse;
    // never throws, so callers can redact with it.
    bool (*split_uri)(const std::string& text, ParsedUri& out, std::string& error);
};

// The plugin, loaded on first use (UsageError, exit 2, when it is missing).
const MlflowEntry& mlflow_entry();

namespace plugin_impl {

std::unique_ptr<ResultSink> open_mlflow_mirror(const std::string& uri, TaskStore& store);
SyncResult sync_to_mlflow(Backends& b, const SyncRequest& request);
RegistryBaseline fetch_registry_baseline(const std::string& tracking_uri, const std::string& ref);
bool curl_split_uri(const std::string& text, ParsedUri& out, std::string& error);

} // namespace plugin_impl

} // namespace mlrun

extern "C" const void* mlrun_mlflow_entry();
