#pragma once
// A TaskStore whose files (task folders, dataset blobs and versions, queues, agents) live
// under one local folder, whatever keeps its records: the folder store (local_store.hpp)
// or the SQLite store (sqlite_store.hpp). Datasets and LocalInputs need the folder.
#include "ports/task_store.hpp"

#include <filesystem>

namespace mlrun {

class FolderStore : public TaskStore {
public:
    // The store folder (absolute when opened through app/wiring.cpp).
    virtual const std::filesystem::path& root() const = 0;
};

} // namespace mlrun
