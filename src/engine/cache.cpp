#include "engine/cache.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "ports/task_store.hpp"

#include <algorithm>
#include <cstdio>
#include <deque>

namespace mlrun {

namespace fs = std::filesystem;

CacheKey cache_key(TaskStore& store, const std::string& kind, const std::string& template_name, const Json& params,
                   const fs::path& base_dir, const KnownTask& known)
{
    Json own = params;
    own.erase("inputs");
    own.erase("base_dir");
    Json inputs = Json::object();
    std::deque<Task> stored; // inputs read from the store (stable addresses)
    if (const Json* in = get_path(params, "inputs"); in && in->is_object()) {
        for (const auto& [step, ids] : in->items()) {
            Json hashes = Json::array();
            Json list = ids.is_array() ? ids : Json::array({ids});
            for (const Json& id : list) {
                // What a step can read of its input: status, artifacts and reported values.
                const Task* in_memory = known ? known(id.get<std::string>()) : nullptr;
                const Task& t = in_memory ? *in_memory : stored.emplace_back(store.get(id.get<std::string>()));
                Json arts = Json::object();
                for (const ArtifactRecord& a : t.artifacts) {
                    arts[a.name] = a.sha256;
                }
                hashes.push_back(Json{{"status", std::string(to_string(t.status))},
                                      {"artifacts", arts},
                                      {"values_sha256", sha256_hex(dump_json(t.values))}});
            }
            inputs[step] = hashes;
        }
    }
    Json data = Json::object();
    if (const Json* path = get_path(params, "data.path"); path && path->is_string()) {
        fs::path p = path->get<std::string>();
        if (p.is_relative() && !base_dir.empty() && !fs::exists(p)) {
            p = base_dir / p;
        }
        std::error_code ec;
        if (fs::is_regular_file(p, ec)) {
            data["sha256"] = sha256_file(p);
        } else if (fs::is_directory(p, ec)) {
            // A folder of images: names, sizes and times (hashing every image each run is slow).
            std::string listing;
            std::vector<std::string> lines;
            for (const auto& e : fs::recursive_directory_iterator(p, ec)) {
                if (e.is_regular_file()) {
                    lines.push_back(fs::relative(e.path(), p).string() + " " + std::to_string(e.file_size()) + " "
                                    + std::to_string(e.last_write_time().time_since_epoch().count()));
                }
            }
            std::sort(lines.begin(), lines.end());
            for (const std::string& l : lines) {
                listing += l + "\n";
            }
            data["listing_sha256"] = sha256_hex(listing);
        }
    }
    CacheKey k;
    k.material = Json{{"kind", kind}, {"template", template_name},     {"params", own}, {"inputs", inputs},
                      {"data", data}, {"mlrun_version", MLRUN_VERSION}};
    k.key = sha256_hex(dump_json(k.material));
    return k;
}

std::optional<Task> cache_lookup(TaskStore& store, const std::string& key)
{
    std::optional<Json> rec;
    std::optional<Task> t;
    try {
        rec = store.get_record("cache", key);
        if (!rec) {
            return std::nullopt;
        }
        t = store.find(rec->value("task_id", ""));
    } catch (const CorruptRecord& e) {
        // A damaged record costs a rerun, never the run: `mlrun store check` finds it.
        std::fprintf(stderr, "mlrun: warning: cache miss: %s (see mlrun store check)\n", e.what());
        return std::nullopt;
    }
    if (!t || t->cache_key != key || (t->status != Status::completed && t->status != Status::published)) {
        return std::nullopt;
    }
    return t;
}

void cache_record(TaskStore& store, const std::string& key, const Task& task, const Json& material)
{
    store.put_record_soon("cache", key, Json{{"task_id", task.id}, {"step", task.step}, {"material", material}});
}

std::vector<std::string> material_diff(const Json& before, const Json& after)
{
    std::vector<std::string> out;
    Json a = flatten(before);
    Json b = flatten(after);
    for (auto it = b.begin(); it != b.end(); ++it) {
        if (!a.contains(it.key())) {
            out.push_back(it.key() + ": (none) -> " + it.value().dump());
        } else if (a[it.key()] != it.value()) {
            out.push_back(it.key() + ": " + a[it.key()].dump() + " -> " + it.value().dump());
        }
    }
    for (auto it = a.begin(); it != a.end(); ++it) {
        if (!b.contains(it.key())) {
            out.push_back(it.key() + ": " + it.value().dump() + " -> (none)");
        }
    }
    return out;
}

} // namespace mlrun
