// The entry of libmlrun_server.so (server/server_plugin.hpp).
#include "server/server_plugin.hpp"

#include "platform/plugin.hpp"

extern "C" const void* mlrun_server_entry()
{
    static const mlrun::server::ServerEntry k_entry{mlrun::k_adapter_plugin_abi, &mlrun::server::run_server};
    return &k_entry;
}
