// The entry of libmlrun_mlflow.so (app/mlflow_plugin.hpp).
#include "app/mlflow_plugin.hpp"

#include "platform/plugin.hpp"

extern "C" const void* mlrun_mlflow_entry()
{
    static const mlrun::MlflowEntry k_entry{
        mlrun::k_adapter_plugin_abi, &mlrun::plugin_impl::open_mlflow_mirror, &mlrun::plugin_impl::sync_to_mlflow,
        &mlrun::plugin_impl::fetch_registry_baseline, &mlrun::plugin_impl::curl_split_uri};
    return &k_entry;
}
