#pragma once
// Classification metrics, equal to scikit-learn's on the same inputs (golden tests in
// tests/ml/metrics_test.cpp). proba is rows x n_classes; for binary tasks column 1 is the
// positive class. Multi-class precision/recall/F1/ROC AUC/PR AUC are macro averages
// (ROC AUC one-vs-rest).
#include "ml/matrix.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace mlrun::ml {

// The class order of a target with the chosen positive class at index 1, the column the
// binary metrics score (the other class keeps index 0). An empty `positive` keeps `classes`
// as given (sorted: the later name is positive). Throws UsageError, prefixed by `where`, when
// `positive` is not one of the classes (with a did-you-mean) or the target is not binary.
std::vector<std::string> with_positive_class(const std::vector<std::string>& classes, const std::string& positive,
                                             const std::string& where = "params.data.positive_class");

double accuracy(const std::vector<int>& y_true, const std::vector<int>& y_pred);
double precision(const std::vector<int>& y_true, const std::vector<int>& y_pred, int n_classes);
double recall(const std::vector<int>& y_true, const std::vector<int>& y_pred, int n_classes);
double f1(const std::vector<int>& y_true, const std::vector<int>& y_pred, int n_classes);
// Binary: scores of the positive class. Ties are handled like the trapezoid rule.
double roc_auc_binary(const std::vector<int>& y_true, const std::vector<double>& score);
// Average precision (sklearn average_precision_score).
double average_precision_binary(const std::vector<int>& y_true, const std::vector<double>& score);
double roc_auc(const std::vector<int>& y_true, const Matrix& proba);
double pr_auc(const std::vector<int>& y_true, const Matrix& proba);
double log_loss(const std::vector<int>& y_true, const Matrix& proba);
std::vector<std::vector<long>> confusion_matrix(const std::vector<int>& y_true, const std::vector<int>& y_pred,
                                                int n_classes);
std::vector<int> argmax_rows(const Matrix& proba);
// ROC curve points (fpr, tpr) of a binary score, for plots.
void roc_curve(const std::vector<int>& y_true, const std::vector<double>& score, std::vector<double>& fpr,
               std::vector<double>& tpr);

// One bin of a reliability diagram: rows whose top-label confidence (the largest class
// probability) falls in [lo, hi) (the last bin includes 1), their mean confidence and the
// fraction of them predicted right (NaN for both when the bin is empty).
struct ReliabilityBin {
    double lo = 0;
    double hi = 0;
    long count = 0;
    double confidence = 0;
    double accuracy = 0;
};
// The k_calibration_bins equal-width bins of [0, 1] over the top-label confidence.
constexpr int k_calibration_bins = 10;
std::vector<ReliabilityBin> reliability_bins(const std::vector<int>& y_true, const Matrix& proba,
                                             int bins = k_calibration_bins);
// Expected calibration error (Guo et al. 2017, top-label): sum over the bins of
// reliability_bins of count/N * |accuracy - confidence|; 0 = calibrated, NaN for no rows.
double expected_calibration_error(const std::vector<int>& y_true, const Matrix& proba, int bins = k_calibration_bins);

// All of the above as one JSON object: accuracy, precision, recall, f1, roc_auc, pr_auc,
// log_loss, confusion_matrix, rows (the gate metrics; train_model adds ece beside them). NaN metrics (one class
// present) are written as null.
nlohmann::json all_metrics(const std::vector<int>& y_true, const Matrix& proba);

// Which metrics are better when lower (log_loss).
bool lower_is_better(const std::string& metric);
// candidate beats best (NaN never wins; anything beats a NaN best).
bool is_better(double candidate, double best, bool lower);

} // namespace mlrun::ml
