#include "core/kind_names.hpp"

#include <algorithm>

namespace mlrun {

const std::vector<std::string>& known_kinds()
{
    static const std::vector<std::string> all{"preprocess", "train_model", "summary", "inference", "exec", "noop"};
    return all;
}

bool is_plugin_kind(const std::string& kind)
{
    static const std::vector<std::string> plugin{"preprocess", "train_model", "summary", "inference"};
    return std::find(plugin.begin(), plugin.end(), kind) != plugin.end();
}

} // namespace mlrun
