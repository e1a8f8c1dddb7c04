#pragma once
// Private to src/ml/models: the per-library model factories and helpers shared by them.
// No torch, OpenCV or XGBoost types here.
#include "ml/models/model.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace mlrun::ml::detail {

const std::vector<std::string>& torch_kinds();
const std::vector<std::string>& cv_kinds();
const std::vector<std::string>& xgb_kinds();

std::unique_ptr<Model> make_torch_model(const std::string& kind, const nlohmann::json& params, int n_features,
                                        int n_classes, const ImageShape& shape);
std::unique_ptr<Model> make_xgb_model(const std::string& kind, const nlohmann::json& params, int n_features,
                                      int n_classes, const ImageShape& shape);
std::unique_ptr<Model> make_cv_model(const std::string& kind, const nlohmann::json& params, int n_features,
                                     int n_classes, const ImageShape& shape);

// Typed param readers: the default when absent, UsageError "model.<key>: expected ..." when
// the value has the wrong type or is out of range.
double param_double(const nlohmann::json& params, const std::string& key, double fallback, double min_value,
                    double max_value);
int param_int(const nlohmann::json& params, const std::string& key, int fallback, int min_value, int max_value);
std::string param_string(const nlohmann::json& params, const std::string& key, const std::string& fallback,
                         const std::vector<std::string>& allowed);
std::vector<int> param_int_list(const nlohmann::json& params, const std::string& key, const std::vector<int>& fallback,
                                int min_value);

} // namespace mlrun::ml::detail
