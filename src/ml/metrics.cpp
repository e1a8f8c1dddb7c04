// Classification metrics written to match scikit-learn 1.2 step by step (the golden
// values in tests/ml/metrics_test.cpp come from scripts/golden_metrics.py).
#include "ml/metrics.hpp"

#include "core/error.hpp"
#include "core/util.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <stdexcept>

namespace mlrun::ml {

namespace {

constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();

void check_lengths(size_t a, size_t b, const char* what)
{
    if (a != b) {
        throw std::invalid_argument(std::string(what) + ": y_true has " + std::to_string(a)
                                    + " rows but the predictions have " + std::to_string(b));
    }
}

// sklearn's _binary_clf_curve: cumulative false/true positives at each distinct score,
// scores taken in decreasing order.
struct ClfCurve {
    std::vector<double> fps;
    std::vector<double> tps;
    std::vector<double> thresholds;
};

ClfCurve binary_clf_curve(const std::vector<int>& y_true, const std::vector<double>& score)
{
    check_lengths(y_true.size(), score.size(), "binary curve");
    std::vector<size_t> order(score.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
    ClfCurve curve;
    double tp = 0;
    double fp = 0;
    for (size_t k = 0; k < order.size(); ++k) {
        const size_t i = order[k];
        if (y_true[i] == 1) {
            tp += 1;
        } else {
            fp += 1;
        }
        // Close a group at the last index of each distinct score.
        if (k + 1 == order.size() || score[order[k + 1]] != score[i]) {
            curve.tps.push_back(tp);
            curve.fps.push_back(fp);
            curve.thresholds.push_back(score[i]);
        }
    }
    return curve;
}

// The labels that occur in y_true or y_pred, sorted (sklearn's unique_labels).
std::vector<int> present_labels(const std::vector<int>& y_true, const std::vector<int>& y_pred)
{
    std::set<int> labels(y_true.begin(), y_true.end());
    labels.insert(y_pred.begin(), y_pred.end());
    return {labels.begin(), labels.end()};
}

struct PerClass {
    std::vector<double> precision;
    std::vector<double> recall;
    std::vector<double> f1;
};

// Precision/recall/F1 per label with zero_division=0. Binary tasks (n_classes == 2)
// report only the positive class 1, like sklearn's average="binary"; otherwise the labels
// present in y_true or y_pred, like average="macro" without an explicit labels list.
PerClass per_class_scores(const std::vector<int>& y_true, const std::vector<int>& y_pred, int n_classes)
{
    check_lengths(y_true.size(), y_pred.size(), "precision/recall");
    std::vector<int> labels = n_classes == 2 ? std::vector<int>{1} : present_labels(y_true, y_pred);
    PerClass out;
    for (int label : labels) {
        double tp = 0;
        double pred = 0;
        double actual = 0;
        for (size_t i = 0; i < y_true.size(); ++i) {
            const bool t = y_true[i] == label;
            const bool p = y_pred[i] == label;
            tp += (t && p) ? 1 : 0;
            pred += p ? 1 : 0;
            actual += t ? 1 : 0;
        }
        const double prec = pred > 0 ? tp / pred : 0.0;
        const double rec = actual > 0 ? tp / actual : 0.0;
        double denom = prec + rec;
        if (denom == 0.0) {
            denom = 1.0;
        }
        out.precision.push_back(prec);
        out.recall.push_back(rec);
        out.f1.push_back(2.0 * prec * rec / denom);
    }
    return out;
}

double mean(const std::vector<double>& v)
{
    if (v.empty()) {
        return 0.0;
    }
    return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

std::vector<double> column(const Matrix& proba, std::int64_t c)
{
    std::vector<double> out(static_cast<size_t>(proba.rows));
    for (std::int64_t r = 0; r < proba.rows; ++r) {
        out[static_cast<size_t>(r)] = static_cast<double>(proba.at(r, c));
    }
    return out;
}

std::vector<int> one_vs_rest(const std::vector<int>& y_true, int label)
{
    std::vector<int> out(y_true.size());
    for (size_t i = 0; i < y_true.size(); ++i) {
        out[i] = y_true[i] == label ? 1 : 0;
    }
    return out;
}

nlohmann::json number_or_null(double v)
{
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

} // namespace

double accuracy(const std::vector<int>& y_true, const std::vector<int>& y_pred)
{
    check_lengths(y_true.size(), y_pred.size(), "accuracy");
    if (y_true.empty()) {
        return k_nan;
    }
    size_t hits = 0;
    for (size_t i = 0; i < y_true.size(); ++i) {
        hits += y_true[i] == y_pred[i] ? 1 : 0;
    }
    return static_cast<double>(hits) / static_cast<double>(y_true.size());
}

double precision(const std::vector<int>& y_true, const std::vector<int>& y_pred, int n_classes)
{
    return mean(per_class_scores(y_true, y_pred, n_classes).precision);
}

double recall(const std::vector<int>& y_true, const std::vector<int>& y_pred, int n_classes)
{
    return mean(per_class_scores(y_true, y_pred, n_classes).recall);
}

double f1(const std::vector<int>& y_true, const std::vector<int>& y_pred, int n_classes)
{
    return mean(per_class_scores(y_true, y_pred, n_classes).f1);
}

double roc_auc_binary(const std::vector<int>& y_true, const std::vector<double>& score)
{
    const ClfCurve c = binary_clf_curve(y_true, score);
    if (c.tps.empty() || c.tps.back() == 0 || c.fps.back() == 0) {
        return k_nan; // one class only: undefined (sklearn raises)
    }
    // Trapezoid over the ROC points, starting at (0, 0); tied scores form one segment.
    double area = 0;
    double prev_fp = 0;
    double prev_tp = 0;
    for (size_t k = 0; k < c.tps.size(); ++k) {
        area += (c.fps[k] - prev_fp) * (c.tps[k] + prev_tp) / 2.0;
        prev_fp = c.fps[k];
        prev_tp = c.tps[k];
    }
    return area / (c.tps.back() * c.fps.back());
}

double average_precision_binary(const std::vector<int>& y_true, const std::vector<double>& score)
{
    const ClfCurve c = binary_clf_curve(y_true, score);
    if (c.tps.empty()) {
        return k_nan;
    }
    if (c.tps.back() == 0) {
        return 0.0; // no positives: sklearn 1.2 sets recall to 1 everywhere, so AP is 0
    }
    // AP = sum over thresholds (R_k - R_{k-1}) * P_k, step-wise, no interpolation.
    double ap = 0;
    double prev_recall = 0;
    for (size_t k = 0; k < c.tps.size(); ++k) {
        const double rec = c.tps[k] / c.tps.back();
        const double prec = c.tps[k] / (c.tps[k] + c.fps[k]);
        ap += (rec - prev_recall) * prec;
        prev_recall = rec;
    }
    return ap;
}

double roc_auc(const std::vector<int>& y_true, const Matrix& proba)
{
    check_lengths(y_true.size(), static_cast<size_t>(proba.rows), "roc_auc");
    if (proba.cols == 2) {
        return roc_auc_binary(y_true, column(proba, 1));
    }
    // One-vs-rest macro over the classes that have both positives and negatives.
    std::vector<double> scores;
    for (std::int64_t c = 0; c < proba.cols; ++c) {
        const double v = roc_auc_binary(one_vs_rest(y_true, static_cast<int>(c)), column(proba, c));
        if (!std::isnan(v)) {
            scores.push_back(v);
        }
    }
    return scores.empty() ? k_nan : mean(scores);
}

double pr_auc(const std::vector<int>& y_true, const Matrix& proba)
{
    check_lengths(y_true.size(), static_cast<size_t>(proba.rows), "pr_auc");
    if (proba.cols == 2) {
        return average_precision_binary(y_true, column(proba, 1));
    }
    // Macro of per-class AP on the binarised labels (sklearn 1.2 with label_binarize).
    std::vector<double> scores;
    for (std::int64_t c = 0; c < proba.cols; ++c) {
        scores.push_back(average_precision_binary(one_vs_rest(y_true, static_cast<int>(c)), column(proba, c)));
    }
    return scores.empty() ? k_nan : mean(scores);
}

double log_loss(const std::vector<int>& y_true, const Matrix& proba)
{
    check_lengths(y_true.size(), static_cast<size_t>(proba.rows), "log_loss");
    if (y_true.empty() || proba.cols < 2) {
        return k_nan;
    }
    // sklearn 1.2.1 default eps="auto": the float64 machine epsilon (our probabilities
    // are widened to double first), then each row is renormalised.
    const double eps = DBL_EPSILON;
    double total = 0;
    std::vector<double> row(static_cast<size_t>(proba.cols));
    for (std::int64_t r = 0; r < proba.rows; ++r) {
        double sum = 0;
        for (std::int64_t c = 0; c < proba.cols; ++c) {
            const double p = std::clamp(static_cast<double>(proba.at(r, c)), eps, 1.0 - eps);
            row[static_cast<size_t>(c)] = p;
            sum += p;
        }
        const int label = y_true[static_cast<size_t>(r)];
        if (label < 0 || label >= proba.cols) {
            throw std::invalid_argument("log_loss: label " + std::to_string(label) + " outside 0.."
                                        + std::to_string(proba.cols - 1));
        }
        total += -std::log(row[static_cast<size_t>(label)] / sum);
    }
    return total / static_cast<double>(proba.rows);
}

std::vector<std::vector<long>> confusion_matrix(const std::vector<int>& y_true, const std::vector<int>& y_pred,
                                                int n_classes)
{
    check_lengths(y_true.size(), y_pred.size(), "confusion_matrix");
    std::vector<std::vector<long>> m(static_cast<size_t>(n_classes),
                                     std::vector<long>(static_cast<size_t>(n_classes), 0));
    for (size_t i = 0; i < y_true.size(); ++i) {
        if (y_true[i] >= 0 && y_true[i] < n_classes && y_pred[i] >= 0 && y_pred[i] < n_classes) {
            ++m[static_cast<size_t>(y_true[i])][static_cast<size_t>(y_pred[i])];
        }
    }
    return m;
}

std::vector<int> argmax_rows(const Matrix& proba)
{
    std::vector<int> out(static_cast<size_t>(proba.rows), 0);
    for (std::int64_t r = 0; r < proba.rows; ++r) {
        int best = 0;
        for (std::int64_t c = 1; c < proba.cols; ++c) {
            if (proba.at(r, c) > proba.at(r, best)) { // first maximum wins, like numpy
                best = static_cast<int>(c);
            }
        }
        out[static_cast<size_t>(r)] = best;
    }
    return out;
}

void roc_curve(const std::vector<int>& y_true, const std::vector<double>& score, std::vector<double>& fpr,
               std::vector<double>& tpr)
{
    const ClfCurve c = binary_clf_curve(y_true, score);
    fpr.clear();
    tpr.clear();
    // Prepend (0, 0) and drop collinear points (sklearn drop_intermediate=True).
    std::vector<double> fps{0.0};
    std::vector<double> tps{0.0};
    fps.insert(fps.end(), c.fps.begin(), c.fps.end());
    tps.insert(tps.end(), c.tps.begin(), c.tps.end());
    const double n_neg = fps.back();
    const double n_pos = tps.back();
    for (size_t k = 0; k < fps.size(); ++k) {
        const bool keep = k == 0 || k + 1 == fps.size() || (fps[k + 1] - 2 * fps[k] + fps[k - 1]) != 0
                          || (tps[k + 1] - 2 * tps[k] + tps[k - 1]) != 0;
        if (keep) {
            fpr.push_back(n_neg > 0 ? fps[k] / n_neg : k_nan);
            tpr.push_back(n_pos > 0 ? tps[k] / n_pos : k_nan);
        }
    }
}

std::vector<ReliabilityBin> reliability_bins(const std::vector<int>& y_true, const Matrix& proba, int bins)
{
    check_lengths(y_true.size(), static_cast<size_t>(proba.rows), "reliability_bins");
    bins = std::max(bins, 1);
    std::vector<ReliabilityBin> out(static_cast<size_t>(bins));
    std::vector<double> sum_confidence(out.size(), 0.0);
    std::vector<double> correct(out.size(), 0.0);
    const std::vector<int> y_pred = argmax_rows(proba);
    for (std::int64_t r = 0; r < proba.rows; ++r) {
        const double c = static_cast<double>(proba.at(r, y_pred[static_cast<size_t>(r)]));
        const size_t b = std::min(static_cast<size_t>(std::max(0.0, c) * bins), out.size() - 1);
        ++out[b].count;
        sum_confidence[b] += c;
        correct[b] += y_pred[static_cast<size_t>(r)] == y_true[static_cast<size_t>(r)] ? 1.0 : 0.0;
    }
    for (size_t b = 0; b < out.size(); ++b) {
        out[b].lo = static_cast<double>(b) / bins;
        out[b].hi = static_cast<double>(b + 1) / bins;
        const double n = static_cast<double>(out[b].count);
        out[b].confidence = n > 0 ? sum_confidence[b] / n : k_nan;
        out[b].accuracy = n > 0 ? correct[b] / n : k_nan;
    }
    return out;
}

double expected_calibration_error(const std::vector<int>& y_true, const Matrix& proba, int bins)
{
    if (proba.rows == 0) {
        return k_nan;
    }
    double ece = 0;
    for (const ReliabilityBin& b : reliability_bins(y_true, proba, bins)) {
        if (b.count > 0) {
            ece += static_cast<double>(b.count) / static_cast<double>(proba.rows)
                   * std::fabs(b.accuracy - b.confidence);
        }
    }
    return ece;
}

nlohmann::json all_metrics(const std::vector<int>& y_true, const Matrix& proba)
{
    const int n_classes = static_cast<int>(proba.cols);
    const std::vector<int> y_pred = argmax_rows(proba);
    nlohmann::json j;
    j["accuracy"] = number_or_null(accuracy(y_true, y_pred));
    j["precision"] = number_or_null(precision(y_true, y_pred, n_classes));
    j["recall"] = number_or_null(recall(y_true, y_pred, n_classes));
    j["f1"] = number_or_null(f1(y_true, y_pred, n_classes));
    j["roc_auc"] = number_or_null(roc_auc(y_true, proba));
    j["pr_auc"] = number_or_null(pr_auc(y_true, proba));
    j["log_loss"] = number_or_null(log_loss(y_true, proba));
    j["confusion_matrix"] = confusion_matrix(y_true, y_pred, n_classes);
    j["rows"] = y_true.size();
    return j;
}

std::vector<std::string> with_positive_class(const std::vector<std::string>& classes, const std::string& positive,
                                             const std::string& where)
{
    if (positive.empty()) {
        return classes;
    }
    const auto it = std::find(classes.begin(), classes.end(), positive);
    if (it == classes.end()) {
        std::string known;
        for (const std::string& c : classes) {
            known += (known.empty() ? "'" : ", '") + c + "'";
        }
        const std::string near = nearest(positive, classes);
        throw UsageError(where + ": '" + positive + "' is not a class of the target (classes: " + known + ")"
                         + (near.empty() ? "" : "; did you mean '" + near + "'?"));
    }
    if (classes.size() != 2) {
        throw UsageError(where + ": a positive class applies to binary targets only; this one has "
                         + std::to_string(classes.size()) + " classes");
    }
    return it == classes.begin() ? std::vector<std::string>{classes[1], classes[0]} : classes;
}

bool is_better(double candidate, double best, bool lower)
{
    if (std::isnan(candidate)) {
        return false;
    }
    if (std::isnan(best)) {
        return true;
    }
    return lower ? candidate < best : candidate > best;
}

bool lower_is_better(const std::string& metric)
{
    return metric == "log_loss" || metric == "ece";
}

} // namespace mlrun::ml
