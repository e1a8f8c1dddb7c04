#pragma once
// The file half the database stores (SQLite, PostgreSQL) share: their records live in the
// database, while logs, artifacts and task folders stay files kept by a LocalStore over the
// store's folder (or the shared artifact root), which holds none of the records. One copy
// of that forwarding for both adapters.
#include "ports/log_stream.hpp"
#include "store/folder_store.hpp"
#include "store/local_store.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mlrun {

class DatabaseStore : public FolderStore, public LogStreamReader {
public:
    std::filesystem::path task_dir(const std::string& id) override { return m_files->task_dir(id); }
    void append_log(const std::string& id, std::string_view text) override { m_files->append_log(id, text); }
    std::string read_log(const std::string& id, std::uint64_t offset) override { return m_files->read_log(id, offset); }
    std::string read_log_part(const std::string& id, std::uint64_t offset, std::size_t max_bytes) override
    {
        return m_files->read_log_part(id, offset, max_bytes);
    }
    LogPiece read_log_stream(const std::string& id, std::uint64_t from, std::size_t max_bytes) override
    {
        return m_files->read_log_stream(id, from, max_bytes);
    }
    ArtifactRecord put_artifact(const std::string& id, const std::string& name,
                                const std::filesystem::path& source) override
    {
        return m_files->put_artifact(id, name, source);
    }
    std::optional<std::filesystem::path> artifact_path(const std::string& id, const std::string& name) override
    {
        return m_files->artifact_path(id, name);
    }

protected:
    // The file half, set by the adapter's constructor once it knows its folder.
    std::unique_ptr<LocalStore> m_files;
};

} // namespace mlrun
