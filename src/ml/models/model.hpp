#pragma once
// The model interface shared by training, search and inference. Implementations:
// libtorch (logreg, mlp, cnn), OpenCV ml (random_forest, boost, svm, knn) and XGBoost
// (xgboost).
// No torch or OpenCV types in this header.
#include "ml/matrix.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mlrun::ml {

struct EpochReport {
    int epoch = 0;  // 1-based
    int epochs = 0; // planned
    double train_loss = 0;
    double valid_loss = 0;
    double valid_metric = 0; // the primary metric on the validation split
};

struct FitOptions {
    std::uint64_t seed = 0;
    int threads = 1;                                  // intra-op threads for this model
    std::string metric = "roc_auc";                   // validation metric for early stopping
    std::function<void(const EpochReport&)> on_epoch; // may be empty
    const std::atomic<bool>* cancel = nullptr;        // checked between epochs
};

class Model {
public:
    virtual ~Model() = default;
    virtual std::string kind() const = 0;
    // Trains on `train`; `valid` drives early stopping and the epoch reports.
    // Deterministic for a given seed whatever else runs in the process (no global RNG).
    virtual void fit(const LabeledSet& train, const LabeledSet& valid, const FitOptions& options) = 0;
    // rows x n_classes probabilities.
    virtual Matrix predict_proba(const Matrix& x) const = 0;
    // Writes weights into dir (model.json is written by save_model).
    virtual void save_weights(const std::filesystem::path& dir) const = 0;
    virtual void load_weights(const std::filesystem::path& dir) = 0;
    // Params as used (defaults filled in), for the model card.
    virtual nlohmann::json params() const = 0;
    // Feature importances of a trained model by type ("gain", ...), each one value per
    // feature column in input order; empty when the kind has none (the default).
    virtual std::map<std::string, std::vector<double>> feature_importance() const { return {}; }
};

// model.kind + model params ("lr", "epochs", "hidden", ...). Throws UsageError for an
// unknown kind (naming the known ones) or a bad param.
std::unique_ptr<Model> make_model(const std::string& kind, const nlohmann::json& params, int n_features, int n_classes,
                                  const ImageShape& shape);
const std::vector<std::string>& model_kinds();

// Writes weights + model.json (kind, params, input schema, class names, metrics, sha256
// of the weights) into dir.
void save_model(const Model& model, const std::filesystem::path& dir, const LabeledSet& schema,
                const nlohmann::json& metrics);
// Loads a saved model from its folder without any training code path.
std::unique_ptr<Model> load_model(const std::filesystem::path& dir, nlohmann::json* card = nullptr);

} // namespace mlrun::ml
