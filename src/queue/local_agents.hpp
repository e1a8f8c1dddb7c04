#pragma once
// Local agent registry: one JSON file per agent, <folder>/<name>.json, written atomically
// under <folder>/.lock so a stop request and the agent's own heartbeat never undo each other.
#include "ports/agent_registry.hpp"

#include <filesystem>
#include <functional>

namespace mlrun {

class LocalAgentRegistry final : public AgentRegistry {
public:
    // `folder` is created on the first beat (the wiring passes <store>/agents).
    explicit LocalAgentRegistry(std::filesystem::path folder) : m_folder(std::move(folder)) {}

    // Throws UsageError for a bad agent name; a pending stop request survives the beat.
    void beat(const AgentInfo& agent) override;
    void remove(const std::string& name) override;
    std::vector<AgentInfo> live() override;
    bool request_stop(const std::string& name) override;

private:
    // Runs `fn` holding the registry's flock.
    void locked(const std::function<void()>& fn);
    std::filesystem::path m_folder;
};

} // namespace mlrun
