#pragma once
// What the ML kind tests run a kind against: a scratch folder, and a Reporter + Inputs that
// records values and copies artifacts into a folder per task, serving tasks from a map.
#include "core/error.hpp"
#include "core/util.hpp"
#include "ports/inputs.hpp"
#include "ports/reporter.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlrun::ml_test {

namespace fs = std::filesystem;
using mlrun::Json;

struct TempDir {
    fs::path path;
    TempDir() : path(fs::temp_directory_path() / ("mlrun_kind_test_" + mlrun::new_id()))
    {
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
};

// Records what a kind reports; artifacts (files or folders) are copied into a folder per
// task like the local store does; tasks are served from a map.
class RecordingTracker : public mlrun::Reporter, public mlrun::Inputs {
public:
    explicit RecordingTracker(fs::path root) : m_root(std::move(root)) {}
    std::map<std::string, Json> values;        // of the last task that logged
    std::map<std::string, fs::path> artifacts; // name -> path, of any task
    std::map<std::string, mlrun::Task> tasks;
    std::string current; // the task that reports

    void log_params(const Json&) override {}
    void log_scalars(const std::vector<mlrun::Scalar>&) override {}
    std::vector<mlrun::Scalar> scalars(const std::string&) override { return {}; }
    void log_value(const std::string& name, const Json& value) override
    {
        values[name] = value;
        tasks[current].values[name] = value;
    }
    void set_tags(const std::vector<std::string>&) override {}
    mlrun::ArtifactRecord log_artifact(const std::string& name, const fs::path& source) override
    {
        return store_artifact(current, name, source);
    }
    mlrun::ArtifactRecord store_artifact(const std::string& task_id, const std::string& name, const fs::path& source)
    {
        const fs::path dest = m_root / task_id / name;
        fs::create_directories(dest.parent_path());
        fs::copy(source, dest, fs::copy_options::overwrite_existing | fs::copy_options::recursive);
        artifacts[name] = dest;
        return {name, mlrun::content_type_for(dest), 0, "", "file://" + dest.string()};
    }
    fs::path fetch_artifact(const std::string& task_id, const std::string& name) override
    {
        const fs::path p = m_root / task_id / name;
        if (!fs::exists(p)) {
            throw mlrun::UsageError("task " + task_id + " has no artifact " + name);
        }
        return p;
    }
    fs::path fetch_dataset(const std::string& id) override { throw mlrun::UsageError("no dataset " + id); }
    mlrun::Task get_task(const std::string& id) override
    {
        const auto it = tasks.find(id);
        if (it == tasks.end()) {
            throw mlrun::UsageError("no task " + id);
        }
        return it->second;
    }
    mlrun::ModelRecord register_model(mlrun::ModelRecord r) override { return r; }
    std::string create_child_task(mlrun::Task) override { return ""; }
    std::vector<mlrun::ModelRecord> models(const std::string&) override { return {}; }
    std::optional<mlrun::ModelRecord> model(const std::string&, int) override { return std::nullopt; }

private:
    fs::path m_root;
};

} // namespace mlrun::ml_test
