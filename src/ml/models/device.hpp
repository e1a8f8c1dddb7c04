#pragma once
// model.device of the ML kinds: where a model runs. No torch types here.
#include <nlohmann/json.hpp>

#include <string>

namespace mlrun::ml {

// Where a model of `kind` runs, from model.device ("auto" when absent, "cpu" or "cuda"):
// CUDA when asked for (cuda) or allowed (auto) and the linked libtorch has it with a
// device visible; else CPU, with `why` saying why when auto fell back. Only the libtorch
// kinds use CUDA. UsageError for another value, and for "cuda" where there is none.
struct DeviceChoice {
    bool cuda = false;
    std::string why; // auto on CPU: the reason (one log line)
};
DeviceChoice choose_device(const std::string& kind, const nlohmann::json& model_params);

} // namespace mlrun::ml
