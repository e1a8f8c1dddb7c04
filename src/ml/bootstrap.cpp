// Bootstrap resampling of test predictions: one shared set of resamples per seed.
#include "ml/bootstrap.hpp"

#include "ml/search.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace mlrun::ml {

std::vector<std::vector<std::size_t>> bootstrap_samples(std::size_t n, int resamples, std::uint64_t seed)
{
    std::mt19937_64 rng(seed);
    std::vector<std::vector<std::size_t>> samples(static_cast<std::size_t>(std::max(resamples, 0)));
    for (std::vector<std::size_t>& s : samples) {
        s.resize(n);
        for (std::size_t& i : s) {
            // The top 53 bits as a fraction of n: the same draws on every standard library
            // (std::uniform_int_distribution is implementation-defined).
            i = std::min(
                n - 1, static_cast<std::size_t>(static_cast<double>(rng() >> 11) * 0x1.0p-53 * static_cast<double>(n)));
        }
    }
    return samples;
}

std::vector<double> bootstrap_replicates(const std::string& metric, const std::vector<int>& y, const Matrix& proba,
                                         const std::vector<std::vector<std::size_t>>& samples)
{
    std::vector<double> out;
    out.reserve(samples.size());
    for (const std::vector<std::size_t>& s : samples) {
        std::vector<int> ys(s.size());
        Matrix ps(static_cast<std::int64_t>(s.size()), proba.cols);
        for (std::size_t r = 0; r < s.size(); ++r) {
            ys[r] = y[s[r]];
            for (std::int64_t c = 0; c < proba.cols; ++c) {
                ps.at(static_cast<std::int64_t>(r), c) = proba.at(static_cast<std::int64_t>(s[r]), c);
            }
        }
        double v = std::nan("");
        try {
            v = metric_value(metric, ys, ps);
        } catch (const std::invalid_argument&) {
            v = std::nan(""); // a resample the metric is undefined on
        }
        out.push_back(std::isfinite(v) ? v : std::nan(""));
    }
    return out;
}

Interval percentile_interval(const std::vector<double>& replicates, double level)
{
    std::vector<double> v;
    for (double r : replicates) {
        if (std::isfinite(r)) {
            v.push_back(r);
        }
    }
    Interval out;
    out.used = static_cast<int>(v.size());
    if (v.empty()) {
        out.low = out.high = std::nan("");
        return out;
    }
    std::sort(v.begin(), v.end());
    const auto at = [&](double q) {
        const double pos = q * static_cast<double>(v.size() - 1);
        const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
        const std::size_t hi = std::min(lo + 1, v.size() - 1);
        return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
    };
    out.low = at((1.0 - level) / 2.0);
    out.high = at((1.0 + level) / 2.0);
    return out;
}

std::vector<double> paired_differences(const std::vector<double>& best, const std::vector<double>& other, bool lower)
{
    std::vector<double> out(std::min(best.size(), other.size()));
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = lower ? other[i] - best[i] : best[i] - other[i];
    }
    return out;
}

} // namespace mlrun::ml
