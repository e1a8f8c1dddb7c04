// Golden tests: every expected value below was computed by scikit-learn 1.2.1
// (scripts/golden_metrics.py, run with /usr/bin/python3, output pasted verbatim).
// Probabilities are multiples of 1/64, exact in float32 and float64.
#include "ml/metrics.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

namespace {

using mlrun::ml::Matrix;

struct GoldenCase {
    std::string name;
    std::vector<int> y;
    int n_classes;
    std::vector<double> proba;    // rows x n_classes, row-major
    std::vector<double> expected; // accuracy, precision, recall, f1, roc_auc, pr_auc, log_loss
};

// Output of scripts/golden_metrics.py:
const std::vector<GoldenCase> k_golden = {
    // scikit-learn 1.2.1, numpy 1.24.2
    // binary_ties
    GoldenCase{"binary_ties",
               {0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1},
               2,
               {0.75, 0.25, 0.25, 0.75, 0.25,   0.75,   0.5,   0.5,   0.125, 0.875, 0.75, 0.25,
                0.5,  0.5,  0.5,  0.5,  0.0625, 0.9375, 0.875, 0.125, 0.25,  0.75,  0.5,  0.5},
               {0.83333333333333337, 1, 0.7142857142857143, 0.83333333333333326, 0.94285714285714284,
                0.93650793650793651, 0.37855003257377517}},
    // binary_all_tied
    GoldenCase{"binary_all_tied",
               {0, 1, 0, 0, 1},
               2,
               {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5},
               {0.59999999999999998, 0, 0, 0, 0.5, 0.40000000000000002, 0.69314718055994529}},
    // binary_extremes
    GoldenCase{"binary_extremes",
               {0, 1, 1, 0, 1, 0},
               2,
               {1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.75, 0.25, 0.25, 0.75, 0.0, 1.0},
               {0.66666666666666663, 0.66666666666666663, 0.66666666666666663, 0.66666666666666663, 0.55555555555555558,
                0.55555555555555558, 12.110445153856311}},
    // multi3
    GoldenCase{"multi3",
               {0, 1, 2, 2, 1, 0, 0, 2, 1, 1, 2, 0},
               3,
               {0.5,   0.25, 0.25,  0.25,  0.5,   0.25,  0.375, 0.375, 0.25,  0.25, 0.5,  0.25,
                0.125, 0.75, 0.125, 0.625, 0.25,  0.125, 0.25,  0.5,   0.25,  0.5,  0.25, 0.25,
                0.25,  0.5,  0.25,  0.75,  0.125, 0.125, 0.25,  0.375, 0.375, 0.5,  0.25, 0.25},
               {0.5, 0.33333333333333331, 0.5, 0.39999999999999997, 0.72395833333333337, 0.57752525252525244,
                1.011310221925702}},
    // multi3_unnormalised
    GoldenCase{
        "multi3_unnormalised",
        {0, 1, 2, 1, 0, 2},
        3,
        {0.5, 0.5, 0.5, 0.0, 0.75, 0.25, 0.125, 0.125, 0.25, 0.25, 0.25, 0.0, 0.875, 0.0625, 0.0625, 0.0, 0.0, 1.0},
        {0.83333333333333337, 0.88888888888888884, 0.83333333333333337, 0.8222222222222223, 0.89583333333333337,
         0.86111111111111105, 0.4843533524773842}},
};

Matrix to_matrix(const GoldenCase& c)
{
    Matrix m(static_cast<std::int64_t>(c.y.size()), c.n_classes);
    for (size_t i = 0; i < c.proba.size(); ++i) {
        m.data[i] = static_cast<float>(c.proba[i]);
    }
    return m;
}

std::vector<double> positive_scores(const Matrix& m)
{
    std::vector<double> s;
    for (std::int64_t r = 0; r < m.rows; ++r) {
        s.push_back(m.at(r, 1));
    }
    return s;
}

} // namespace

TEST_CASE("metrics: equal to scikit-learn 1.2 on golden inputs")
{
    for (const GoldenCase& c : k_golden) {
        CAPTURE(c.name);
        REQUIRE(c.proba.size() == c.y.size() * static_cast<size_t>(c.n_classes));
        const Matrix proba = to_matrix(c);
        const std::vector<int> pred = mlrun::ml::argmax_rows(proba);
        const double eps = 1e-9;
        CHECK(mlrun::ml::accuracy(c.y, pred) == doctest::Approx(c.expected[0]).epsilon(eps));
        CHECK(mlrun::ml::precision(c.y, pred, c.n_classes) == doctest::Approx(c.expected[1]).epsilon(eps));
        CHECK(mlrun::ml::recall(c.y, pred, c.n_classes) == doctest::Approx(c.expected[2]).epsilon(eps));
        CHECK(mlrun::ml::f1(c.y, pred, c.n_classes) == doctest::Approx(c.expected[3]).epsilon(eps));
        CHECK(std::abs(mlrun::ml::roc_auc(c.y, proba) - c.expected[4]) < eps);
        CHECK(std::abs(mlrun::ml::pr_auc(c.y, proba) - c.expected[5]) < eps);
        CHECK(std::abs(mlrun::ml::log_loss(c.y, proba) - c.expected[6]) < eps);
        if (c.n_classes == 2) {
            const std::vector<double> s = positive_scores(proba);
            CHECK(std::abs(mlrun::ml::roc_auc_binary(c.y, s) - c.expected[4]) < eps);
            CHECK(std::abs(mlrun::ml::average_precision_binary(c.y, s) - c.expected[5]) < eps);
        }
        const auto j = mlrun::ml::all_metrics(c.y, proba);
        CHECK(std::abs(j.at("roc_auc").get<double>() - c.expected[4]) < eps);
        CHECK(std::abs(j.at("log_loss").get<double>() - c.expected[6]) < eps);
    }
}

TEST_CASE("metrics: one class present gives NaN AUC, written as null")
{
    Matrix proba(3, 2);
    proba.data = {0.75f, 0.25f, 0.5f, 0.5f, 0.25f, 0.75f};
    const std::vector<int> y{1, 1, 1};
    CHECK(std::isnan(mlrun::ml::roc_auc(y, proba)));
    const auto j = mlrun::ml::all_metrics(y, proba);
    CHECK(j.at("roc_auc").is_null());
    CHECK(j.at("accuracy").get<double>() == doctest::Approx(1.0 / 3.0)); // ties go to class 0
}

TEST_CASE("metrics: confusion matrix rows are true labels")
{
    const auto m = mlrun::ml::confusion_matrix({0, 0, 1, 2, 2}, {0, 1, 1, 2, 0}, 3);
    CHECK(m == std::vector<std::vector<long>>{{1, 1, 0}, {0, 1, 0}, {1, 0, 1}});
}

TEST_CASE("metrics: roc_curve spans (0,0) to (1,1) without collinear points")
{
    std::vector<double> fpr;
    std::vector<double> tpr;
    mlrun::ml::roc_curve({0, 0, 1, 1}, {0.1, 0.4, 0.35, 0.8}, fpr, tpr);
    // sklearn: fpr [0, 0, 0.5, 0.5, 1], tpr [0, 0.5, 0.5, 1, 1]
    CHECK(fpr == std::vector<double>{0, 0, 0.5, 0.5, 1});
    CHECK(tpr == std::vector<double>{0, 0.5, 0.5, 1, 1});
    CHECK(mlrun::ml::lower_is_better("log_loss"));
    CHECK_FALSE(mlrun::ml::lower_is_better("roc_auc"));
}
