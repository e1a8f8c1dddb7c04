#pragma once
// Probability calibration fitted on the validation split, the way scikit-learn 1.2's
// CalibratedClassifierCV(cv='prefit') does it: one calibrator per class column
// (binary: the positive column only, the other is 1 - p; multi-class: each column one
// versus the rest, then the rows renormalised). sigmoid = Platt scaling with Platt's
// target smoothing; isotonic = pool-adjacent-violators with linear interpolation between
// the fitted points, clipped outside them (IsotonicRegression(out_of_bounds='clip')).
// Golden values in tests/ml/calibration_test.cpp come from scripts/calibration_reference.py.
#include "ml/matrix.hpp"
#include "ml/models/model.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace mlrun::ml {

// Platt scaling of one score: p = 1 / (1 + exp(a * f + b)).
struct SigmoidCalibrator {
    double a = 0;
    double b = 0;
    double predict(double f) const;
};

// A non-decreasing step-wise linear map: points (x[i], y[i]) with x increasing.
struct IsotonicCalibrator {
    std::vector<double> x;
    std::vector<double> y;
    double predict(double f) const; // linear between points, clipped to [x.front(), x.back()]
};

// Fits Platt's sigmoid to scores f and 0/1 targets (Newton's method on the convex
// negative log likelihood; the same optimum scikit-learn's solver approaches).
// Throws std::invalid_argument when the lengths differ or there are no rows.
SigmoidCalibrator fit_sigmoid(const std::vector<double>& f, const std::vector<int>& target);
// Fits the isotonic (non-decreasing) regression of targets on f. Equal scores are pooled
// first. Throws std::invalid_argument when the lengths differ or there are no rows.
IsotonicCalibrator fit_isotonic(const std::vector<double>& f, const std::vector<double>& target);

// The calibration methods: "none", "sigmoid", "isotonic".
const std::vector<std::string>& calibration_methods();
// The default for a model kind: "sigmoid" for the vote-based kinds (random_forest, boost,
// knn) whose near-0/1 votes are overconfident, "none" for the others (their losses already
// fit probabilities).
std::string default_calibration(const std::string& kind);

// A fitted calibration of every class column of a classifier's probabilities.
class Calibration {
public:
    // Fits `method` (sigmoid or isotonic) on probabilities `proba` (rows x classes) and their
    // labels. Throws UsageError when there are no labelled rows or the method is unknown.
    static Calibration fit(const std::string& method, const Matrix& proba, const std::vector<int>& y);
    // {"method", "n_classes", "columns": [{"class", "a", "b"} | {"class", "x", "y"}]}
    nlohmann::json to_json() const;
    // Throws UsageError naming `where` for a malformed document.
    static Calibration from_json(const nlohmann::json& j, const std::string& where);

    const std::string& method() const { return m_method; }
    // Calibrated probabilities, rows x classes; rows sum to 1 (a row whose calibrated
    // columns are all 0 becomes uniform, as scikit-learn does).
    Matrix apply(const Matrix& proba) const;

private:
    std::string m_method;
    int m_n_classes = 0;
    std::vector<int> m_columns; // the class column each calibrator maps
    std::vector<SigmoidCalibrator> m_sigmoid;
    std::vector<IsotonicCalibrator> m_isotonic;
};

// The file a calibrated model folder keeps its calibration in (listed in model.json's files).
constexpr const char* k_calibration_file = "calibration.json";

// A model whose probabilities go through a Calibration. kind(), params() and
// feature_importance() are the inner model's; save_weights also writes calibration.json.
// fit() throws std::logic_error: the inner model is fitted before it is wrapped.
std::unique_ptr<Model> calibrated(std::unique_ptr<Model> inner, Calibration calibration);
// load_model's hook: wraps `model` when `dir` holds calibration.json, else returns it as is.
// Throws UsageError for a malformed calibration.json.
std::unique_ptr<Model> with_saved_calibration(std::unique_ptr<Model> model, const std::filesystem::path& dir);

} // namespace mlrun::ml
