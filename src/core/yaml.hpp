#pragma once
// Files people write (templates, pipelines) are YAML; we turn them into JSON values.
// Plain scalars are typed like --set values (int, float, bool, null); quoted ones stay strings.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace mlrun {

// Throws UsageError "FILE:LINE:COL: what" for a syntax error or an unreadable file.
nlohmann::json load_yaml_file(const std::filesystem::path& path);
nlohmann::json parse_yaml(const std::string& text, const std::string& origin);

} // namespace mlrun
