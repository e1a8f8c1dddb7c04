#pragma once
// Step caching (DESIGN §5): a step's key is the sha256 of its "material": kind, template,
// params (without the wiring: inputs, base_dir), the artifact hashes of its input tasks,
// the content hash of a local data.path, the dataset id, and the mlrun version. A completed
// task with the same key is reused. The material is kept so `pipeline explain` can say
// which part changed.
#include "core/task.hpp"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace mlrun {

class TaskStore;

struct CacheKey {
    Json material;
    std::string key;
};

// An input task already in memory (nullptr: read it from the store).
using KnownTask = std::function<const Task*(const std::string& id)>;

// The key of a step; input tasks come from `known` when it has them, else from the store.
CacheKey cache_key(TaskStore& store, const std::string& kind, const std::string& template_name, const Json& params,
                   const std::filesystem::path& base_dir, const KnownTask& known = {});
// A completed (or published) task recorded under this key, still present and unchanged.
std::optional<Task> cache_lookup(TaskStore& store, const std::string& key);
// Records `task` under `key`, stored with the store's next write (put_record_soon): a crash
// before it only costs a cache miss later.
void cache_record(TaskStore& store, const std::string& key, const Task& task, const Json& material);
// Dotted paths where two materials differ: "params.model.lr: 0.01 -> 0.1".
std::vector<std::string> material_diff(const Json& before, const Json& after);

} // namespace mlrun
