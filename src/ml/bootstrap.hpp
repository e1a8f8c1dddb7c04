#pragma once
// Seeded bootstrap intervals of a test metric (percentile method) and the paired bootstrap
// of a difference between two models scored on the same rows. Every model of a run uses the
// same resampled row sets (same seed, same row count), so replicate b of two models is a pair.
#include "ml/matrix.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace mlrun::ml {

constexpr int k_bootstrap_resamples = 1000;
constexpr double k_bootstrap_level = 0.95;

// B resamples of n row indices, drawn with replacement from a mt19937_64 seeded with `seed`.
std::vector<std::vector<std::size_t>> bootstrap_samples(std::size_t n, int resamples, std::uint64_t seed);

// The metric (ml/search.hpp metric names) on each resample; NaN where it is undefined on that
// resample (roc_auc with one class drawn). Throws like metric_value for a bad metric.
std::vector<double> bootstrap_replicates(const std::string& metric, const std::vector<int>& y, const Matrix& proba,
                                         const std::vector<std::vector<std::size_t>>& samples);

// A two-sided percentile interval of the finite replicates, numpy's percentile with linear
// interpolation at (1 - level) / 2 and (1 + level) / 2. used = the finite replicates; low and
// high are NaN when there are none.
struct Interval {
    double low = 0;
    double high = 0;
    int used = 0;
};
Interval percentile_interval(const std::vector<double>& replicates, double level = k_bootstrap_level);

// Per replicate, how much better `best` is than `other` (best - other; other - best when
// lower is better); NaN where either is NaN.
std::vector<double> paired_differences(const std::vector<double>& best, const std::vector<double>& other, bool lower);

} // namespace mlrun::ml
