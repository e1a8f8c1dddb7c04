// Stratified K-fold cross-validation, folds as scikit-learn's StratifiedKFold draws them.
#include "ml/cross_validation.hpp"

#include "core/error.hpp"
#include "ml/calibration.hpp"
#include "ml/metrics.hpp"
#include "ml/search.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace mlrun::ml {

std::vector<int> stratified_kfold(const std::vector<int>& y, int k)
{
    if (k < 3) {
        throw UsageError("split.cv: expected a whole number of folds >= 3 (each fold's model validates on the next "
                         "fold), got "
                         + std::to_string(k));
    }
    // Classes encoded in order of first appearance (StratifiedKFold's y_encoded).
    std::map<int, int> code;
    std::vector<int> encoded(y.size());
    for (std::size_t i = 0; i < y.size(); ++i) {
        auto it = code.find(y[i]);
        if (it == code.end()) {
            it = code.emplace(y[i], static_cast<int>(code.size())).first;
        }
        encoded[i] = it->second;
    }
    const int n_classes = static_cast<int>(code.size());
    std::vector<long> counts(static_cast<std::size_t>(n_classes), 0);
    for (int e : encoded) {
        ++counts[static_cast<std::size_t>(e)];
    }
    for (const auto& [label, c] : code) {
        if (counts[static_cast<std::size_t>(c)] < k) {
            throw UsageError("split.cv: " + std::to_string(k) + " folds need at least " + std::to_string(k)
                             + " rows of each class in train + valid; class " + std::to_string(label) + " has "
                             + std::to_string(counts[static_cast<std::size_t>(c)]));
        }
    }
    // allocation[f][c] = bincount(sorted(y_encoded)[f::k]): how many rows of class c fold f gets.
    std::vector<int> sorted = encoded;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::vector<long>> allocation(static_cast<std::size_t>(k),
                                              std::vector<long>(static_cast<std::size_t>(n_classes), 0));
    for (std::size_t i = 0; i < sorted.size(); ++i) {
        ++allocation[i % static_cast<std::size_t>(k)][static_cast<std::size_t>(sorted[i])];
    }
    std::vector<int> folds(y.size(), 0);
    for (int c = 0; c < n_classes; ++c) {
        // The rows of class c, in order, get folds 0,0,..,1,1,.. (np.arange(k).repeat(allocation[:, c])).
        std::vector<int> fold_list;
        for (int f = 0; f < k; ++f) {
            fold_list.insert(
                fold_list.end(),
                static_cast<std::size_t>(allocation[static_cast<std::size_t>(f)][static_cast<std::size_t>(c)]), f);
        }
        std::size_t next = 0;
        for (std::size_t i = 0; i < y.size(); ++i) {
            if (encoded[i] == c) {
                folds[i] = fold_list[next++];
            }
        }
    }
    return folds;
}

LabeledSet subset_rows(const LabeledSet& set, const std::vector<std::size_t>& rows)
{
    LabeledSet out;
    out.x = Matrix(static_cast<std::int64_t>(rows.size()), set.x.cols);
    for (std::size_t r = 0; r < rows.size(); ++r) {
        std::copy_n(set.x.data.begin() + static_cast<std::ptrdiff_t>(rows[r] * static_cast<std::size_t>(set.x.cols)),
                    set.x.cols,
                    out.x.data.begin() + static_cast<std::ptrdiff_t>(r * static_cast<std::size_t>(set.x.cols)));
        if (!set.y.empty()) {
            out.y.push_back(set.y[rows[r]]);
        }
        if (rows[r] < set.ids.size()) {
            out.ids.push_back(set.ids[rows[r]]);
        }
    }
    out.feature_names = set.feature_names;
    out.class_names = set.class_names;
    out.shape = set.shape;
    return out;
}

LabeledSet concat_rows(const LabeledSet& a, const LabeledSet& b)
{
    LabeledSet out = a;
    out.x.rows = a.x.rows + b.x.rows;
    out.x.data.insert(out.x.data.end(), b.x.data.begin(), b.x.data.end());
    out.y.insert(out.y.end(), b.y.begin(), b.y.end());
    out.ids.insert(out.ids.end(), b.ids.begin(), b.ids.end());
    return out;
}

nlohmann::json CvResult::to_json() const
{
    nlohmann::json folds = nlohmann::json::array();
    for (std::size_t f = 0; f < values.size(); ++f) {
        const long rows = std::count(fold_of_row.begin(), fold_of_row.end(), static_cast<int>(f));
        folds.push_back({{"fold", f},
                         {"rows", rows},
                         {"valid_fold", (f + 1) % values.size()},
                         {metric, std::isfinite(values[f]) ? nlohmann::json(values[f]) : nlohmann::json(nullptr)},
                         {"metrics", fold_metrics[f]}});
    }
    const auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
    return {{"k", k}, {"metric", metric}, {"mean", num(mean)}, {"std", num(std)}, {"folds", folds}};
}

CvResult cross_validate(const LabeledSet& train, const LabeledSet& valid, const CvOptions& options)
{
    const LabeledSet all = concat_rows(train, valid);
    CvResult result;
    result.k = options.k;
    result.metric = options.fit.metric;
    result.fold_of_row = stratified_kfold(all.y, options.k);
    result.proba = Matrix(all.x.rows, all.n_classes());
    FitOptions fit = options.fit;
    fit.on_epoch = nullptr;
    for (int f = 0; f < options.k; ++f) {
        const int vf = (f + 1) % options.k;
        std::vector<std::size_t> train_rows;
        std::vector<std::size_t> valid_rows;
        std::vector<std::size_t> test_rows;
        for (std::size_t r = 0; r < result.fold_of_row.size(); ++r) {
            const int fr = result.fold_of_row[r];
            (fr == f ? test_rows : fr == vf ? valid_rows : train_rows).push_back(r);
        }
        const LabeledSet tr = subset_rows(all, train_rows);
        const LabeledSet va = subset_rows(all, valid_rows);
        const LabeledSet te = subset_rows(all, test_rows);
        std::unique_ptr<Model> model = make_model(options.kind, options.model_params, static_cast<int>(all.x.cols),
                                                  all.n_classes(), all.shape);
        model->fit(tr, va, fit);
        if (options.calibration == "sigmoid" || options.calibration == "isotonic") {
            Calibration cal = Calibration::fit(options.calibration, model->predict_proba(va.x), va.y);
            model = calibrated(std::move(model), std::move(cal));
        }
        const Matrix p = model->predict_proba(te.x);
        for (std::size_t r = 0; r < test_rows.size(); ++r) {
            for (std::int64_t c = 0; c < p.cols; ++c) {
                result.proba.at(static_cast<std::int64_t>(test_rows[r]), c) = p.at(static_cast<std::int64_t>(r), c);
            }
        }
        result.values.push_back(metric_value(options.fit.metric, te.y, p));
        nlohmann::json m = all_metrics(te.y, p);
        m.erase("confusion_matrix");
        m["ece"] = expected_calibration_error(te.y, p);
        result.fold_metrics.push_back(std::move(m));
    }
    double sum = 0;
    for (double v : result.values) {
        sum += v;
    }
    result.mean = sum / static_cast<double>(result.values.size());
    double sq = 0;
    for (double v : result.values) {
        sq += (v - result.mean) * (v - result.mean);
    }
    result.std = std::sqrt(sq / static_cast<double>(result.values.size()));
    return result;
}

} // namespace mlrun::ml
