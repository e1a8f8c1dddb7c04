#include "core/param_schema.hpp"

#include "core/error.hpp"
#include "core/util.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace mlrun {

namespace {

struct TypeName {
    ParamType type;
    const char* name;
};

constexpr TypeName k_type_names[] = {
    {ParamType::any, "any"},       {ParamType::int_, "int"},  {ParamType::float_, "float"}, {ParamType::bool_, "bool"},
    {ParamType::string, "string"}, {ParamType::list, "list"}, {ParamType::map, "map"},      {ParamType::enum_, "enum"}};

std::string join(const std::vector<std::string>& items)
{
    std::string out;
    for (const std::string& s : items) {
        out += (out.empty() ? "" : ", ") + s;
    }
    return out;
}

std::vector<std::string> type_names()
{
    std::vector<std::string> out;
    for (const TypeName& t : k_type_names) {
        out.emplace_back(t.name);
    }
    return out;
}

ParamType parse_type(const Json& v, const std::string& where)
{
    if (v.is_string()) {
        for (const TypeName& t : k_type_names) {
            if (v.get<std::string>() == t.name) {
                return t.type;
            }
        }
    }
    const std::string found = v.is_string() ? v.get<std::string>() : v.dump();
    const std::string near = nearest(found, type_names());
    throw UsageError(where + "unknown type \"" + found + "\"" + (near.empty() ? "" : " (did you mean " + near + "?)")
                     + "; types: " + join(type_names()));
}

// 1, 0.5, 1e-12: integers without a decimal point.
std::string number_text(double v)
{
    char buf[40];
    if (std::floor(v) == v && std::fabs(v) < 1e15) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
    } else {
        std::snprintf(buf, sizeof buf, "%g", v);
    }
    return buf;
}

std::string range_text(const ParamSpec& s)
{
    if (s.min && s.max && !s.gt && !s.lt) {
        return " in " + number_text(*s.min) + ".." + number_text(*s.max);
    }
    std::vector<std::string> parts;
    if (s.min) {
        parts.push_back(">= " + number_text(*s.min));
    }
    if (s.gt) {
        parts.push_back("> " + number_text(*s.gt));
    }
    if (s.max) {
        parts.push_back("<= " + number_text(*s.max));
    }
    if (s.lt) {
        parts.push_back("< " + number_text(*s.lt));
    }
    std::string out;
    for (const std::string& p : parts) {
        out += (out.empty() ? " " : " and ") + p;
    }
    return out;
}

bool has_range(const ParamSpec& s)
{
    return s.min || s.max || s.gt || s.lt;
}

bool in_range(const ParamSpec& s, double v)
{
    return std::isfinite(v) && (!s.min || v >= *s.min) && (!s.max || v <= *s.max) && (!s.gt || v > *s.gt)
           && (!s.lt || v < *s.lt);
}

bool is_whole(const Json& v)
{
    return v.is_number_integer()
           || (v.is_number_float() && std::isfinite(v.get<double>()) && std::floor(v.get<double>()) == v.get<double>());
}

// Whether a scalar matches a type; numbers also within the spec's bounds.
bool matches_scalar(ParamType type, const ParamSpec& s, const Json& v)
{
    switch (type) {
    case ParamType::any: return true;
    case ParamType::int_: return is_whole(v) && in_range(s, v.get<double>());
    case ParamType::float_: return v.is_number() && in_range(s, v.get<double>());
    case ParamType::bool_: return v.is_boolean();
    case ParamType::string: return v.is_string();
    case ParamType::enum_:
        return v.is_string() && std::find(s.choices.begin(), s.choices.end(), v.get<std::string>()) != s.choices.end();
    case ParamType::list: return v.is_array();
    case ParamType::map: return v.is_object();
    }
    return false;
}

bool matches(ParamType type, const ParamSpec& s, const Json& v)
{
    if (type == ParamType::list) {
        return v.is_array()
               && std::all_of(v.begin(), v.end(), [&](const Json& e) { return matches_scalar(s.items, s, e); });
    }
    if (type == ParamType::map) {
        return v.is_object()
               && std::all_of(v.begin(), v.end(), [&](const Json& e) { return matches_scalar(s.values, s, e); });
    }
    return matches_scalar(type, s, v);
}

// "a whole number", "numbers", ... for one type (plural for list items).
std::string noun(ParamType type, const ParamSpec& s, bool plural)
{
    switch (type) {
    case ParamType::any: return plural ? "values" : "any value";
    case ParamType::int_: return plural ? "whole numbers" : "a whole number";
    case ParamType::float_: return plural ? "numbers" : "a number";
    case ParamType::bool_: return plural ? "booleans" : "true or false";
    case ParamType::string: return plural ? "strings" : "a string";
    case ParamType::enum_: return (plural ? "names among " : "one of ") + join(s.choices);
    case ParamType::list: return plural ? "lists" : "a list";
    case ParamType::map: return plural ? "mappings" : "a mapping";
    }
    return "?";
}

bool numeric(ParamType t)
{
    return t == ParamType::int_ || t == ParamType::float_;
}

std::string found_text(const Json& v)
{
    std::string text = dump_json(v);
    if (text.size() > 60) {
        text = text.substr(0, 57) + "...";
    }
    return text;
}

bool is_group(const ParamSchema& schema, std::string_view key)
{
    const std::string prefix = std::string(key) + ".";
    return std::any_of(schema.params.begin(), schema.params.end(),
                       [&](const ParamSpec& s) { return s.key.compare(0, prefix.size(), prefix) == 0; });
}

std::vector<std::string> keys_below(const ParamSchema& schema, std::string_view group)
{
    const std::string prefix = group.empty() ? "" : std::string(group) + ".";
    std::vector<std::string> out;
    for (const ParamSpec& s : schema.params) {
        if (s.key.compare(0, prefix.size(), prefix) == 0) {
            out.push_back(s.key);
        }
    }
    return out;
}

void check_value(const ParamSpec& s, const Json& v, const std::string& where)
{
    if (v.is_null() && s.nullable) {
        return;
    }
    for (ParamType t : s.types) {
        if (matches(t, s, v)) {
            return;
        }
    }
    std::string msg = where + "param \"" + s.key + "\": expected " + describe_spec(s) + ", found " + found_text(v);
    const bool choosing = std::find(s.types.begin(), s.types.end(), ParamType::enum_) != s.types.end();
    if (choosing && v.is_string()) {
        const std::string near = nearest(v.get<std::string>(), s.choices);
        if (!near.empty()) {
            msg += " (did you mean " + near + "?)";
        }
    }
    throw UsageError(msg);
}

} // namespace

std::string_view to_string(ParamType type)
{
    for (const TypeName& t : k_type_names) {
        if (t.type == type) {
            return t.name;
        }
    }
    return "?";
}

const ParamSpec* ParamSchema::find(std::string_view key) const
{
    auto it = std::lower_bound(params.begin(), params.end(), key,
                               [](const ParamSpec& s, std::string_view k) { return s.key < k; });
    return it != params.end() && it->key == key ? &*it : nullptr;
}

ParamSchema parse_schema(const Json& schema, const std::string& where)
{
    ParamSchema out;
    if (schema.is_null()) {
        return out;
    }
    if (!schema.is_object()) {
        throw UsageError(where + "\"schema\" must be a mapping of param key to {type, min, max, choices, help}");
    }
    static const std::vector<std::string> fields = {"type",    "min",   "max",    "gt",       "lt",
                                                    "choices", "items", "values", "nullable", "help"};
    for (auto it = schema.begin(); it != schema.end(); ++it) {
        const std::string at = where + "schema \"" + it.key() + "\": ";
        ParamSpec s;
        s.key = it.key();
        Json body = it.value();
        if (body.is_string()) {
            body = Json{{"type", body}}; // shorthand: "model.lr: float"
        }
        if (!body.is_object()) {
            throw UsageError(at + "expected a mapping such as {type: int, min: 1, help: ...}");
        }
        for (auto f = body.begin(); f != body.end(); ++f) {
            if (std::find(fields.begin(), fields.end(), f.key()) == fields.end()) {
                const std::string near = nearest(f.key(), fields);
                throw UsageError(at + "unknown field \"" + f.key() + "\""
                                 + (near.empty() ? "" : " (did you mean " + near + "?)"));
            }
        }
        if (body.contains("type")) {
            const Json& t = body["type"];
            for (const Json& e : t.is_array() ? t : Json::array({t})) {
                s.types.push_back(parse_type(e, at));
            }
        }
        if (body.contains("choices")) {
            const Json& c = body["choices"];
            if (!c.is_array() || c.empty()) {
                throw UsageError(at + "\"choices\" must be a non-empty list of names");
            }
            for (const Json& e : c) {
                if (!e.is_string()) {
                    throw UsageError(at + "\"choices\" must be a non-empty list of names");
                }
                s.choices.push_back(e.get<std::string>());
            }
            if (s.types.empty()) {
                s.types.push_back(ParamType::enum_);
            }
        }
        if (s.types.empty()) {
            throw UsageError(at + "missing \"type\" (one of " + join(type_names()) + ")");
        }
        const bool is_enum = std::find(s.types.begin(), s.types.end(), ParamType::enum_) != s.types.end();
        if (is_enum && s.choices.empty()) {
            throw UsageError(at + "type enum needs \"choices\"");
        }
        for (const char* name : {"items", "values"}) {
            if (body.contains(name)) {
                ParamType& target = std::string(name) == "items" ? s.items : s.values;
                target = parse_type(body[name], at + "\"" + name + "\": ");
                if (target == ParamType::list || target == ParamType::map) {
                    throw UsageError(at + "\"" + name + "\" must be a scalar type");
                }
            }
        }
        for (auto [name, slot] : {std::pair<const char*, std::optional<double>*>{"min", &s.min},
                                  {"max", &s.max},
                                  {"gt", &s.gt},
                                  {"lt", &s.lt}}) {
            if (body.contains(name)) {
                if (!body[name].is_number()) {
                    throw UsageError(at + "\"" + name + "\" must be a number");
                }
                *slot = body[name].get<double>();
            }
        }
        if (body.contains("nullable")) {
            if (!body["nullable"].is_boolean()) {
                throw UsageError(at + "\"nullable\" must be true or false");
            }
            s.nullable = body["nullable"].get<bool>();
        }
        if (body.contains("help")) {
            if (!body["help"].is_string()) {
                throw UsageError(at + "\"help\" must be a string");
            }
            s.help = body["help"].get<std::string>();
        }
        out.params.push_back(std::move(s));
    }
    std::sort(out.params.begin(), out.params.end(),
              [](const ParamSpec& a, const ParamSpec& b) { return a.key < b.key; });
    for (const ParamSpec& s : out.params) {
        if (is_group(out, s.key)) {
            throw UsageError(where + "schema \"" + s.key + "\": declared as a value and as a group of "
                             + keys_below(out, s.key).front());
        }
    }
    return out;
}

std::string describe_spec(const ParamSpec& s)
{
    std::string out;
    for (ParamType t : s.types) {
        std::string one = noun(t, s, false);
        if (t == ParamType::list && s.items != ParamType::any) {
            one += " of " + noun(s.items, s, true) + (numeric(s.items) ? range_text(s) : "");
        } else if (t == ParamType::map && s.values != ParamType::any) {
            one += " of " + noun(s.values, s, true);
        } else if (numeric(t) && has_range(s)) {
            one += range_text(s);
        }
        out += (out.empty() ? "" : " or ") + one;
    }
    if (s.nullable) {
        out += " or null";
    }
    return out;
}

void check_param(const ParamSchema& schema, std::string_view key, const Json& value, const std::string& where)
{
    if (schema.empty()) {
        return;
    }
    if (const ParamSpec* s = schema.find(key)) {
        check_value(*s, value, where);
        return;
    }
    if (is_group(schema, key)) {
        const std::vector<std::string> below = keys_below(schema, key);
        if (!value.is_object()) {
            throw UsageError(where + "param \"" + std::string(key) + "\": expected a mapping (of " + join(below)
                             + "), found " + found_text(value));
        }
        for (auto it = value.begin(); it != value.end(); ++it) {
            check_param(schema, std::string(key) + "." + it.key(), it.value(), where);
        }
        return;
    }
    // Walk up: the first declared ancestor decides (a map's keys are free; a group's are
    // its declared keys only).
    std::string_view prefix = key;
    for (size_t dot = prefix.rfind('.'); dot != std::string_view::npos; dot = prefix.rfind('.')) {
        prefix = prefix.substr(0, dot);
        if (const ParamSpec* s = schema.find(prefix)) {
            const bool direct_child = key.substr(prefix.size() + 1).find('.') == std::string_view::npos;
            if (s->values != ParamType::any && direct_child && !matches_scalar(s->values, *s, value)) {
                throw UsageError(where + "param \"" + std::string(key) + "\": expected " + noun(s->values, *s, false)
                                 + ", found " + found_text(value));
            }
            const bool open = std::any_of(s->types.begin(), s->types.end(),
                                          [](ParamType t) { return t == ParamType::map || t == ParamType::any; });
            if (!open) {
                throw UsageError(where + "param \"" + std::string(key) + "\": \"" + s->key + "\" is "
                                 + describe_spec(*s) + ", not a group of params");
            }
            return; // keys below a map are free
        }
        if (is_group(schema, prefix)) {
            const std::vector<std::string> known = keys_below(schema, prefix);
            const std::string near = nearest(key, known);
            throw UsageError(where + "unknown param \"" + std::string(key) + "\""
                             + (near.empty() ? "; known: " + join(known) : " (did you mean " + near + "?)"));
        }
    }
    // A top-level key the schema does not name: the editable allow-list decides.
}

void check_params(const ParamSchema& schema, const Json& params, const std::string& where)
{
    if (schema.empty() || !params.is_object()) {
        return;
    }
    for (auto it = params.begin(); it != params.end(); ++it) {
        check_param(schema, it.key(), it.value(), where);
    }
}

Json schema_to_json(const ParamSchema& schema, const Json& params)
{
    Json out = Json::array();
    for (const ParamSpec& s : schema.params) {
        Json j = Json::object();
        j["key"] = s.key;
        Json types = Json::array();
        for (ParamType t : s.types) {
            types.push_back(std::string(to_string(t)));
        }
        j["type"] = types.size() == 1 ? types[0] : types;
        for (auto [name, slot] : {std::pair<const char*, const std::optional<double>*>{"min", &s.min},
                                  {"max", &s.max},
                                  {"gt", &s.gt},
                                  {"lt", &s.lt}}) {
            if (*slot) {
                j[name] = **slot;
            }
        }
        if (!s.choices.empty()) {
            j["choices"] = s.choices;
        }
        if (s.items != ParamType::any) {
            j["items"] = std::string(to_string(s.items));
        }
        if (s.values != ParamType::any) {
            j["values"] = std::string(to_string(s.values));
        }
        if (s.nullable) {
            j["nullable"] = true;
        }
        if (const Json* d = get_path(params, s.key)) {
            j["default"] = *d;
        }
        j["expected"] = describe_spec(s);
        j["help"] = s.help;
        out.push_back(std::move(j));
    }
    return out;
}

} // namespace mlrun
