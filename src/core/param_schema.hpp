#pragma once
// Typed template params: the `schema:` map of a template YAML, beside `editable:`.
//
//   schema:
//     model.kind:   {type: enum, choices: [logreg, mlp], help: "model family"}
//     model.epochs: {type: int, min: 1, help: "max epochs"}
//     model.lr:     {type: float, gt: 0}               # gt/lt: exclusive bounds
//     model.hidden: {type: list, items: int, min: 1}   # bounds apply to each item
//     command:      {type: [string, list], items: string}  # any of several types
//     env:          {type: map, values: string}
//
// Types: int (a whole number; 3.0 counts), float (any finite number), bool, string, list,
// map, enum (a string among `choices`), any. Bounds: min/max inclusive, gt/lt exclusive; on
// a string or list they bound its length. `nullable: true` accepts null.
// A dotted key declares its parents as groups: with `model.epochs` declared, `model` must be
// a mapping and every key below it must be declared ("model.epoch" is refused with a
// did-you-mean). Keys below a map are free; top-level keys the schema does not name are left
// to the editable allow-list (today's behaviour for templates without a schema).
#include "core/params.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrun {

enum class ParamType { any, int_, float_, bool_, string, list, map, enum_ };

// The schema name of a type ("int", "float", ...).
std::string_view to_string(ParamType type);

struct ParamSpec {
    std::string key;              // dotted, e.g. "model.epochs"
    std::vector<ParamType> types; // the value must match one of them
    std::optional<double> min;    // inclusive
    std::optional<double> max;    // inclusive
    std::optional<double> gt;     // exclusive
    std::optional<double> lt;     // exclusive
    std::vector<std::string> choices;
    ParamType items = ParamType::any;  // list element type
    ParamType values = ParamType::any; // map value type
    bool nullable = false;
    std::string help;
};

struct ParamSchema {
    std::vector<ParamSpec> params; // sorted by key

    bool empty() const { return params.empty(); }
    // The spec of exactly this key, or nullptr.
    const ParamSpec* find(std::string_view key) const;
};

// Parses a template's `schema:` mapping; throws UsageError "<where>schema \"key\": ..." for an
// unknown type, field or choice list, or a key that is both a value and a group.
ParamSchema parse_schema(const Json& schema, const std::string& where);

// Checks `value` assigned to dotted `key` (a leaf, or a whole group such as "model" given a
// mapping). Throws UsageError "<where>param \"key\": expected ..., found ..." for a wrong type,
// a value out of range, an unknown choice, or an undeclared key below a group (with a
// did-you-mean). Keys the schema says nothing about pass.
void check_param(const ParamSchema& schema, std::string_view key, const Json& value, const std::string& where);
// check_param over every top-level entry of a params object.
void check_params(const ParamSchema& schema, const Json& params, const std::string& where);

// "a whole number >= 1", "one of logreg, mlp", "a string or a list of strings": the
// expectation as the error messages and `template show` word it.
std::string describe_spec(const ParamSpec& spec);
// The schema for `template show --json`: [{key, type, min, max, gt, lt, choices, items,
// values, nullable, default, help}], absent fields left out; defaults from `params`.
Json schema_to_json(const ParamSchema& schema, const Json& params);

} // namespace mlrun
