#include "core/params.hpp"

#include "core/error.hpp"
#include "core/param_schema.hpp"
#include "core/util.hpp"
#include "core/yaml.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cctype>

namespace mlrun {

namespace {

bool valid_key(std::string_view key)
{
    if (key.empty() || key.front() == '.' || key.back() == '.' || key.find("..") != std::string_view::npos) {
        return false;
    }
    for (char c : key) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' || c == ':')) {
            return false;
        }
    }
    return true;
}

std::vector<std::string> split_key(std::string_view key)
{
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        size_t dot = key.find('.', start);
        parts.emplace_back(key.substr(start, dot - start));
        if (dot == std::string_view::npos) {
            break;
        }
        start = dot + 1;
    }
    return parts;
}

} // namespace

std::string dump_json(const Json& value, int indent)
{
    return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

namespace {
// Length of the well-formed UTF-8 sequence at text[i], or 0 when it is not one. Well-formed
// as in Unicode Table 3-7: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
// above U+10FFFF; the same rules as simdjson::validate_utf8.
size_t utf8_sequence(std::string_view text, size_t i)
{
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
        return 1;
    }
    size_t len = 0;
    unsigned char lo = 0x80; // the range of the second byte; later ones are 80..BF
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80; // E0 80..9F would be overlong
        hi = c == 0xED ? 0x9F : 0xBF; // ED A0..BF would be a surrogate
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80; // F0 80..8F would be overlong
        hi = c == 0xF4 ? 0x8F : 0xBF; // F4 90.. would be above U+10FFFF
    } else {
        return 0; // a continuation byte, C0/C1 (overlong) or F5..FF
    }
    if (i + len > text.size()) {
        return 0;
    }
    const unsigned char second = static_cast<unsigned char>(text[i + 1]);
    if (second < lo || second > hi) {
        return 0;
    }
    for (size_t k = 2; k < len; ++k) {
        if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) {
            return 0;
        }
    }
    return len;
}
} // namespace

void check_utf8(std::string_view text, std::string_view what)
{
    // simdjson validates a whole record at SIMD speed; only a failure walks the bytes to
    // name the first bad one.
    if (simdjson::validate_utf8(text.data(), text.size())) {
        return;
    }
    for (size_t i = 0; i < text.size();) {
        size_t len = utf8_sequence(text, i);
        if (len == 0) {
            throw UsageError(std::string(what) + ": not valid UTF-8 (byte " + std::to_string(i + 1) + ")");
        }
        i += len;
    }
    throw UsageError(std::string(what) + ": not valid UTF-8");
}

std::string valid_utf8(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        size_t len = utf8_sequence(text, i);
        if (len == 0) {
            out += "\xEF\xBF\xBD"; // U+FFFD
            ++i;
        } else {
            out.append(text.substr(i, len));
            i += len;
        }
    }
    return out;
}

Json redact_secrets(const Json& params)
{
    if (params.is_array()) {
        Json out = Json::array();
        for (const Json& v : params) {
            out.push_back(redact_secrets(v));
        }
        return out;
    }
    if (!params.is_object()) {
        return params;
    }
    Json out = Json::object();
    for (auto it = params.begin(); it != params.end(); ++it) {
        std::string key;
        for (char c : it.key()) {
            key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        bool secret = false;
        for (const char* word : {"token", "secret", "password", "passwd", "api_key", "apikey", "credential"}) {
            secret = secret || key.find(word) != std::string::npos;
        }
        out[it.key()] = secret && !it.value().is_object() ? Json("***") : redact_secrets(it.value());
    }
    return out;
}

Json parse_value(std::string_view text)
{
    check_utf8(text, "value \"" + std::string(text.substr(0, 40)) + "\"");
    if (text.size() >= 2
        && ((text.front() == '\'' && text.back() == '\'') || (text.front() == '"' && text.back() == '"'))) {
        return std::string(text.substr(1, text.size() - 2));
    }
    if (text == "true" || text == "false" || text == "null") {
        return Json::parse(text);
    }
    if (!text.empty() && (text.front() == '[' || text.front() == '{')) {
        Json parsed = Json::parse(text, nullptr, false);
        if (parsed.is_discarded()) {
            // YAML flow style too: [boat, body] and {lr: 0.1} without quotes.
            try {
                return parse_yaml(std::string(text), "value");
            } catch (const UsageError&) {
                throw UsageError("invalid list or mapping \"" + std::string(text) + "\" (JSON or YAML flow style)");
            }
        }
        return parsed;
    }
    if (!text.empty()) {
        // A number only when the whole text is one (so "1e3x" or "0x10" stay strings).
        Json parsed = Json::parse(text, nullptr, false);
        if (!parsed.is_discarded() && parsed.is_number()) {
            return parsed;
        }
    }
    return std::string(text);
}

std::pair<std::string, Json> parse_assignment(std::string_view text)
{
    size_t eq = text.find('=');
    if (eq == std::string_view::npos) {
        throw UsageError("--set \"" + std::string(text) + "\": expected key=value");
    }
    std::string key(text.substr(0, eq));
    if (!valid_key(key)) {
        throw UsageError("--set \"" + std::string(text) + "\": invalid key \"" + key
                         + "\" (letters, digits, _ - : separated by dots)");
    }
    return {key, parse_value(text.substr(eq + 1))};
}

const Json* get_path(const Json& params, std::string_view key)
{
    const Json* node = &params;
    for (const std::string& part : split_key(key)) {
        if (!node->is_object()) {
            return nullptr;
        }
        auto it = node->find(part);
        if (it == node->end()) {
            return nullptr;
        }
        node = &*it;
    }
    return node;
}

void set_path(Json& params, std::string_view key, Json value)
{
    if (!valid_key(key)) {
        throw UsageError("invalid param key \"" + std::string(key) + "\"");
    }
    if (params.is_null()) {
        params = Json::object();
    }
    Json* node = &params;
    std::vector<std::string> parts = split_key(key);
    std::string walked;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
        walked += (i ? "." : "") + parts[i];
        Json& child = (*node)[parts[i]];
        if (child.is_null()) {
            child = Json::object();
        } else if (!child.is_object()) {
            throw UsageError("cannot set \"" + std::string(key) + "\": \"" + walked + "\" is a value, not a group");
        }
        node = &child;
    }
    (*node)[parts.back()] = std::move(value);
}

namespace {
void flatten_into(const Json& node, const std::string& prefix, Json& out)
{
    if (node.is_object() && !node.empty()) {
        for (auto it = node.begin(); it != node.end(); ++it) {
            flatten_into(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
        }
    } else if (!prefix.empty()) {
        out[prefix] = node;
    }
}
} // namespace

Json flatten(const Json& params)
{
    Json out = Json::object();
    flatten_into(params, "", out);
    return out;
}

void merge_params(Json& params, const Json& overrides)
{
    if (!overrides.is_object()) {
        return;
    }
    const Json flat = flatten(overrides);
    for (auto& [key, value] : flat.items()) {
        set_path(params, key, value);
    }
}

bool is_editable(std::string_view key, const std::vector<std::string>& editable)
{
    for (const std::string& allowed : editable) {
        if (allowed == "*" || key == allowed
            || (key.size() > allowed.size() && key.substr(0, allowed.size()) == allowed
                && key[allowed.size()] == '.')) {
            return true;
        }
    }
    return false;
}

void apply_sets(Json& params, const std::vector<std::string>& sets, const std::vector<std::string>* editable,
                const ParamSchema* schema)
{
    Json out = params; // all or nothing: a bad third --set leaves the first two unapplied
    for (const std::string& set : sets) {
        auto [key, value] = parse_assignment(set);
        if (editable && !is_editable(key, *editable)) {
            std::string allowed;
            for (const std::string& a : *editable) {
                allowed += (allowed.empty() ? "" : ", ") + a;
            }
            std::vector<std::string> candidates = *editable;
            if (schema) {
                for (const ParamSpec& s : schema->params) {
                    candidates.push_back(s.key);
                }
            }
            const std::string near = nearest(key, candidates);
            throw UsageError("param \"" + key + "\" is not editable"
                             + (near.empty() ? "" : " (did you mean " + near + "?)")
                             + " (editable: " + (allowed.empty() ? "none" : allowed) + ")");
        }
        if (schema) {
            // Typed by the schema: "command=true" or "model_name=123" for a string param is that
            // text, not a bool or a number the param would refuse.
            const ParamSpec* spec = schema->find(key);
            const bool wants_text = spec && std::any_of(spec->types.begin(), spec->types.end(), [](ParamType t) {
                                        return t == ParamType::string || t == ParamType::enum_;
                                    });
            if (wants_text && !value.is_string() && !value.is_array() && !value.is_object()) {
                try {
                    check_param(*schema, key, value, "");
                } catch (const UsageError&) {
                    value = std::string(set.substr(set.find('=') + 1));
                }
            }
            check_param(*schema, key, value, "");
        }
        set_path(out, key, std::move(value));
    }
    params = std::move(out);
}

} // namespace mlrun
