#pragma once
// The one codec of task.json (DESIGN §3). Task::to_json, Task::from_json and the listing
// reader below are defined over one list of fields (task_codec.cpp): a field added there
// is written, read in full and read by listings alike.
#include "core/task.hpp"

#include <filesystem>
#include <memory>
#include <optional>

namespace mlrun {

// Reads task.json files for a listing with simdjson: every field but params, values and
// artifacts (a full nlohmann parse of 1,000 records costs ~30 ms, over the control-command
// budget). Keeps its parser and buffer between files; one reader per thread.
class TaskListingReader {
public:
    TaskListingReader();
    ~TaskListingReader();
    TaskListingReader(const TaskListingReader&) = delete;
    TaskListingReader& operator=(const TaskListingReader&) = delete;

    // The record at path, or nothing when the file is missing (a task being created),
    // not a JSON object, or lacks a string id, kind or a known status. Fields of the wrong
    // type keep their defaults. Never throws for bad content.
    std::optional<Task> read(const std::filesystem::path& path);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace mlrun
