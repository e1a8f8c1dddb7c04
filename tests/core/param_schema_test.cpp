// Typed template params (issue 12, class 2): the schema syntax, each type, ranges, choices,
// undeclared keys with a did-you-mean, and the shipped templates' schemas.
#include "app/gates.hpp"
#include "core/error.hpp"
#include "core/param_schema.hpp"
#include "core/template.hpp"
#include "ml/metrics.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

using namespace mlrun;

namespace {

ParamSchema schema_of(const char* yaml_json)
{
    return parse_schema(Json::parse(yaml_json), "t.yaml: ");
}

// The UsageError text of check_param, or "" when it passes.
std::string error_of(const ParamSchema& s, const std::string& key, const Json& value)
{
    try {
        check_param(s, key, value, "");
    } catch (const UsageError& e) {
        return e.what();
    }
    return "";
}

const char* k_schema = R"({
  "model.kind": {"type": "enum", "choices": ["logreg", "mlp", "knn"], "help": "family"},
  "model.epochs": {"type": "int", "min": 1},
  "model.lr": {"type": "float", "gt": 0, "max": 10},
  "model.hidden": {"type": "list", "items": "int", "min": 1},
  "model.version": {"type": "int", "min": 0, "nullable": true},
  "fail": "bool",
  "name": {"type": "string"},
  "command": {"type": ["string", "list"], "items": "string"},
  "env": {"type": "map", "values": "string"},
  "value": {"type": "any"},
  "split.train": {"type": "float", "min": 0, "max": 1}
})";

} // namespace

TEST_CASE("param schema: int refuses text, fractions and values below min; whole floats pass")
{
    const ParamSchema s = schema_of(k_schema);
    CHECK(error_of(s, "model.epochs", 3) == "");
    CHECK(error_of(s, "model.epochs", 3.0) == "");
    CHECK(error_of(s, "model.epochs", "abc") == R"(param "model.epochs": expected a whole number >= 1, found "abc")");
    CHECK(error_of(s, "model.epochs", -5) == R"(param "model.epochs": expected a whole number >= 1, found -5)");
    CHECK(error_of(s, "model.epochs", 2.5) == R"(param "model.epochs": expected a whole number >= 1, found 2.5)");
    CHECK(error_of(s, "model.epochs", 0) != "");
    CHECK(error_of(s, "model.epochs", true) != "");
}

TEST_CASE("param schema: float bounds, exclusive and inclusive")
{
    const ParamSchema s = schema_of(k_schema);
    CHECK(error_of(s, "model.lr", 0.01) == "");
    CHECK(error_of(s, "model.lr", 10) == "");
    CHECK(error_of(s, "model.lr", 0) == R"(param "model.lr": expected a number > 0 and <= 10, found 0)");
    CHECK(error_of(s, "model.lr", 10.5) != "");
    CHECK(error_of(s, "model.lr", "fast") == R"(param "model.lr": expected a number > 0 and <= 10, found "fast")");
    CHECK(error_of(s, "split.train", 1) == "");
    CHECK(error_of(s, "split.train", 1.5) == R"(param "split.train": expected a number in 0..1, found 1.5)");
}

TEST_CASE("param schema: enum choices with a did-you-mean")
{
    const ParamSchema s = schema_of(k_schema);
    CHECK(error_of(s, "model.kind", "mlp") == "");
    CHECK(error_of(s, "model.kind", "mpl")
          == R"(param "model.kind": expected one of logreg, mlp, knn, found "mpl" (did you mean mlp?))");
    CHECK(error_of(s, "model.kind", "xgboost_forest")
          == R"(param "model.kind": expected one of logreg, mlp, knn, found "xgboost_forest")");
    CHECK(error_of(s, "model.kind", 3) != "");
}

TEST_CASE("param schema: bool, string, list items, map values, alternatives, any, null")
{
    const ParamSchema s = schema_of(k_schema);
    CHECK(error_of(s, "fail", true) == "");
    CHECK(error_of(s, "fail", "yes") == R"(param "fail": expected true or false, found "yes")");
    CHECK(error_of(s, "name", "x") == "");
    CHECK(error_of(s, "name", 1) == R"(param "name": expected a string, found 1)");
    CHECK(error_of(s, "model.hidden", Json::parse("[64, 32]")) == "");
    CHECK(error_of(s, "model.hidden", Json::parse("[64, 0]"))
          == R"(param "model.hidden": expected a list of whole numbers >= 1, found [64,0])");
    CHECK(error_of(s, "model.hidden", 64) != "");
    CHECK(error_of(s, "command", "echo hi") == "");
    CHECK(error_of(s, "command", Json::parse(R"(["/bin/echo", "x"])")) == "");
    CHECK(error_of(s, "command", Json::parse("[1]"))
          == R"(param "command": expected a string or a list of strings, found [1])");
    CHECK(error_of(s, "env", Json::parse(R"({"A": "1"})")) == "");
    CHECK(error_of(s, "env", Json::parse(R"({"A": 1})")) != "");
    CHECK(error_of(s, "env.API_TOKEN", "x") == ""); // keys below a map are free
    CHECK(error_of(s, "env.API_TOKEN", 3) == R"(param "env.API_TOKEN": expected a string, found 3)");
    CHECK(error_of(s, "value", Json::parse(R"({"any": [1]})")) == "");
    CHECK(error_of(s, "model.version", nullptr) == "");
    CHECK(error_of(s, "model.epochs", nullptr) != "");
}

TEST_CASE("param schema: undeclared keys below a group get a did-you-mean; top-level ones are left alone")
{
    const ParamSchema s = schema_of(k_schema);
    CHECK(error_of(s, "model.epoch", 3) == R"(unknown param "model.epoch" (did you mean model.epochs?))");
    const std::string far = error_of(s, "model.zzzzzzzzzz", 3);
    CHECK(far.find("unknown param \"model.zzzzzzzzzz\"; known: model.epochs") != std::string::npos);
    CHECK(error_of(s, "model.epochs.x", 3) != "");
    CHECK(error_of(s, "not_in_schema", 3) == ""); // the editable allow-list decides
    // A whole group: a mapping whose keys are checked one by one.
    CHECK(error_of(s, "model", Json::parse(R"({"kind": "mlp", "epochs": 2})")) == "");
    CHECK(error_of(s, "model", Json::parse(R"({"kind": "mlp", "epochs": "x"})")).find("\"model.epochs\"")
          != std::string::npos);
    CHECK(error_of(s, "model", 3).find("param \"model\": expected a mapping") == 0);
    // check_params walks a whole params object.
    CHECK_NOTHROW(check_params(s, Json::parse(R"({"model": {"kind": "knn"}, "other": 1})"), ""));
    CHECK_THROWS_AS(check_params(s, Json::parse(R"({"model": {"kinds": "knn"}})"), ""), UsageError);
    // No schema: nothing is checked.
    CHECK_NOTHROW(check_param(ParamSchema{}, "model.epochs", "abc", ""));
}

TEST_CASE("param schema: malformed schemas are errors of the template file")
{
    auto parse_error = [](const char* text) {
        try {
            schema_of(text);
        } catch (const UsageError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(parse_error(R"({"a": {"type": "flaot"}})").find("unknown type \"flaot\" (did you mean float?)")
          != std::string::npos);
    CHECK(parse_error(R"({"a": {"type": "int", "mni": 1}})").find("unknown field \"mni\" (did you mean min?)")
          != std::string::npos);
    CHECK(parse_error(R"({"a": {"type": "enum"}})").find("needs \"choices\"") != std::string::npos);
    CHECK(parse_error(R"({"a": {"min": 1}})").find("missing \"type\"") != std::string::npos);
    CHECK(parse_error(R"({"a": "int", "a.b": "int"})").find("as a value and as a group") != std::string::npos);
    CHECK(parse_error(R"({"a": {"type": "int", "min": "x"}})").find("\"min\" must be a number") != std::string::npos);
    CHECK(parse_error(R"([1])").find("must be a mapping") != std::string::npos);
    // choices alone imply enum
    CHECK(schema_of(R"({"a": {"choices": ["x"]}})").find("a")->types.front() == ParamType::enum_);
}

TEST_CASE("param schema: apply_sets checks values and changes nothing on error")
{
    const ParamSchema s = schema_of(k_schema);
    const std::vector<std::string> editable{"model", "fail", "other"};
    Json params = Json::parse(R"({"model": {"epochs": 30}})");
    const Json before = params;
    CHECK_THROWS_WITH_AS(apply_sets(params, {"model.epochs=3", "model.epochs=abc"}, &editable, &s),
                         R"(param "model.epochs": expected a whole number >= 1, found "abc")", UsageError);
    CHECK(params == before);
    CHECK_THROWS_WITH_AS(apply_sets(params, {"model.epoch=3"}, &editable, &s),
                         R"(unknown param "model.epoch" (did you mean model.epochs?))", UsageError);
    CHECK_THROWS_WITH_AS(apply_sets(params, {"fial=true"}, &editable, &s),
                         R"(param "fial" is not editable (did you mean fail?) (editable: model, fail, other))",
                         UsageError);
    // A string param takes the text of a value that would parse as a bool or a number.
    const std::vector<std::string> all{"*"};
    Json texts = Json::object();
    apply_sets(texts, {"name=true", "command=123", "fail=true"}, &all, &s);
    CHECK(texts["name"] == "true");
    CHECK(texts["command"] == "123");
    CHECK(texts["fail"] == true);
    apply_sets(params, {"model.epochs=3", "other=x"}, &editable, &s);
    CHECK(params["model"]["epochs"] == 3);
    CHECK(params["other"] == "x");
}

TEST_CASE("param schema: every shipped template has a schema its own defaults satisfy")
{
    const std::string dir = std::string(MLRUN_SOURCE_DIR) + "/templates";
    for (const char* name : {"preprocess", "train_model", "summary", "inference", "exec", "noop"}) {
        CAPTURE(name);
        const Template t = load_template(dir + "/" + name + ".yaml"); // checks the defaults
        CHECK(!t.schema.empty());
        for (const ParamSpec& p : t.schema.params) {
            CAPTURE(p.key);
            CHECK(is_editable(p.key, t.editable)); // a typed key the user cannot set is a typo
            CHECK(!p.help.empty());
        }
        const Json j = schema_to_json(t.schema, t.params);
        CHECK(j.size() == t.schema.params.size());
    }
    const Template train = load_template(dir + "/train_model.yaml");
    CHECK(train.schema.find("model.kind")->choices.size() == 8);
    CHECK(describe_spec(*train.schema.find("model.epochs")) == "a whole number in 1..1000000");
}

TEST_CASE("param schema: inference declares on_bad_row fail|skip, default fail")
{
    const Template t = load_template(std::string(MLRUN_SOURCE_DIR) + "/templates/inference.yaml");
    const ParamSpec* spec = t.schema.find("on_bad_row");
    REQUIRE(spec != nullptr);
    CHECK(spec->choices == std::vector<std::string>{"fail", "skip"});
    CHECK(t.params.at("on_bad_row") == "fail");
    CHECK_THROWS_WITH_AS(check_params(t.schema, Json{{"on_bad_row", "ignore"}}, ""), doctest::Contains("on_bad_row"),
                         UsageError);
}

TEST_CASE("param schema: a template default the schema refuses is an error naming the file")
{
    const Json doc = Json::parse(R"({"epochs": {"type": "int", "min": 1}})");
    const ParamSchema s = parse_schema(doc, "");
    CHECK_THROWS_WITH_AS(check_params(s, Json::parse(R"({"epochs": 0})"), "x.yaml: default "),
                         R"(x.yaml: default param "epochs": expected a whole number >= 1, found 0)", UsageError);
}

TEST_CASE("gates: the known metric names are exactly what a model's test row reports")
{
    ml::Matrix proba(4, 2);
    const std::vector<int> y{0, 1, 0, 1};
    for (std::int64_t r = 0; r < 4; ++r) {
        proba.at(r, 1) = r % 2 == 1 ? 0.8f : 0.3f;
        proba.at(r, 0) = 1.0f - proba.at(r, 1);
    }
    std::vector<std::string> reported;
    const Json metrics = ml::all_metrics(y, proba); // items() of a temporary would dangle
    for (const auto& [name, value] : metrics.items()) {
        if (value.is_number()) { // the confusion matrix stays out of the leaderboard row
            reported.push_back(name);
        }
    }
    std::vector<std::string> known = gate_metric_names();
    std::sort(known.begin(), known.end());
    std::sort(reported.begin(), reported.end());
    CHECK(known == reported);
    CHECK_NOTHROW(check_gate_metrics({parse_gate("roc_auc>=0.8"), parse_gate("log_loss<0.5")}));
    CHECK_THROWS_WITH_AS(
        check_gate_metrics({parse_gate("roc_aux>=0.8")}, "p.yaml: "),
        R"(p.yaml: gate "roc_aux>=0.8": unknown metric "roc_aux" (did you mean roc_auc?); known: accuracy, precision, recall, f1, roc_auc, pr_auc, log_loss, rows)",
        UsageError);
    CHECK_THROWS_AS(check_drop_metrics({{"acc", 0.1}}), UsageError);
}
