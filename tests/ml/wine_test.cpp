// The shipped wine table (examples/wine, 3 classes): multi-class metrics, calibration of the
// vote-based kinds and cross-validation on real data.
#include "ml/calibration.hpp"
#include "ml/cross_validation.hpp"
#include "ml/metrics.hpp"
#include "ml/models/model.hpp"
#include "ml/search.hpp"
#include "ml/table.hpp"
#include "ml/transform.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <numeric>

namespace {

namespace ml = mlrun::ml;

// wine.csv as a standardised LabeledSet (means and stds of the whole table: a test fixture,
// not the preprocess step), classes in name order.
ml::LabeledSet wine()
{
    const ml::Table t = ml::read_table(std::filesystem::path(MLRUN_SOURCE_DIR) / "examples/wine/wine.csv");
    ml::LabeledSet set;
    set.class_names = {"class_0", "class_1", "class_2"};
    const ml::Column& target = t.column("cultivar");
    const size_t n = t.rows();
    const size_t features = t.columns.size() - 1;
    set.x = ml::Matrix(static_cast<std::int64_t>(n), static_cast<std::int64_t>(features));
    for (size_t c = 0; c < features; ++c) {
        set.feature_names.push_back(t.columns[c].name);
        double mean = 0;
        for (size_t r = 0; r < n; ++r) {
            mean += t.columns[c].number(r);
        }
        mean /= static_cast<double>(n);
        double var = 0;
        for (size_t r = 0; r < n; ++r) {
            var += std::pow(t.columns[c].number(r) - mean, 2);
        }
        const double sd = std::sqrt(var / static_cast<double>(n));
        for (size_t r = 0; r < n; ++r) {
            set.x.at(static_cast<std::int64_t>(r),
                     static_cast<std::int64_t>(c)) = static_cast<float>((t.columns[c].number(r) - mean) / sd);
        }
    }
    for (size_t r = 0; r < n; ++r) {
        set.y.push_back(target.text[r].back() - '0');
        set.ids.push_back(std::to_string(r));
    }
    return set;
}

} // namespace

TEST_CASE("wine: calibrated knn and random_forest give bounded multi-class probabilities")
{
    const ml::LabeledSet all = wine();
    REQUIRE(all.x.rows == 178);
    REQUIRE(all.x.cols == 13);
    const ml::Splits s = ml::stratified_split(all.y, 0.6, 0.2, 0.2, 42);
    const ml::LabeledSet train = ml::subset_rows(all, s.train);
    const ml::LabeledSet valid = ml::subset_rows(all, s.valid);
    const ml::LabeledSet test = ml::subset_rows(all, s.test);
    for (const char* kind : {"knn", "random_forest"}) {
        CAPTURE(kind);
        CHECK(ml::default_calibration(kind) == "sigmoid");
        auto model = ml::make_model(kind, nlohmann::json::object(), 13, 3, {});
        ml::FitOptions fo;
        fo.seed = 42;
        model->fit(train, valid, fo);
        const ml::Matrix raw_test = model->predict_proba(test.x);
        ml::Calibration cal = ml::Calibration::fit("sigmoid", model->predict_proba(valid.x), valid.y);
        auto calibrated = ml::calibrated(std::move(model), std::move(cal));
        const ml::Matrix p = calibrated->predict_proba(test.x);
        REQUIRE(p.cols == 3);
        double min_p = 1;
        for (std::int64_t r = 0; r < p.rows; ++r) {
            CHECK(p.at(r, 0) + p.at(r, 1) + p.at(r, 2) == doctest::Approx(1.0).epsilon(1e-5));
            for (std::int64_t c = 0; c < 3; ++c) {
                min_p = std::min(min_p, static_cast<double>(p.at(r, c)));
            }
        }
        CHECK(min_p > 0); // no row is certain of anything: log loss stays bounded
        const nlohmann::json m = ml::all_metrics(test.y, p);
        const nlohmann::json raw = ml::all_metrics(test.y, raw_test);
        CAPTURE(m.dump());
        CAPTURE(raw.dump());
        CHECK(m.at("accuracy").get<double>() > 0.85);
        CHECK(m.at("roc_auc").get<double>() > 0.95);
        CHECK(m.at("log_loss").get<double>() < 0.5);
        const double ece = ml::expected_calibration_error(test.y, p);
        CHECK(ece >= 0);
        CHECK(ece < 0.25);
        // Sigmoid calibration is monotone per column: the argmax may move, the ranking of a
        // column does not, so macro ROC AUC stays close.
        CHECK(std::fabs(m.at("roc_auc").get<double>() - raw.at("roc_auc").get<double>()) < 0.05);
    }
}

TEST_CASE("wine: 5-fold cross-validation of knn, multi-class fold metrics")
{
    const ml::LabeledSet all = wine();
    const ml::Splits s = ml::stratified_split(all.y, 0.6, 0.2, 0.2, 42);
    ml::CvOptions o;
    o.k = 5;
    o.kind = "knn";
    o.model_params = {{"k", 7}};
    o.calibration = "isotonic";
    o.fit.metric = "roc_auc";
    const ml::CvResult cv = ml::cross_validate(ml::subset_rows(all, s.train), ml::subset_rows(all, s.valid), o);
    REQUIRE(cv.values.size() == 5);
    for (size_t f = 0; f < 5; ++f) {
        CAPTURE(f);
        CHECK(cv.values[f] > 0.9);
        CHECK(cv.fold_metrics[f].at("rows").get<long>() >= 27);
        CHECK(cv.fold_metrics[f].contains("ece"));
    }
    CHECK(cv.mean > 0.95);
    CHECK(cv.std < 0.05);
}
