#include "core/task.hpp"

#include "core/error.hpp"

namespace mlrun {

void Task::transition(Status to, std::int64_t now)
{
    check_transition(status, to);
    status = to;
    switch (to) {
    case Status::in_progress:
        attempts += 1;
        started_ms = now;
        finished_ms = 0;
        error.clear();
        error_class.clear();
        exit_code = 0;
        break;
    case Status::completed:
    case Status::failed:
    case Status::aborted:
        finished_ms = now;
        break;
    case Status::draft:
        started_ms = 0;
        finished_ms = 0;
        error.clear();
        error_class.clear();
        exit_code = 0;
        break;
    case Status::queued:
    case Status::published:
        break;
    }
}

Json Task::to_json() const
{
    Json arts = Json::array();
    for (const ArtifactRecord& a : artifacts) {
        arts.push_back({{"name", a.name}, {"content_type", a.content_type}, {"size", a.size},
                        {"sha256", a.sha256}, {"uri", a.uri}});
    }
    return Json{{"id", id},
                {"name", name},
                {"project", project},
                {"type", type},
                {"kind", kind},
                {"template", template_name},
                {"params", params},
                {"editable", editable},
                {"tags", tags},
                {"run_id", run_id},
                {"step", step},
                {"parent", parent},
                {"cloned_from", cloned_from},
                {"queue", queue},
                {"status", std::string(to_string(status))},
                {"created_ms", created_ms},
                {"updated_ms", updated_ms},
                {"started_ms", started_ms},
                {"finished_ms", finished_ms},
                {"attempts", attempts},
                {"exit_code", exit_code},
                {"error", error},
                {"error_class", error_class},
                {"cache_key", cache_key},
                {"artifacts", arts},
                {"values", values}};
}

Task Task::from_json(const Json& j)
{
    if (!j.is_object()) {
        throw UsageError("task record is not a JSON object");
    }
    try {
        Task t;
        t.id = j.at("id").get<std::string>();
        t.name = j.value("name", "");
        t.project = j.value("project", "");
        t.type = j.value("type", "custom");
        t.kind = j.at("kind").get<std::string>();
        t.template_name = j.value("template", "");
        t.params = j.value("params", Json::object());
        t.editable = j.value("editable", std::vector<std::string>{});
        t.tags = j.value("tags", std::vector<std::string>{});
        t.run_id = j.value("run_id", "");
        t.step = j.value("step", "");
        t.parent = j.value("parent", "");
        t.cloned_from = j.value("cloned_from", "");
        t.queue = j.value("queue", "");
        t.status = parse_status(j.at("status").get<std::string>());
        t.created_ms = j.value("created_ms", std::int64_t{0});
        t.updated_ms = j.value("updated_ms", std::int64_t{0});
        t.started_ms = j.value("started_ms", std::int64_t{0});
        t.finished_ms = j.value("finished_ms", std::int64_t{0});
        t.attempts = j.value("attempts", 0);
        t.exit_code = j.value("exit_code", 0);
        t.error = j.value("error", "");
        t.error_class = j.value("error_class", "");
        t.cache_key = j.value("cache_key", "");
        for (const Json& a : j.value("artifacts", Json::array())) {
            t.artifacts.push_back({a.at("name").get<std::string>(), a.value("content_type", ""),
                                   a.value("size", std::uint64_t{0}), a.value("sha256", ""), a.value("uri", "")});
        }
        t.values = j.value("values", Json::object());
        return t;
    } catch (const Json::exception& e) {
        throw UsageError(std::string("malformed task record: ") + e.what());
    }
}

Task clone_spec(const Task& source)
{
    Task t;
    t.name = source.name;
    t.project = source.project;
    t.type = source.type;
    t.kind = source.kind;
    t.template_name = source.template_name;
    t.params = source.params;
    t.editable = source.editable;
    t.tags = source.tags;
    t.queue = source.queue;
    t.cloned_from = source.id;
    t.status = Status::draft;
    return t;
}

std::string_view task_type_for_kind(std::string_view kind)
{
    if (kind == "preprocess") return "data_processing";
    if (kind == "train_model") return "training";
    if (kind == "summary") return "controller";
    if (kind == "inference") return "inference";
    return "custom";
}

} // namespace mlrun
