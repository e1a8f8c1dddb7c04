#include "core/yaml.hpp"

#include "core/error.hpp"
#include "core/params.hpp"
#include "core/util.hpp"

#include <yaml-cpp/yaml.h>

namespace mlrun {

namespace {

Json to_json(const YAML::Node& node)
{
    switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar: {
        const std::string& s = node.Scalar();
        if (node.Tag() == "!") { // quoted
            return s;
        }
        if (s == "~" || s == "null" || s == "Null" || s == "NULL") {
            return nullptr;
        }
        if (s == "True" || s == "TRUE" || s == "yes") {
            return true;
        }
        if (s == "False" || s == "FALSE" || s == "no") {
            return false;
        }
        return parse_value(s);
    }
    case YAML::NodeType::Sequence: {
        Json arr = Json::array();
        for (const YAML::Node& item : node) {
            arr.push_back(to_json(item));
        }
        return arr;
    }
    case YAML::NodeType::Map: {
        Json obj = Json::object();
        for (const auto& kv : node) {
            obj[kv.first.as<std::string>()] = to_json(kv.second);
        }
        return obj;
    }
    }
    return nullptr;
}

} // namespace

Json parse_yaml(const std::string& text, const std::string& origin)
{
    check_utf8(text, origin);
    try {
        return to_json(YAML::Load(text));
    } catch (const YAML::Exception& e) {
        throw UsageError(origin + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": "
                         + e.msg);
    }
}

Json load_yaml_file(const std::filesystem::path& path)
{
    return parse_yaml(read_file(path), path.string());
}

} // namespace mlrun
