#pragma once
// The summary's charts, drawn with cairo and written as PNG files (atomically: a temp
// name, then a rename). Also the reader of predictions_test.csv that feeds them.
#include "ml/matrix.hpp"
#include "ml/metrics.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mlrun::ml {

// A predictions CSV as train_model writes it: id,label,predicted,prob_<class>...
struct Predictions {
    std::vector<std::string> ids;
    std::vector<std::string> class_names; // from the prob_ columns, in column order
    std::vector<int> label;               // class index, -1 where the label is empty
    std::vector<int> predicted;           // class index
    Matrix proba;                         // rows x classes
    bool has_labels() const;
};

// Throws UsageError naming the file (and line, column) for a malformed file: a missing
// column, a bad probability, a label that is neither a class name nor a class index.
Predictions read_predictions_csv(const std::filesystem::path& path);

// One curve of the ROC chart.
struct RocSeries {
    std::string label;
    std::vector<double> fpr;
    std::vector<double> tpr;
    double auc = 0;
};

// The ROC curve of one model's predictions. Binary: the positive class is the last prob_
// column. Multi-class: the one-vs-rest micro average (every row x class pair as one binary
// decision). Nothing when rows lack labels or only one class is present.
std::optional<RocSeries> roc_series(const std::string& label, const Predictions& predictions);

// Horizontal bars of the primary metric per model, best on top, the recommended model
// highlighted. leaderboard: the content of leaderboard.json.
void plot_leaderboard_bars(const nlohmann::json& leaderboard, const std::filesystem::path& png);

// All curves on one chart with the chance diagonal and a legend; note (may be empty) is
// printed under the title (e.g. "multi-class: one-vs-rest micro average").
void plot_roc_curves(const std::vector<RocSeries>& series, const std::string& note, const std::filesystem::path& png);

// One model's reliability diagram: its top-label calibration bins (ml/metrics.hpp) and ECE.
struct ReliabilitySeries {
    std::string label;
    std::vector<ReliabilityBin> bins;
    double ece = 0;
};
// Reliability diagram: per model, the fraction predicted right against the mean confidence
// of each non-empty bin (markers sized by the bin's rows, joined by a line), the diagonal of
// perfect calibration, and a legend with each model's ECE.
void plot_reliability(const std::vector<ReliabilitySeries>& series, const std::filesystem::path& png);

// A heat map of counts[true][predicted] with the counts in the cells and class names on
// both axes.
void plot_confusion_matrix(const std::vector<std::vector<long>>& counts, const std::vector<std::string>& class_names,
                           const std::string& title, const std::filesystem::path& png);

} // namespace mlrun::ml
