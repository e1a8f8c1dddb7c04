#pragma once
// The names of the built-in task kinds, known without loading anything: templates are
// checked against them. Running a kind is the engine's (engine/kinds.hpp).
#include <string>
#include <vector>

namespace mlrun {

// Every built-in kind: the plugin's (preprocess, train_model, summary, inference), then exec, noop.
const std::vector<std::string>& known_kinds();

// Kinds implemented in the task plugin (libmlrun_tasks.so).
bool is_plugin_kind(const std::string& kind);

} // namespace mlrun
