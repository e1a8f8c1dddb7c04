// Golden tests: every expected value below was computed by scikit-learn 1.2.1
// (scripts/golden_metrics.py, run with /usr/bin/python3, output pasted verbatim).
// Probabilities are multiples of 1/64, exact in float32 and float64.
#include "ml/metrics.hpp"

#include "core/error.hpp"

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

// data.positive_class: the classes are ordered [other, positive] (ml::with_positive_class),
// so every binary metric scores the chosen class. Expected values: the "positive class" lines
// printed by scripts/golden_metrics.py (scikit-learn 1.2.1 with pos_label).
TEST_CASE("metrics: with the positive class either way, equal to scikit-learn's pos_label")
{
    const std::vector<std::string> y_text{"good", "bad",  "good", "good", "bad", "good", "bad",
                                          "good", "good", "bad",  "good", "bad", "good"};
    const std::vector<double> p_good{0.875, 0.25,   0.625, 0.375, 0.75,   0.9375, 0.125,
                                     0.625, 0.8125, 0.375, 0.25,  0.0625, 0.6875};
    const std::vector<std::pair<std::string, std::vector<double>>> cases{
        {"good",
         {0.76923076923076927, 0.8571428571428571, 0.75, 0.79999999999999993, 0.82499999999999996, 0.87741702741702743,
          0.49458335209110299}},
        {"bad",
         {0.76923076923076927, 0.66666666666666663, 0.80000000000000004, 0.72727272727272718, 0.82500000000000007,
          0.78333333333333321, 0.49458335209110299}},
    };
    for (const auto& [positive, expected] : cases) {
        CAPTURE(positive);
        const std::vector<std::string> order = mlrun::ml::with_positive_class({"bad", "good"}, positive);
        REQUIRE(order.size() == 2);
        CHECK(order[1] == positive);
        std::vector<int> y;
        Matrix proba(static_cast<std::int64_t>(y_text.size()), 2);
        for (size_t r = 0; r < y_text.size(); ++r) {
            y.push_back(y_text[r] == order[1] ? 1 : 0);
            for (int c = 0; c < 2; ++c) {
                const double p = order[static_cast<size_t>(c)] == "good" ? p_good[r] : 1.0 - p_good[r];
                proba.at(static_cast<std::int64_t>(r), c) = static_cast<float>(p);
            }
        }
        const auto j = mlrun::ml::all_metrics(y, proba);
        const char* names[] = {"accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss"};
        for (size_t k = 0; k < 7; ++k) {
            CAPTURE(names[k]);
            CHECK(std::abs(j.at(names[k]).get<double>() - expected[k]) < 1e-9);
        }
    }
    // The two choices really differ where sklearn's do.
    CHECK(cases[0].second[1] != doctest::Approx(cases[1].second[1]));
}

TEST_CASE("metrics: with_positive_class keeps the order when unset and refuses what it cannot honour")
{
    using mlrun::ml::with_positive_class;
    CHECK(with_positive_class({"0", "1"}, "") == std::vector<std::string>{"0", "1"});
    CHECK(with_positive_class({"0", "1"}, "1") == std::vector<std::string>{"0", "1"});
    CHECK(with_positive_class({"0", "1"}, "0") == std::vector<std::string>{"1", "0"});
    try {
        with_positive_class({"bad", "good"}, "goood");
        FAIL("an unknown positive class was accepted");
    } catch (const mlrun::UsageError& e) {
        const std::string msg = e.what();
        CHECK(msg.find("params.data.positive_class") != std::string::npos);
        CHECK(msg.find("did you mean 'good'") != std::string::npos);
    }
    CHECK_THROWS_AS(with_positive_class({"a", "b", "c"}, "a"), mlrun::UsageError);
}
