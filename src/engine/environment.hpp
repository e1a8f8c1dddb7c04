#pragma once
// The environment record of a task (DESIGN §7, like ClearML's): where and with what it ran.
// Kept in the store beside the task (record "environment"/<task id>, made when an attempt
// starts and stored with the attempt's next write, so a rerun replaces it), shown by `task show`, mirrored to MLflow as
// mlrun.env.* tags and mlflow.source.git.commit (app/sync.cpp).
#include "core/task.hpp"

#include <filesystem>
#include <string>

namespace mlrun {

class TaskStore;

// {"host", "mlrun": version, "cores": threads given, "cores_online": of the machine,
//  "libraries": {"libtorch", "opencv", "blas"} (only for kinds that load the task plugin:
//  control commands and exec/noop tasks never load libtorch for it),
//  "git": {"commit", "dirty", "repo"} (when the task's pipeline file is in a git work tree)}.
// Never throws: what cannot be found is left out.
Json task_environment(TaskStore& store, const Task& task, int cores);

// The record kind in the store.
constexpr const char* k_environment_kind = "environment";

// Computes the task's record and stores it; never throws (a store that refuses it only
// loses the record, not the task).
void record_environment(TaskStore& store, const Task& task, int cores);
// The stored record, or an empty object.
Json stored_environment(TaskStore& store, const std::string& task_id);

// {"commit": "<sha>", "dirty": bool, "repo": top folder} of the git work tree holding `file`;
// null when it is not in one (or git is missing). Cached per folder for the process.
Json git_state(const std::filesystem::path& file);
// The git state of a run record's pipeline file: the "git" the runner recorded once when the
// run started, else (records of older runs) git_state of its "file". Null when none.
Json run_git_state(const Json& run);

} // namespace mlrun
