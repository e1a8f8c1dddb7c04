#pragma once
// The built-in ML task kinds (DESIGN §4). Each validates its params and runs; they report
// only through ctx.report() and read inputs only through ctx.inputs().
#include "ports/task_context.hpp"

namespace mlrun::kinds {

void run_preprocess(TaskContext& ctx);
void run_train_model(TaskContext& ctx);
void run_summary(TaskContext& ctx);
void run_inference(TaskContext& ctx);

} // namespace mlrun::kinds
