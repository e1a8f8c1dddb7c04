#pragma once
// Registry of task kinds the engine runs. Core kinds (exec, noop) are built in; the
// libtorch/OpenCV kinds (preprocess, train_model, summary, inference) live in
// libmlrun_tasks.so, loaded (platform/plugin) the first time one of them is needed, so
// control commands never load libtorch.
#include "core/kind_names.hpp"
#include "ports/task_context.hpp"

#include <string>
#include <vector>

namespace mlrun {

class KindRegistry final : public KindSet {
public:
    static KindRegistry& instance();
    void add(const std::string& name, KindFn fn) override;
    // Loads the task plugin when `name` is one of its kinds. Throws UsageError for an
    // unknown kind, or when the plugin cannot be loaded (with dlerror's text).
    const KindFn& get(const std::string& name);
    // Kinds known without loading the plugin (core/kind_names.hpp).
    static const std::vector<std::string>& known_kinds() { return mlrun::known_kinds(); }
    // Intra-op threads of libtorch/OpenCV for this process (global to the process):
    // the pipeline engine sets cores / running steps. Applied now or when the plugin loads.
    void set_threads(int threads);
    // {"libtorch", "opencv", "blas"} versions of the task plugin, loading it for `kind` (one
    // of its kinds; UsageError as get()); an empty object when the plugin does not say.
    Json library_versions(const std::string& kind);

private:
    KindRegistry();
    struct Impl;
    Impl* m_impl;
};

// False for the kinds that never write a file (noop): their tasks get no scratch folder, so
// an in-process no-op step creates no inode.
bool kind_writes_files(const std::string& kind);

} // namespace mlrun

// The plugin's entry points (tasks/plugin.cpp).
extern "C" void mlrun_register_kinds(mlrun::KindSet& registry);
extern "C" void mlrun_set_threads(int threads);
// The plugin's library versions as a JSON object text (tasks/plugin.cpp).
extern "C" const char* mlrun_library_versions();
