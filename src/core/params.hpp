#pragma once
// Nested task params addressed by dotted keys ("model.lr"), and typed --set overrides.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlrun {

using Json = nlohmann::json;
struct ParamSchema;

// JSON text that never throws: invalid UTF-8 in strings becomes U+FFFD.
std::string dump_json(const Json& value, int indent = -1);
// Throws UsageError "<what>: not valid UTF-8 (byte N)" (N 1-based, the first bad byte) for
// text we would store in a JSON record: overlong forms, surrogates and code points above
// U+10FFFF are refused too (simdjson::validate_utf8).
void check_utf8(std::string_view text, std::string_view what);
// The text with each invalid UTF-8 byte replaced by U+FFFD (for logs of any bytes).
std::string valid_utf8(std::string_view text);

// A copy for display with the values of secret-looking keys (token, secret, password,
// passwd, api_key, apikey, credential; any case, any depth) replaced by "***".
Json redact_secrets(const Json& params);

// Parses the value half of --set: int, float, bool, null, JSON list/object, else a string.
// "1" -> 1, "0.5" -> 0.5, "true" -> true, "[1,2]" -> [1,2], "abc" -> "abc", "'1'" -> "1".
Json parse_value(std::string_view text);

// Splits "key=value"; throws UsageError for a missing '=' or an empty or malformed key.
std::pair<std::string, Json> parse_assignment(std::string_view text);

// Dotted-key access into nested objects. get_path returns nullptr when absent.
const Json* get_path(const Json& params, std::string_view key);
// Creates intermediate objects; throws UsageError when a prefix is a non-object value.
void set_path(Json& params, std::string_view key, Json value);

// {"a":{"b":1}} -> {"a.b":1}. Lists and empty objects are leaves.
Json flatten(const Json& params);
// Merges a flat or nested object of overrides into params (objects merge, leaves replace).
void merge_params(Json& params, const Json& overrides);

// True when key is in the allow-list or below an entry of it ("model" allows "model.lr").
bool is_editable(std::string_view key, const std::vector<std::string>& editable);
// Applies --set assignments. With an allow-list, a key outside it throws UsageError naming
// the allowed keys (and the nearest one); with a schema, each value is checked against it
// first (check_param: type, range, choices, undeclared keys). Nothing is changed on error.
void apply_sets(Json& params, const std::vector<std::string>& sets, const std::vector<std::string>* editable = nullptr,
                const ParamSchema* schema = nullptr);

} // namespace mlrun
