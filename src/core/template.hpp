#pragma once
// Task templates: YAML files in templates/ (installed with the binary), ./templates and
// --templates DIR. A template names a kind, default params, the editable allow-list and the
// params' types (`schema:`, see core/param_schema.hpp).
#include "core/param_schema.hpp"
#include "core/params.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace mlrun {

struct Template {
    std::string name;
    std::string kind;
    std::string type;
    std::string description;
    Json params = Json::object();
    std::vector<std::string> editable;
    ParamSchema schema; // empty: only the allow-list is checked
    std::filesystem::path path;
};

// Search order: extra (--templates), ./templates, <exe dir>/templates,
// <exe dir>/../share/mlrun/templates. The first file with a name wins.
std::vector<std::filesystem::path> template_dirs(const std::string& extra);
// Every template found, by name (first hit per name).
std::vector<Template> list_templates(const std::string& extra);
// Throws UsageError "unknown template X (did you mean Y?)" or the file's own error.
Template find_template(const std::string& name, const std::string& extra);
// Parses one template file; errors carry file:line:column. The default params are checked
// against the schema (a default the schema refuses is an error of the file).
Template load_template(const std::filesystem::path& path);

} // namespace mlrun
