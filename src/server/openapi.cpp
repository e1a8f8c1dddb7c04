// The OpenAPI 3.0 document of the submission server (GET /openapi.json).
#include "server/server.hpp"

namespace mlrun::server {

namespace {

Json ref(const std::string& name)
{
    return Json{{"$ref", "#/components/schemas/" + name}};
}

Json json_content(const Json& schema)
{
    return Json{{"application/json", {{"schema", schema}}}};
}

Json error_answers(std::initializer_list<int> statuses)
{
    Json out = Json::object();
    for (int s : statuses) {
        out[std::to_string(s)] = Json{{"description", s == 401   ? "no token, or an unknown or revoked one"
                                                      : s == 404 ? "unknown id, or one of another token"
                                                      : s == 413 ? "body over the limit"
                                                      : s == 429 ? "over a quota (see Retry-After)"
                                                      : s == 409 ? "conflicts with the current state"
                                                      : s == 415 ? "not multipart/form-data"
                                                      : s == 422 ? "invalid fields"
                                                                 : "malformed request"},
                                      {"content", json_content(ref("Error"))}};
    }
    return out;
}

Json op(const std::string& summary, const Json& ok_schema, std::initializer_list<int> errors, bool secured = true)
{
    Json o{{"summary", summary}, {"responses", error_answers(errors)}};
    o["responses"]["200"] = Json{{"description", "OK"}, {"content", json_content(ok_schema)}};
    if (!secured) {
        o["security"] = Json::array();
    }
    return o;
}

Json job_id_param()
{
    return Json{{"name", "id"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
}

} // namespace

std::string openapi_json(const std::string& version)
{
    Json doc{{"openapi", "3.0.3"},
             {"info",
              {{"title", "mlrun submission server"},
               {"version", version},
               {"description", "Upload a dataset, run a template of the allow-list on agents, read status, logs, "
                               "results and the leaderboard."}}},
             {"security", Json::array({{{"bearer", Json::array()}}})}};
    Json& s = doc["components"]["schemas"];
    doc["components"]["securitySchemes"]["bearer"] = Json{{"type", "http"}, {"scheme", "bearer"}};
    s["Error"] = Json{{"type", "object"},
                      {"required", {"error"}},
                      {"properties",
                       {{"error",
                         {{"type", "object"},
                          {"required", {"code", "message"}},
                          {"properties", {{"code", {{"type", "string"}}}, {"message", {{"type", "string"}}}}}}}}}};
    s["Submission"] = Json{{"type", "object"},
                           {"properties",
                            {{"id", {{"type", "string"}}},
                             {"name", {{"type", "string"}}},
                             {"target", {{"type", "string"}}},
                             {"task_type", {{"type", "string"}, {"enum", {"classification", "regression"}}}},
                             {"dataset_id", {{"type", "string"}}},
                             {"file_name", {{"type", "string"}}},
                             {"size", {{"type", "integer"}}},
                             {"sha256", {{"type", "string"}}},
                             {"created_ms", {{"type", "integer"}}}}}};
    s["JobRequest"] = Json{
        {"type", "object"},
        {"additionalProperties", false},
        {"required", {"submission_id", "template"}},
        {"properties",
         {{"submission_id", {{"type", "string"}}},
          {"template", {{"type", "string"}, {"description", "a name of GET /challenges"}}},
          {"params",
           {{"type", "object"}, {"description", "dotted keys the template marks editable (GET /challenges)"}}}}}};
    s["JobStatus"] = Json{
        {"type", "object"},
        {"properties",
         {{"id", {{"type", "string"}}},
          {"status", {{"type", "string"}, {"enum", {"queued", "running", "completed", "failed", "aborted"}}}},
          {"challenge", {{"type", "string"}}},
          {"submission_id", {{"type", "string"}}},
          {"run_id", {{"type", "string"}}},
          {"created_ms", {{"type", "integer"}}},
          {"started_ms", {{"type", "integer"}}},
          {"finished_ms", {{"type", "integer"}}},
          {"attempts", {{"type", "integer"}}},
          {"error", {{"type", "string"}}}}}};
    s["JobResults"] = Json{{"type", "object"},
                           {"properties",
                            {{"id", {{"type", "string"}}},
                             {"status", {{"type", "string"}}},
                             {"leaderboard", {{"type", "object"}, {"nullable", true}}},
                             {"recommended", {{"type", "object"}, {"nullable", true}}},
                             {"metrics", {{"type", "object"}, {"nullable", true}}},
                             {"mlflow",
                              {{"type", "object"},
                               {"nullable", true},
                               {"properties",
                                {{"server", {{"type", "string"}}},
                                 {"runs",
                                  {{"type", "array"},
                                   {"items",
                                    {{"type", "object"},
                                     {"properties",
                                      {{"task_id", {{"type", "string"}}},
                                       {"step", {{"type", "string"}}},
                                       {"run_id", {{"type", "string"}}},
                                       {"url", {{"type", "string"}}}}}}}}}}}}}}}};
    s["Leaderboard"] = Json{{"type", "object"},
                            {"properties",
                             {{"challenge", {{"type", "string"}}},
                              {"primary_metric", {{"type", "string"}}},
                              {"rows", {{"type", "array"}, {"items", {{"type", "object"}}}}}}}};

    Json& p = doc["paths"];
    p["/health"]["get"] = op("liveness", Json{{"type", "object"}}, {}, false);
    p["/openapi.json"]["get"] = op("this document", Json{{"type", "object"}}, {}, false);
    p["/whoami"]["get"] = op("the caller's token: name, role, quota", Json{{"type", "object"}}, {401, 429});
    p["/challenges"]["get"] = op("the allow-list: templates and pipelines jobs may name, with their editable params",
                                 Json{{"type", "object"}}, {401, 429});
    Json upload = op("upload a table (CSV/TSV/ARFF) or an image archive (.tar, .tar.gz) as a dataset version",
                     ref("Submission"), {400, 401, 413, 415, 422, 429});
    upload["responses"]["201"] = upload["responses"]["200"];
    upload["responses"].erase("200");
    upload["requestBody"] = Json{
        {"required", true},
        {"content",
         {{"multipart/form-data",
           {{"schema",
             {{"type", "object"},
              {"required", {"file", "name", "target"}},
              {"properties",
               {{"file", {{"type", "string"}, {"format", "binary"}}},
                {"name", {{"type", "string"}}},
                {"target", {{"type", "string"}}},
                {"task_type", {{"type", "string"}, {"enum", {"classification", "regression"}}}}}}}}}}}}};
    p["/submissions"]["post"] = upload;
    p["/submissions"]["get"] = op("the caller's submissions (an admin: all)", Json{{"type", "object"}}, {401, 429});
    Json post_job = op("start a job: enqueued for agents; the same Idempotency-Key returns the same job",
                       ref("JobStatus"), {400, 401, 404, 409, 413, 422, 429});
    post_job["responses"]["201"] = post_job["responses"]["200"];
    post_job["parameters"] = Json::array(
        {{{"name", "Idempotency-Key"}, {"in", "header"}, {"required", false}, {"schema", {{"type", "string"}}}}});
    post_job["requestBody"] = Json{{"required", true}, {"content", json_content(ref("JobRequest"))}};
    p["/jobs"]["post"] = post_job;
    p["/jobs"]["get"] = op("the caller's jobs, newest first (an admin: all)", Json{{"type", "object"}}, {401, 429});
    for (const std::string& suffix : {std::string("/status"), std::string("")}) {
        Json g = op("the job's status", ref("JobStatus"), {401, 404, 429});
        g["parameters"] = Json::array({job_id_param()});
        p["/jobs/{id}" + suffix]["get"] = g;
    }
    Json logs = op("the job's log (text); ?tail=N the last N bytes, ?offset=N from byte N, ?follow=1 streams until "
                   "the job ends",
                   Json{{"type", "string"}}, {401, 404, 422, 429});
    logs["responses"]["200"]["content"] = Json{{"text/plain", {{"schema", {{"type", "string"}}}}}};
    logs["parameters"] = Json::array(
        {job_id_param(),
         {{"name", "tail"}, {"in", "query"}, {"schema", {{"type", "integer"}}}},
         {{"name", "offset"}, {"in", "query"}, {"schema", {{"type", "integer"}}}},
         {{"name", "follow"}, {"in", "query"}, {"schema", {{"type", "integer"}, {"enum", {0, 1}}}}}});
    p["/jobs/{id}/logs"]["get"] = logs;
    Json results = op("leaderboard, recommended model, metrics and MLflow runs of the job", ref("JobResults"),
                      {401, 404, 429});
    results["parameters"] = Json::array({job_id_param()});
    p["/jobs/{id}/results"]["get"] = results;
    Json del = op("abort the job", ref("JobStatus"), {401, 404, 409, 429});
    del["parameters"] = Json::array({job_id_param()});
    p["/jobs/{id}"]["delete"] = del;
    Json lb = op("the best result per submission, ranked by the challenge's primary metric", ref("Leaderboard"),
                 {401, 404, 422, 429});
    lb["parameters"] = Json::array(
        {{{"name", "challenge"}, {"in", "query"}, {"required", false}, {"schema", {{"type", "string"}}}}});
    p["/leaderboard"]["get"] = lb;
    p["/"]["get"] = Json{
        {"summary", "the web page"}, {"security", Json::array()}, {"responses", {{"200", {{"description", "HTML"}}}}}};
    return doc.dump(2);
}

} // namespace mlrun::server
