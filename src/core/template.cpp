#include "core/template.hpp"

#include "core/error.hpp"
#include "core/kind_names.hpp"
#include "core/task.hpp"
#include "core/util.hpp"
#include "core/yaml.hpp"
#include "platform/self_path.hpp"

#include <algorithm>
#include <map>

namespace mlrun {

std::vector<fs::path> template_dirs(const std::string& extra)
{
    std::vector<fs::path> dirs;
    if (!extra.empty()) {
        if (!fs::is_directory(extra)) {
            throw UsageError("--templates " + extra + ": not a folder");
        }
        dirs.emplace_back(extra);
    }
    dirs.emplace_back("templates");
    fs::path exe = self_exe();
    if (exe.is_absolute()) {
        dirs.push_back(exe.parent_path() / "templates");
        dirs.push_back(exe.parent_path() / ".." / "share" / "mlrun" / "templates");
    }
    return dirs;
}

Template load_template(const fs::path& path)
{
    Json j = load_yaml_file(path);
    std::string where = path.string() + ": ";
    if (!j.is_object()) {
        throw UsageError(where + "a template is a mapping with name, kind and params");
    }
    Template t;
    t.path = path;
    auto str = [&](const char* key, bool required) {
        if (!j.contains(key) || j[key].is_null()) {
            if (required) {
                throw UsageError(where + "missing \"" + key + "\"");
            }
            return std::string();
        }
        if (!j[key].is_string()) {
            throw UsageError(where + "\"" + key + "\" must be a string");
        }
        return j[key].get<std::string>();
    };
    t.name = str("name", false);
    if (t.name.empty()) {
        t.name = path.stem().string();
    }
    t.kind = str("kind", true);
    const auto& kinds = known_kinds();
    if (std::find(kinds.begin(), kinds.end(), t.kind) == kinds.end()) {
        throw UsageError(where + "unknown kind \"" + t.kind
                         + "\" (known: preprocess, train_model, summary, inference, exec, noop)");
    }
    t.type = str("type", false);
    if (t.type.empty()) {
        t.type = std::string(task_type_for_kind(t.kind));
    }
    t.description = str("description", false);
    if (j.contains("params") && !j["params"].is_null()) {
        if (!j["params"].is_object()) {
            throw UsageError(where + "\"params\" must be a mapping");
        }
        // Dotted keys in the file ("model.lr: 0.1") nest like --set does.
        merge_params(t.params, j["params"]);
    }
    if (j.contains("editable")) {
        if (!j["editable"].is_array()) {
            throw UsageError(where + "\"editable\" must be a list of param keys");
        }
        for (const Json& e : j["editable"]) {
            if (!e.is_string()) {
                throw UsageError(where + "\"editable\" must be a list of param keys");
            }
            t.editable.push_back(e.get<std::string>());
        }
    }
    if (j.contains("schema")) {
        t.schema = parse_schema(j["schema"], where);
        check_params(t.schema, t.params, where + "default ");
    }
    return t;
}

std::vector<Template> list_templates(const std::string& extra)
{
    std::map<std::string, Template> found;
    for (const fs::path& dir : template_dirs(extra)) {
        std::error_code ec;
        std::vector<fs::path> files;
        for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
            if (e.is_regular_file() && (e.path().extension() == ".yaml" || e.path().extension() == ".yml")) {
                files.push_back(e.path());
            }
        }
        std::sort(files.begin(), files.end());
        for (const fs::path& f : files) {
            if (!found.count(f.stem().string())) {
                Template t = load_template(f);
                found.emplace(f.stem().string(), std::move(t));
            }
        }
    }
    std::vector<Template> out;
    for (auto& [name, t] : found) {
        out.push_back(std::move(t));
    }
    return out;
}

Template find_template(const std::string& name, const std::string& extra)
{
    check_name(name, "template name");
    std::vector<std::string> names;
    for (const fs::path& dir : template_dirs(extra)) {
        for (const char* ext : {".yaml", ".yml"}) {
            fs::path p = dir / (name + ext);
            if (fs::exists(p)) {
                return load_template(p);
            }
        }
        std::error_code ec;
        for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
            if (e.path().extension() == ".yaml" || e.path().extension() == ".yml") {
                names.push_back(e.path().stem().string());
            }
        }
    }
    std::string near = nearest(name, names);
    throw UsageError("unknown template \"" + name + "\"" + (near.empty() ? "" : " (did you mean " + near + "?)")
                     + "; see `mlrun template list`");
}

} // namespace mlrun
