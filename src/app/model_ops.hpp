#pragma once
// Model registry use cases behind `mlrun model ...`.
#include "core/results.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace mlrun {

struct Backends;

std::vector<ModelRecord> list_models(Backends& b);
// "NAME" (the latest) or "NAME:VERSION"; UsageError when malformed or unknown.
ModelRecord find_model(Backends& b, const std::string& ref);
// Writes a bundle that scores raw rows to `to` (default ./NAME-vVERSION), atomically: model/,
// the preprocess task's transform.json, bundle.json (the record), README.txt (how to score);
// UsageError when the destination exists. Returns the destination.
std::filesystem::path pull_model(Backends& b, const std::string& ref, const std::filesystem::path& to);

} // namespace mlrun
