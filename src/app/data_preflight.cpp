#include "app/data_preflight.hpp"

#include "core/error.hpp"
#include "core/params.hpp"
#include "core/template.hpp"
#include "core/util.hpp"
#include "ml/io/table_header.hpp"
#include "ml/io/text_file.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

namespace mlrun {

namespace {

namespace fs = std::filesystem;

// "a, b, c" (the first 20, then the count).
std::string listed(const std::vector<std::string>& known)
{
    std::string list;
    const std::size_t shown = std::min<std::size_t>(known.size(), 20);
    for (std::size_t i = 0; i < shown; ++i) {
        list += (i == 0 ? "" : ", ") + known[i];
    }
    if (known.size() > shown) {
        list += ", ... (" + std::to_string(known.size()) + " in all)";
    }
    return list.empty() ? "none" : list;
}

// "; did you mean \"X\"?" (a name equal but for case first, else the nearest), or the known
// names when none is near, so the line always says what would have worked.
std::string suggestion(const std::string& word, const std::vector<std::string>& known, const char* what)
{
    for (const std::string& k : known) {
        if (ascii_lower(k) == ascii_lower(word)) {
            return "; did you mean \"" + k + "\"?";
        }
    }
    const std::string near = nearest(word, known);
    if (!near.empty()) {
        return "; did you mean \"" + near + "\"?";
    }
    return std::string("; ") + what + ": " + listed(known);
}

std::string text_param(const Json& data, const char* key)
{
    const Json* v = get_path(data, key);
    if (!v || v->is_null()) {
        return "";
    }
    if (v->is_string()) {
        return v->get<std::string>();
    }
    if (v->is_number_integer() || v->is_boolean()) {
        return v->dump(); // data.positive_class: 1 means the class "1"
    }
    return ""; // a wrong type is the schema's to refuse
}

std::vector<std::string> list_param(const Json& data, const char* key)
{
    const Json* v = get_path(data, key);
    std::vector<std::string> out;
    if (v && v->is_string()) {
        out.push_back(v->get<std::string>());
    } else if (v && v->is_array()) {
        for (const Json& e : *v) {
            if (e.is_string()) {
                out.push_back(e.get<std::string>());
            }
        }
    }
    return out;
}

// The entries of a folder ("" when it cannot be listed), for a did-you-mean on a path.
std::vector<std::string> entries_of(const fs::path& folder)
{
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(folder.empty() ? fs::path(".") : folder, ec), end; !ec && it != end;
         it.increment(ec)) {
        names.push_back(it->path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

// data.path as the preprocess kind resolves it (ml::resolve_data_path): as given, else under
// base_dir. UsageError naming both tries and the nearest file name.
fs::path resolve_path(const std::string& path, const fs::path& base_dir)
{
    std::error_code ec;
    const fs::path p(path);
    if (fs::exists(p, ec)) {
        return p;
    }
    std::string message = "data.path \"" + path + "\": no such file or folder";
    fs::path tried = p;
    if (!base_dir.empty() && p.is_relative()) {
        tried = base_dir / p;
        if (fs::exists(tried, ec)) {
            return tried;
        }
        message += " (also tried " + tried.string() + ")";
    }
    const std::vector<std::string> near = entries_of(tried.parent_path());
    const std::string name = tried.filename().string();
    std::string hint = nearest(name, near);
    for (const std::string& n : near) {
        if (ascii_lower(n) == ascii_lower(name)) {
            hint = n;
        }
    }
    throw UsageError(message + (hint.empty() ? "" : "; did you mean \"" + hint + "\"?"));
}

bool is_table_name(const fs::path& p)
{
    const std::string ext = ml::table_extension(p);
    return ext == ".csv" || ext == ".tsv" || ext == ".arff";
}

// The table file in a folder as ml::find_table_file picks it, or nullopt when it holds none
// (an image folder). UsageError for several, or a data.file that is not there.
std::optional<fs::path> table_in_folder(const fs::path& folder, const std::string& file)
{
    if (!file.empty()) {
        std::error_code ec;
        if (!fs::is_regular_file(folder / file, ec)) {
            throw UsageError("data.file \"" + file + "\": no such file in " + folder.string()
                             + suggestion(file, entries_of(folder), "files"));
        }
        return folder / file;
    }
    std::vector<fs::path> found;
    std::error_code ec;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec) && is_table_name(it->path())) {
            found.push_back(it->path());
        }
    }
    std::sort(found.begin(), found.end());
    if (found.size() > 1) {
        std::string list;
        for (const fs::path& p : found) {
            list += (list.empty() ? "" : ", ") + p.filename().string();
        }
        throw UsageError(folder.string() + ": several tables (" + list + "); pick one with data.file");
    }
    if (found.empty()) {
        return std::nullopt;
    }
    return found.front();
}

void check_image_folder(const fs::path& folder)
{
    std::error_code ec;
    std::size_t classes = 0;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
        classes += it->is_directory(ec) ? 1 : 0;
    }
    if (ec) {
        throw UsageError("cannot read folder " + folder.string() + ": " + ec.message());
    }
    if (classes == 0) {
        throw UsageError(folder.string()
                         + ": no table file and no class subfolders (an image set is a folder per class)");
    }
}

void check_column(const ml::TableHeader& header, const std::string& name, const std::string& role,
                  const std::string& file)
{
    if (!header.find(name)) {
        throw UsageError(role + " \"" + name + "\" is not a column of " + file
                         + suggestion(name, header.names(), "its columns"));
    }
}

// The columns a preprocess step names, against the table's header.
void check_columns(const ml::TableHeader& header, const Json& data, const std::string& file)
{
    const std::string target = text_param(data, "target");
    if (target.empty()) {
        throw UsageError("data.target is not set: name the label column of " + file
                         + " (its columns: " + listed(header.names()) + ")");
    }
    check_column(header, target, "target", file);
    for (const char* key : {"drop", "categorical", "numeric"}) {
        for (const std::string& c : list_param(data, key)) {
            check_column(header, c, std::string("data.") + key, file);
        }
    }
    const std::string id = text_param(data, "id_column");
    if (!id.empty()) {
        check_column(header, id, "data.id_column", file);
    }
    // Only an ARFF nominal target lists its values in the header; a CSV's would need a full read.
    const std::string positive = text_param(data, "positive_class");
    const ml::HeaderColumn* t = header.find(target);
    if (!positive.empty() && t && !t->levels.empty()
        && std::find(t->levels.begin(), t->levels.end(), positive) == t->levels.end()) {
        throw UsageError("data.positive_class \"" + positive + "\" is not a class of target \"" + target + "\" in "
                         + file + suggestion(positive, t->levels, "its classes"));
    }
}

// One step's data (params as the step will get them).
void check_step_data(const Json& params, const std::string& kind, const fs::path& base_dir,
                     const DatasetFolder& dataset_folder)
{
    const Json* data_ptr = get_path(params, "data");
    if (!data_ptr || !data_ptr->is_object()) {
        return;
    }
    const Json& data = *data_ptr;
    const std::string path = text_param(data, "path");
    const std::string dataset_id = text_param(data, "dataset_id");
    fs::path where;
    if (!dataset_id.empty()) {
        const fs::path folder = dataset_folder(dataset_id);
        where = path.empty() ? folder : folder / path;
        std::error_code ec;
        if (!fs::exists(where, ec)) {
            throw UsageError("dataset " + dataset_id + ": no \"" + path + "\" in it"
                             + suggestion(path, entries_of(folder), "its files"));
        }
    } else if (!path.empty()) {
        where = resolve_path(path, base_dir);
    } else {
        return; // inference on the preprocess step's own data, checked there
    }
    std::string format = text_param(data, "format");
    const bool grid = data.contains("grid") && data["grid"].is_object();
    std::error_code ec;
    if (format.empty() || format == "table") {
        if (fs::is_directory(where, ec)) {
            std::optional<fs::path> table = table_in_folder(where, text_param(data, "file"));
            if (!table && format.empty() && !grid) {
                check_image_folder(where);
                return;
            }
            if (!table) {
                throw UsageError(where.string() + ": no .csv, .tsv or .arff table (or .gz of one) in it");
            }
            where = *table;
        } else if (format.empty()) {
            const std::string ext = ascii_lower(where.extension().string());
            if (grid || ext == ".lst" || ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp") {
                return; // an image source: the kind reads it (and says what it needs)
            }
        }
    } else {
        if (format == "folder") {
            check_image_folder(where);
        }
        return; // list and grid: the file exists; the kind reads it
    }
    const Json* header_flag = get_path(data, "header");
    const int header = header_flag && header_flag->is_boolean() ? (header_flag->get<bool>() ? 1 : 0) : -1;
    const ml::TableHeader table = ml::read_table_header(where, header);
    if (kind == "preprocess") {
        check_columns(table, data, where.filename().string());
    }
}

} // namespace

void check_pipeline_data(const PipelineSpec& spec, const std::string& templates_dir,
                         const DatasetFolder& dataset_folder)
{
    for (const StepSpec& step : spec.steps) {
        const Template tmpl = find_template(step.template_name, templates_dir);
        if (tmpl.kind != "preprocess" && tmpl.kind != "inference") {
            continue;
        }
        Json params = tmpl.params;
        merge_params(params, step.params);
        std::vector<Json> variants{params};
        if (!step.foreach_key.empty() && step.foreach_key.rfind("data.", 0) == 0) {
            variants.clear();
            for (const Json& v : step.foreach_values) {
                Json p = params;
                set_path(p, step.foreach_key, v);
                variants.push_back(std::move(p));
            }
        }
        for (const Json& p : variants) {
            try {
                check_step_data(p, tmpl.kind, spec.base_dir, dataset_folder);
            } catch (const UsageError& e) {
                throw UsageError(spec.file.string() + ": step \"" + step.name + "\": " + e.what());
            }
        }
    }
}

} // namespace mlrun
