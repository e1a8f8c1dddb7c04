// Platt scaling and isotonic calibration, column by column, as scikit-learn 1.2's
// CalibratedClassifierCV(cv='prefit') applies them; the CalibratedModel wrapper that keeps
// a calibration with the model folder.
#include "ml/calibration.hpp"

#include "core/error.hpp"
#include "core/util.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace mlrun::ml {
namespace {

double expit(double z)
{
    return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
}

// Platt's loss at (a, b): sum of -(t log p + (1 - t) log(1 - p)), p = expit(-(a f + b)).
double platt_loss(const std::vector<double>& f, const std::vector<double>& t, double a, double b)
{
    double loss = 0;
    for (size_t i = 0; i < f.size(); ++i) {
        const double z = a * f[i] + b;
        // log(expit(-z)) and log(expit(z)) without overflow.
        const double log_p = -(std::max(z, 0.0) + std::log1p(std::exp(-std::fabs(z))));
        const double log_q = -(std::max(-z, 0.0) + std::log1p(std::exp(-std::fabs(z))));
        loss -= t[i] * log_p + (1.0 - t[i]) * log_q;
    }
    return loss;
}

void check_rows(size_t a, size_t b, const char* what)
{
    if (a != b || a == 0) {
        throw std::invalid_argument(std::string(what) + ": expected as many targets as scores (at least one), got "
                                    + std::to_string(a) + " scores and " + std::to_string(b) + " targets");
    }
}

class CalibratedModel : public Model {
public:
    CalibratedModel(std::unique_ptr<Model> inner, Calibration calibration)
        : m_inner(std::move(inner)), m_calibration(std::move(calibration))
    {}
    std::string kind() const override { return m_inner->kind(); }
    void fit(const LabeledSet&, const LabeledSet&, const FitOptions&) override
    {
        throw std::logic_error("a calibrated model is fitted before calibration");
    }
    Matrix predict_proba(const Matrix& x) const override { return m_calibration.apply(m_inner->predict_proba(x)); }
    void save_weights(const std::filesystem::path& dir) const override
    {
        m_inner->save_weights(dir);
        write_file_atomic(dir / k_calibration_file, m_calibration.to_json().dump(2) + "\n");
    }
    void load_weights(const std::filesystem::path& dir) override
    {
        m_inner->load_weights(dir);
        m_calibration = read_calibration(dir);
    }
    nlohmann::json params() const override { return m_inner->params(); }
    std::map<std::string, std::vector<double>> feature_importance() const override
    {
        return m_inner->feature_importance();
    }

    static Calibration read_calibration(const std::filesystem::path& dir)
    {
        const std::filesystem::path path = dir / k_calibration_file;
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(read_file(path));
        } catch (const nlohmann::json::parse_error& e) {
            throw UsageError(path.string() + ": invalid JSON (" + e.what() + ")");
        }
        return Calibration::from_json(j, path.string());
    }

private:
    std::unique_ptr<Model> m_inner;
    Calibration m_calibration;
};

} // namespace

double SigmoidCalibrator::predict(double f) const
{
    return expit(-(a * f + b));
}

double IsotonicCalibrator::predict(double f) const
{
    if (x.empty()) {
        return std::nan("");
    }
    if (f <= x.front() || x.size() == 1) {
        return y.front();
    }
    if (f >= x.back()) {
        return y.back();
    }
    const size_t hi = static_cast<size_t>(std::upper_bound(x.begin(), x.end(), f) - x.begin());
    const size_t lo = hi - 1;
    const double w = (f - x[lo]) / (x[hi] - x[lo]);
    return y[lo] + w * (y[hi] - y[lo]);
}

SigmoidCalibrator fit_sigmoid(const std::vector<double>& f, const std::vector<int>& target)
{
    check_rows(f.size(), target.size(), "fit_sigmoid");
    // Platt (1999): smoothed targets, so a separable calibration set still gives a finite fit.
    double prior1 = 0;
    for (int v : target) {
        prior1 += v > 0 ? 1.0 : 0.0;
    }
    const double prior0 = static_cast<double>(target.size()) - prior1;
    std::vector<double> t(f.size());
    for (size_t i = 0; i < f.size(); ++i) {
        t[i] = target[i] > 0 ? (prior1 + 1.0) / (prior1 + 2.0) : 1.0 / (prior0 + 2.0);
    }
    double a = 0;
    double b = std::log((prior0 + 1.0) / (prior1 + 1.0));
    double loss = platt_loss(f, t, a, b);
    for (int iter = 0; iter < 200; ++iter) {
        // dL/dz = t - p and d2L/dz2 = p (1 - p), with z = a f + b.
        double ga = 0;
        double gb = 0;
        double haa = 0;
        double hab = 0;
        double hbb = 0;
        for (size_t i = 0; i < f.size(); ++i) {
            const double p = expit(-(a * f[i] + b));
            const double g = t[i] - p;
            const double h = p * (1.0 - p);
            ga += g * f[i];
            gb += g;
            haa += h * f[i] * f[i];
            hab += h * f[i];
            hbb += h;
        }
        if (std::fabs(ga) + std::fabs(gb) < 1e-13 * static_cast<double>(f.size())) {
            break;
        }
        // A tiny ridge keeps the step defined when every score is equal (haa hbb = hab^2).
        haa += 1e-12;
        hbb += 1e-12;
        const double det = haa * hbb - hab * hab;
        double da = -(hbb * ga - hab * gb) / det;
        double db = -(haa * gb - hab * ga) / det;
        if (!std::isfinite(da) || !std::isfinite(db)) {
            da = -ga; // fall back to a gradient step
            db = -gb;
        }
        // Backtracking: the full Newton step first, halved until the loss does not grow.
        double step = 1.0;
        double next = platt_loss(f, t, a + da, b + db);
        while (next > loss && step > 1e-10) {
            step *= 0.5;
            next = platt_loss(f, t, a + step * da, b + step * db);
        }
        if (next > loss) {
            break;
        }
        a += step * da;
        b += step * db;
        const bool converged = std::fabs(step * da) + std::fabs(step * db)
                               < 1e-14 * (1.0 + std::fabs(a) + std::fabs(b));
        loss = next;
        if (converged) {
            break;
        }
    }
    return SigmoidCalibrator{a, b};
}

IsotonicCalibrator fit_isotonic(const std::vector<double>& f, const std::vector<double>& target)
{
    check_rows(f.size(), target.size(), "fit_isotonic");
    std::vector<size_t> order(f.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(),
              [&](size_t i, size_t j) { return f[i] != f[j] ? f[i] < f[j] : target[i] < target[j]; });
    // Pool equal scores (scikit-learn's _make_unique: within float64 resolution 1e-15).
    std::vector<double> xs;
    std::vector<double> ys;
    std::vector<double> ws;
    for (size_t i : order) {
        if (!xs.empty() && f[i] - xs.back() < 1e-15) {
            ys.back() += target[i];
            ws.back() += 1.0;
        } else {
            xs.push_back(f[i]);
            ys.push_back(target[i]);
            ws.push_back(1.0);
        }
    }
    for (size_t i = 0; i < ys.size(); ++i) {
        ys[i] /= ws[i];
    }
    // Pool adjacent violators: blocks of (mean, weight, count of points).
    std::vector<double> mean;
    std::vector<double> weight;
    std::vector<size_t> count;
    for (size_t i = 0; i < ys.size(); ++i) {
        mean.push_back(ys[i]);
        weight.push_back(ws[i]);
        count.push_back(1);
        while (mean.size() > 1 && mean[mean.size() - 2] >= mean.back()) {
            const size_t k = mean.size() - 1;
            const double w = weight[k - 1] + weight[k];
            mean[k - 1] = (mean[k - 1] * weight[k - 1] + mean[k] * weight[k]) / w;
            weight[k - 1] = w;
            count[k - 1] += count[k];
            mean.pop_back();
            weight.pop_back();
            count.pop_back();
        }
    }
    IsotonicCalibrator out;
    out.x = xs;
    for (size_t k = 0; k < mean.size(); ++k) {
        out.y.insert(out.y.end(), count[k], mean[k]);
    }
    return out;
}

const std::vector<std::string>& calibration_methods()
{
    static const std::vector<std::string> methods{"none", "sigmoid", "isotonic"};
    return methods;
}

std::string default_calibration(const std::string& kind)
{
    return kind == "random_forest" || kind == "boost" || kind == "knn" ? "sigmoid" : "none";
}

Calibration Calibration::fit(const std::string& method, const Matrix& proba, const std::vector<int>& y)
{
    if (method != "sigmoid" && method != "isotonic") {
        throw UsageError("calibration: expected sigmoid or isotonic to fit, got '" + method + "'");
    }
    if (y.empty() || static_cast<std::int64_t>(y.size()) != proba.rows || proba.cols < 2) {
        throw UsageError("calibration: needs labelled validation rows to fit on (the validation split has "
                         + std::to_string(y.size()) + " labels for " + std::to_string(proba.rows) + " rows)");
    }
    Calibration c;
    c.m_method = method;
    c.m_n_classes = static_cast<int>(proba.cols);
    // Binary: the positive column only (scikit-learn's predict_proba[:, 1:]).
    for (int k = proba.cols == 2 ? 1 : 0; k < proba.cols; ++k) {
        std::vector<double> f(y.size());
        std::vector<int> t(y.size());
        for (size_t r = 0; r < y.size(); ++r) {
            f[r] = static_cast<double>(proba.at(static_cast<std::int64_t>(r), k));
            t[r] = y[r] == k ? 1 : 0;
        }
        c.m_columns.push_back(k);
        if (method == "sigmoid") {
            c.m_sigmoid.push_back(fit_sigmoid(f, t));
        } else {
            c.m_isotonic.push_back(fit_isotonic(f, std::vector<double>(t.begin(), t.end())));
        }
    }
    return c;
}

Matrix Calibration::apply(const Matrix& proba) const
{
    if (proba.cols != m_n_classes) {
        throw UsageError("calibration: fitted for " + std::to_string(m_n_classes) + " classes, the model gave "
                         + std::to_string(proba.cols));
    }
    Matrix out(proba.rows, proba.cols);
    for (std::int64_t r = 0; r < proba.rows; ++r) {
        std::vector<double> p(static_cast<size_t>(proba.cols), 0.0);
        for (size_t i = 0; i < m_columns.size(); ++i) {
            const double f = static_cast<double>(proba.at(r, m_columns[i]));
            p[static_cast<size_t>(m_columns[i])] = m_method == "sigmoid" ? m_sigmoid[i].predict(f)
                                                                         : m_isotonic[i].predict(f);
        }
        if (proba.cols == 2) {
            p[0] = 1.0 - p[1];
        } else {
            const double sum = std::accumulate(p.begin(), p.end(), 0.0);
            for (double& v : p) {
                v = sum != 0 ? v / sum : 1.0 / static_cast<double>(proba.cols);
            }
        }
        for (std::int64_t c = 0; c < proba.cols; ++c) {
            out.at(r, c) = static_cast<float>(p[static_cast<size_t>(c)]);
        }
    }
    return out;
}

nlohmann::json Calibration::to_json() const
{
    nlohmann::json columns = nlohmann::json::array();
    for (size_t i = 0; i < m_columns.size(); ++i) {
        if (m_method == "sigmoid") {
            columns.push_back({{"class", m_columns[i]}, {"a", m_sigmoid[i].a}, {"b", m_sigmoid[i].b}});
        } else {
            columns.push_back({{"class", m_columns[i]}, {"x", m_isotonic[i].x}, {"y", m_isotonic[i].y}});
        }
    }
    return {{"method", m_method}, {"n_classes", m_n_classes}, {"fitted_on", "valid"}, {"columns", columns}};
}

Calibration Calibration::from_json(const nlohmann::json& j, const std::string& where)
{
    Calibration c;
    try {
        c.m_method = j.at("method").get<std::string>();
        c.m_n_classes = j.at("n_classes").get<int>();
        if (c.m_method != "sigmoid" && c.m_method != "isotonic") {
            throw UsageError(where + ": unknown calibration method '" + c.m_method + "'");
        }
        for (const nlohmann::json& col : j.at("columns")) {
            const int k = col.at("class").get<int>();
            if (k < 0 || k >= c.m_n_classes) {
                throw UsageError(where + ": calibration column " + std::to_string(k) + " outside 0.."
                                 + std::to_string(c.m_n_classes - 1));
            }
            c.m_columns.push_back(k);
            if (c.m_method == "sigmoid") {
                c.m_sigmoid.push_back({col.at("a").get<double>(), col.at("b").get<double>()});
            } else {
                IsotonicCalibrator iso{col.at("x").get<std::vector<double>>(), col.at("y").get<std::vector<double>>()};
                if (iso.x.empty() || iso.x.size() != iso.y.size()) {
                    throw UsageError(where + ": isotonic column " + std::to_string(k) + " has mismatched points");
                }
                c.m_isotonic.push_back(std::move(iso));
            }
        }
    } catch (const nlohmann::json::exception& e) {
        throw UsageError(where + ": missing or malformed field (" + e.what() + ")");
    }
    return c;
}

std::unique_ptr<Model> calibrated(std::unique_ptr<Model> inner, Calibration calibration)
{
    return std::make_unique<CalibratedModel>(std::move(inner), std::move(calibration));
}

std::unique_ptr<Model> with_saved_calibration(std::unique_ptr<Model> model, const std::filesystem::path& dir)
{
    if (!std::filesystem::exists(dir / k_calibration_file)) {
        return model;
    }
    return calibrated(std::move(model), CalibratedModel::read_calibration(dir));
}

} // namespace mlrun::ml
