#pragma once
// The entry of libmlrun_server.so (app/adapter_plugin.hpp): `mlrun server`, the code that needs
// cpp-httplib (and OpenSSL with it). cli/server_commands.cpp loads it when the server starts;
// the token commands use server/tokens.hpp, which is in mlrun_core.
#include "server/server.hpp"

#include <cstdint>

namespace mlrun::server {

struct ServerEntry {
    std::uint32_t abi; // k_adapter_plugin_abi
    // As run_server (server/server.hpp).
    void (*run_server)(const ServerOptions& options);
};

} // namespace mlrun::server

extern "C" const void* mlrun_server_entry();
