#include "core/results.hpp"

namespace mlrun {

Json ModelRecord::to_json() const
{
    return Json{{"name", name},         {"version", version},         {"task_id", task_id},
                {"run_id", run_id},     {"source_task", source_task}, {"kind", kind},
                {"artifact", artifact}, {"metrics", metrics},         {"tags", tags},
                {"lineage", lineage},   {"created_ms", created_ms},   {"reason", reason}};
}

ModelRecord ModelRecord::from_json(const Json& j)
{
    ModelRecord r;
    r.name = j.value("name", "");
    r.version = j.value("version", 0);
    r.task_id = j.value("task_id", "");
    r.run_id = j.value("run_id", "");
    r.source_task = j.value("source_task", "");
    r.kind = j.value("kind", "");
    r.artifact = j.value("artifact", "model");
    r.metrics = j.value("metrics", Json::object());
    r.tags = j.value("tags", std::vector<std::string>{});
    r.lineage = j.value("lineage", Json::object());
    r.created_ms = j.value("created_ms", std::int64_t{0});
    r.reason = j.value("reason", "");
    return r;
}

} // namespace mlrun
