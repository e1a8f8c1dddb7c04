#pragma once
// How a kind finds its inputs. The pipeline engine (or the user, with
// --set inputs.<step>=<task id>) fills params.inputs: parent step name -> a task id or a
// list of task ids. Kinds pick the input tasks they need by kind, through ctx.inputs().
#include "core/task.hpp"
#include "ports/task_context.hpp"

#include <string>
#include <vector>

namespace mlrun::kinds {

// Every task id in params.inputs, in order. Throws UsageError for a malformed entry.
std::vector<std::string> input_task_ids(const TaskContext& ctx);
// The same for any task's record (a training task's own inputs), skipping malformed entries.
std::vector<std::string> input_ids_of(const Task& task);
// The input tasks of one kind ("preprocess", "train_model", ...).
std::vector<Task> input_tasks(const TaskContext& ctx, const std::string& kind);
// Exactly one input task of that kind; throws UsageError naming what is missing.
Task one_input_task(const TaskContext& ctx, const std::string& kind);

} // namespace mlrun::kinds
