// Gradient-boosted trees through XGBoost's C API (Debian libxgboost-dev): kind "xgboost".
// The only file that includes xgboost/.
//
//  - Objective binary:logistic (2 classes) or multi:softprob (more); tree_method hist.
//  - Early stopping on the validation split's log loss (computed by ml::log_loss, equal to
//    scikit-learn's): training stops after model.early_stopping_rounds rounds without a
//    strictly lower loss, and the booster is cut back to the best round. 0 = never stop
//    (every round is kept).
//  - Determinism: seeded (`seed`; subsample/colsample draw from it), and `nthread` is the
//    task's core share. hist accumulates its gradient histograms in double precision, so the
//    per-thread summation order does not reach the float model: tests/ml/models_test.cpp
//    checks that 1 and 4 threads give identical probabilities.
//  - Weights: the booster as XGBoost JSON (xgboost_model.json), written atomically.
#include "ml/models/factories.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "ml/metrics.hpp"
#include "ml/search.hpp"

#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <optional>

namespace mlrun::ml::detail {
namespace {

constexpr const char* k_weights_file = "xgboost_model.json";
constexpr int k_report_every = 10; // rounds between epoch reports

// Throws TaskFailed with XGBoost's own message when a C API call fails.
void check(int rc, const std::string& what)
{
    if (rc != 0) {
        throw TaskFailed("xgboost " + what + " failed: " + XGBGetLastError());
    }
}

// Owns a DMatrix handle.
class DMatrix {
public:
    DMatrix(const Matrix& x, const std::vector<int>* y)
    {
        check(XGDMatrixCreateFromMat(x.data.data(), static_cast<bst_ulong>(x.rows), static_cast<bst_ulong>(x.cols),
                                     std::numeric_limits<float>::quiet_NaN(), &m_handle),
              "DMatrix creation");
        if (y) {
            std::vector<float> labels(y->begin(), y->end());
            check(XGDMatrixSetFloatInfo(m_handle, "label", labels.data(), static_cast<bst_ulong>(labels.size())),
                  "setting labels");
        }
    }
    ~DMatrix() { XGDMatrixFree(m_handle); }
    DMatrix(const DMatrix&) = delete;
    DMatrix& operator=(const DMatrix&) = delete;
    DMatrixHandle get() const { return m_handle; }

private:
    DMatrixHandle m_handle = nullptr;
};

class XgbModel final : public Model {
public:
    XgbModel(const nlohmann::json& params, int n_features, int n_classes)
        : m_n_features(n_features), m_n_classes(n_classes)
    {
        m_params = {{"n_estimators", param_int(params, "n_estimators", 500, 1, 100000)},
                    {"learning_rate", param_double(params, "learning_rate", 0.05, 1e-6, 1.0)},
                    {"max_depth", param_int(params, "max_depth", 4, 1, 64)},
                    {"min_child_weight", param_double(params, "min_child_weight", 1.0, 0.0, 1e9)},
                    {"subsample", param_double(params, "subsample", 0.8, 1e-3, 1.0)},
                    {"colsample_bytree", param_double(params, "colsample_bytree", 0.8, 1e-3, 1.0)},
                    {"reg_lambda", param_double(params, "reg_lambda", 1.0, 0.0, 1e9)},
                    {"early_stopping_rounds", param_int(params, "early_stopping_rounds", 20, 0, 100000)}};
    }
    ~XgbModel() override { free_booster(); }
    XgbModel(const XgbModel&) = delete;
    XgbModel& operator=(const XgbModel&) = delete;

    std::string kind() const override { return "xgboost"; }

    nlohmann::json params() const override
    {
        nlohmann::json p = m_params;
        if (m_rounds > 0) {
            p["rounds_kept"] = m_rounds; // informational: the trees kept after early stopping
        }
        return p;
    }

    void fit(const LabeledSet& train, const LabeledSet& valid, const FitOptions& options) override
    {
        if (train.x.cols != m_n_features) {
            throw UsageError("train split has " + std::to_string(train.x.cols) + " features, the model "
                             + std::to_string(m_n_features));
        }
        if (train.x.rows == 0 || static_cast<std::int64_t>(train.y.size()) != train.x.rows) {
            throw UsageError("train split is empty or has no labels: nothing to train on");
        }
        const bool has_valid = valid.x.rows > 0 && static_cast<std::int64_t>(valid.y.size()) == valid.x.rows
                               && valid.x.cols == m_n_features;
        free_booster();
        const DMatrix dtrain(train.x, &train.y);
        std::optional<DMatrix> dvalid;
        if (has_valid) {
            dvalid.emplace(valid.x, &valid.y);
        }
        DMatrixHandle cache[2] = {dtrain.get(), has_valid ? dvalid->get() : nullptr};
        check(XGBoosterCreate(cache, has_valid ? 2 : 1, &m_booster), "booster creation");
        set_params(options);

        const int n_rounds = m_params["n_estimators"].get<int>();
        const int patience = m_params["early_stopping_rounds"].get<int>();
        int best_round = -1;
        double best_loss = std::numeric_limits<double>::infinity();
        for (int round = 0; round < n_rounds; ++round) {
            if (options.cancel && options.cancel->load(std::memory_order_relaxed)) {
                throw Aborted("training cancelled");
            }
            check(XGBoosterUpdateOneIter(m_booster, round, dtrain.get()), "training round");
            double valid_loss = std::numeric_limits<double>::quiet_NaN();
            Matrix valid_proba;
            if (has_valid) {
                valid_proba = predict(dvalid->get(), valid.x.rows);
                valid_loss = log_loss(valid.y, valid_proba);
                if (valid_loss < best_loss) {
                    best_loss = valid_loss;
                    best_round = round;
                }
            }
            const bool stop = has_valid && patience > 0 && round - best_round >= patience;
            const bool last = stop || round + 1 == n_rounds;
            if (options.on_epoch && (last || (round + 1) % k_report_every == 0)) {
                EpochReport report;
                report.epoch = round + 1;
                report.epochs = n_rounds;
                report.train_loss = log_loss(train.y, predict(dtrain.get(), train.x.rows));
                report.valid_loss = valid_loss;
                report.valid_metric = has_valid ? metric_value(options.metric, valid.y, valid_proba)
                                                : std::numeric_limits<double>::quiet_NaN();
                options.on_epoch(report);
            }
            if (stop) {
                break;
            }
        }
        int rounds = 0;
        check(XGBoosterBoostedRounds(m_booster, &rounds), "counting rounds");
        if (patience > 0 && best_round >= 0 && best_round + 1 < rounds) {
            // Keep the trees up to the best validation round only.
            BoosterHandle sliced = nullptr;
            check(XGBoosterSlice(m_booster, 0, best_round + 1, 1, &sliced), "cutting back to the best round");
            free_booster();
            m_booster = sliced;
            rounds = best_round + 1;
        }
        m_rounds = rounds;
    }

    Matrix predict_proba(const Matrix& x) const override
    {
        if (x.cols != m_n_features) {
            throw UsageError("model xgboost expects " + std::to_string(m_n_features) + " features, got "
                             + std::to_string(x.cols));
        }
        if (!m_booster) {
            throw UsageError("model xgboost is not trained");
        }
        if (x.rows == 0) {
            return Matrix(0, m_n_classes);
        }
        const DMatrix d(x, nullptr);
        return predict(d.get(), x.rows);
    }

    void save_weights(const std::filesystem::path& dir) const override
    {
        if (!m_booster) {
            throw UsageError("model xgboost is not trained: nothing to save");
        }
        bst_ulong len = 0;
        const char* buf = nullptr;
        std::string bytes;
        {
            const std::lock_guard<std::mutex> lock(m_mutex);
            check(XGBoosterSaveModelToBuffer(m_booster, R"({"format": "json"})", &len, &buf), "saving the model");
            bytes.assign(buf, static_cast<size_t>(len)); // the buffer is XGBoost's until the next call
        }
        write_file_atomic(dir / k_weights_file, bytes);
    }

    void load_weights(const std::filesystem::path& dir) override
    {
        const std::filesystem::path path = dir / k_weights_file;
        if (!std::filesystem::is_regular_file(path)) {
            throw UsageError(dir.string() + ": no " + k_weights_file + " (not an xgboost model folder)");
        }
        const std::string bytes = read_file(path);
        free_booster();
        check(XGBoosterCreate(nullptr, 0, &m_booster), "booster creation");
        if (XGBoosterLoadModelFromBuffer(m_booster, bytes.data(), static_cast<bst_ulong>(bytes.size())) != 0) {
            throw UsageError(path.string() + ": not a valid XGBoost model (" + XGBGetLastError() + ")");
        }
        check(XGBoosterSetParam(m_booster, "verbosity", "0"), "setting verbosity");
        check(XGBoosterSetParam(m_booster, "nthread", "1"), "setting nthread");
        check(XGBoosterBoostedRounds(m_booster, &m_rounds), "counting rounds");
    }

    std::map<std::string, std::vector<double>> feature_importance() const override
    {
        std::map<std::string, std::vector<double>> out;
        if (!m_booster) {
            return out;
        }
        const std::lock_guard<std::mutex> lock(m_mutex);
        for (const char* type : {"gain", "total_gain", "weight"}) {
            const std::string config = std::string(R"({"importance_type": ")") + type + "\"}";
            bst_ulong n = 0;
            const char** names = nullptr;
            bst_ulong dim = 0;
            const bst_ulong* shape = nullptr;
            const float* scores = nullptr;
            check(XGBoosterFeatureScore(m_booster, config.c_str(), &n, &names, &dim, &shape, &scores),
                  "feature importance");
            // Features are named f0, f1, ... (no names were given); unused ones are absent.
            std::vector<double> values(static_cast<size_t>(m_n_features), 0.0);
            for (bst_ulong i = 0; i < n; ++i) {
                const std::string name = names[i];
                if (name.size() > 1 && name[0] == 'f') {
                    const long index = std::strtol(name.c_str() + 1, nullptr, 10);
                    if (index >= 0 && index < m_n_features) {
                        values[static_cast<size_t>(index)] = scores[i];
                    }
                }
            }
            out[type] = std::move(values);
        }
        return out;
    }

private:
    void set_params(const FitOptions& options)
    {
        const auto set = [&](const char* name, const std::string& value) {
            check(XGBoosterSetParam(m_booster, name, value.c_str()), std::string("parameter ") + name);
        };
        const auto num = [&](const char* key) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.17g", m_params[key].get<double>());
            return std::string(buf);
        };
        set("verbosity", "0");
        set("tree_method", "hist");
        set("nthread", std::to_string(std::max(1, options.threads)));
        // XGBoost's seed is a signed 64-bit value; fold ours into its range.
        set("seed",
            std::to_string(options.seed % static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())));
        if (m_n_classes == 2) {
            set("objective", "binary:logistic");
        } else {
            set("objective", "multi:softprob");
            set("num_class", std::to_string(m_n_classes));
        }
        set("eta", num("learning_rate"));
        set("max_depth", std::to_string(m_params["max_depth"].get<int>()));
        set("min_child_weight", num("min_child_weight"));
        set("subsample", num("subsample"));
        set("colsample_bytree", num("colsample_bytree"));
        set("lambda", num("reg_lambda"));
    }

    // Probabilities (rows x n_classes) of the whole booster on a DMatrix.
    Matrix predict(DMatrixHandle d, std::int64_t rows) const
    {
        const bst_ulong* shape = nullptr;
        bst_ulong dim = 0;
        const float* result = nullptr;
        Matrix out(rows, m_n_classes);
        const std::lock_guard<std::mutex> lock(m_mutex);
        check(XGBoosterPredictFromDMatrix(
                  m_booster, d,
                  R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": true})",
                  &shape, &dim, &result),
              "prediction");
        bst_ulong total = 1;
        for (bst_ulong i = 0; i < dim; ++i) {
            total *= shape[i];
        }
        const bst_ulong per_row = m_n_classes == 2 ? 1 : static_cast<bst_ulong>(m_n_classes);
        if (total != static_cast<bst_ulong>(rows) * per_row) {
            throw TaskFailed("xgboost prediction returned " + std::to_string(total) + " values for "
                             + std::to_string(rows) + " rows");
        }
        for (std::int64_t r = 0; r < rows; ++r) {
            if (m_n_classes == 2) {
                const float p = result[r];
                out.at(r, 0) = 1.0f - p;
                out.at(r, 1) = p;
            } else {
                for (int c = 0; c < m_n_classes; ++c) {
                    out.at(r, c) = result[static_cast<size_t>(r) * per_row + static_cast<size_t>(c)];
                }
            }
        }
        return out;
    }

    void free_booster()
    {
        if (m_booster) {
            XGBoosterFree(m_booster);
            m_booster = nullptr;
        }
    }

    int m_n_features;
    int m_n_classes;
    nlohmann::json m_params;
    BoosterHandle m_booster = nullptr;
    int m_rounds = 0;
    mutable std::mutex m_mutex; // XGBoost's prediction cache and result buffers are per booster
};

} // namespace

const std::vector<std::string>& xgb_kinds()
{
    static const std::vector<std::string> kinds = {"xgboost"};
    return kinds;
}

std::unique_ptr<Model> make_xgb_model(const std::string& kind, const nlohmann::json& params, int n_features,
                                      int n_classes, const ImageShape& shape)
{
    (void)kind;
    (void)shape;
    return std::make_unique<XgbModel>(params, n_features, n_classes);
}

} // namespace mlrun::ml::detail
