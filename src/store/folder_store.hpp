#pragma once
// A TaskStore whose files (task folders, dataset blobs and versions, queues, agents) live
// under one local folder, whatever keeps its records: the folder store (local_store.hpp)
// or the SQLite store (sqlite_store.hpp). Datasets and LocalInputs need the folder.
#include "ports/task_store.hpp"

#include <filesystem>
#include <vector>

namespace mlrun {

class FolderStore : public TaskStore {
public:
    // The store folder (absolute when opened through app/wiring.cpp).
    virtual const std::filesystem::path& root() const = 0;
    // Writes `task` exactly as given (id and times kept) with its scalars, replacing an
    // earlier import of the same id (so an interrupted migration can run again): what
    // `store migrate` writes. Makes the task's folder.
    virtual void import_task(const Task& task, const std::vector<Scalar>& scalars) = 0;
};

} // namespace mlrun
