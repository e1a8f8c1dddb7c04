#pragma once
// K-fold stratified cross-validation on train + valid (split.cv: K). Folds follow
// scikit-learn 1.2's StratifiedKFold(n_splits=K, shuffle=False) on the rows in their order
// (train rows, then valid rows, both already shuffled by the seeded split). Fold k is scored
// by a model trained on the other folds except fold (k+1) mod K, which is that model's
// validation split (early stopping, calibration): K models, each on (K-2)/K of the rows.
#include "ml/matrix.hpp"
#include "ml/models/model.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace mlrun::ml {

// The fold (0..k-1) of each row, StratifiedKFold's test folds. Throws UsageError for k < 3
// or a class with fewer than k rows (each fold must hold every class).
std::vector<int> stratified_kfold(const std::vector<int>& y, int k);

// The rows of `set` at `rows`, in that order (labels and ids too).
LabeledSet subset_rows(const LabeledSet& set, const std::vector<std::size_t>& rows);
// `a` then `b` (same columns and classes).
LabeledSet concat_rows(const LabeledSet& a, const LabeledSet& b);

struct CvOptions {
    int k = 5;
    std::string kind;            // model kind
    nlohmann::json model_params; // model params as used by the final model
    std::string calibration;     // none, sigmoid or isotonic (fitted on each fold's validation fold)
    FitOptions fit;              // seed, threads, metric (on_epoch is not called)
};

struct CvResult {
    int k = 0;
    std::string metric;
    std::vector<int> fold_of_row;             // over concat_rows(train, valid)
    Matrix proba;                             // each row's out-of-fold probabilities
    std::vector<double> values;               // the metric of each fold
    std::vector<nlohmann::json> fold_metrics; // all_metrics of each fold (no confusion matrix)
    double mean = 0;
    double std = 0; // population standard deviation (ddof 0, numpy's default)
    // {"k", "metric", "mean", "std", "folds": [{"fold", "rows", "valid_fold", "metrics"}]}
    nlohmann::json to_json() const;
};

// Runs the K fits. Throws UsageError for a bad k (above); rethrows a fit's error.
CvResult cross_validate(const LabeledSet& train, const LabeledSet& valid, const CvOptions& options);

} // namespace mlrun::ml
