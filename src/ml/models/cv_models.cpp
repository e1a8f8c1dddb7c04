// OpenCV ml models: random_forest (RTrees), boost (Boost), svm (SVM, RBF), knn (KNearest).
// The only file in src/ml/models that includes OpenCV.
//
// Probabilities:
//  - random_forest: share of the trees' votes per class (RTrees::getVotes).
//  - boost (default: Gentle AdaBoost, depth-2 trees): OpenCV's Boost is binary only, so
//    more than 2 classes are one-vs-rest, one booster per class. A booster's raw sum F
//    (PREDICT_SUM) becomes p = 1/(1+e^(-2F)), the logistic link of additive logistic
//    boosting (Friedman, Hastie, Tibshirani 2000); one-vs-rest scores are normalised to 1.
//  - svm: binary = one SVM; more classes = one-vs-rest SVMs (OpenCV's own multi-class SVM is
//    one-vs-one voting, which has no usable score). Each decision value goes through a
//    sigmoid fitted on the training decisions (Platt scaling, the algorithm of Lin, Lin and
//    Weng 2007, as in libsvm); one-vs-rest probabilities are normalised to sum to 1.
//  - knn: share of the k nearest neighbours' votes per class.
// Determinism: cv::theRNG() is thread-local in OpenCV 4; fit seeds it in the calling thread.
#include "ml/models/factories.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "ml/search.hpp"

#include <opencv2/core.hpp>
#include <opencv2/ml.hpp>

#include <cmath>
#include <limits>

namespace mlrun::ml::detail {
namespace {

cv::Mat to_mat(const Matrix& x)
{
    // Wraps our buffer (no copy); OpenCV only reads it.
    return cv::Mat(static_cast<int>(x.rows), static_cast<int>(x.cols), CV_32F, const_cast<float*>(x.data.data()));
}

cv::Mat to_labels(const std::vector<int>& y, int positive = -1)
{
    cv::Mat m(static_cast<int>(y.size()), 1, CV_32S);
    for (size_t i = 0; i < y.size(); ++i) {
        m.at<int>(static_cast<int>(i)) = positive < 0 ? y[i] : (y[i] == positive ? 1 : 0);
    }
    return m;
}

// Platt scaling: p(y=1 | d) = 1 / (1 + exp(a d + b)), fitted by Newton's method with
// backtracking on regularised targets (Lin, Lin and Weng 2007, "A note on Platt's
// probabilistic outputs for support vector machines").
std::pair<double, double> fit_platt(const std::vector<double>& dec, const std::vector<int>& label)
{
    double prior1 = 0;
    double prior0 = 0;
    for (int l : label) {
        (l ? prior1 : prior0) += 1;
    }
    const double hi = (prior1 + 1) / (prior1 + 2);
    const double lo = 1 / (prior0 + 2);
    const size_t n = dec.size();
    std::vector<double> t(n);
    for (size_t i = 0; i < n; ++i) {
        t[i] = label[i] ? hi : lo;
    }
    double a = 0;
    double b = std::log((prior0 + 1) / (prior1 + 1));
    const auto objective = [&](double aa, double bb) {
        double f = 0;
        for (size_t i = 0; i < n; ++i) {
            const double z = dec[i] * aa + bb;
            f += z >= 0 ? t[i] * z + std::log1p(std::exp(-z)) : (t[i] - 1) * z + std::log1p(std::exp(z));
        }
        return f;
    };
    double fval = objective(a, b);
    for (int iter = 0; iter < 100; ++iter) {
        double h11 = 1e-12;
        double h22 = 1e-12;
        double h21 = 0;
        double g1 = 0;
        double g2 = 0;
        for (size_t i = 0; i < n; ++i) {
            const double z = dec[i] * a + b;
            const double p = z >= 0 ? std::exp(-z) / (1 + std::exp(-z)) : 1 / (1 + std::exp(z));
            const double q = 1 - p;
            const double d2 = p * q;
            h11 += dec[i] * dec[i] * d2;
            h22 += d2;
            h21 += dec[i] * d2;
            const double d1 = t[i] - p;
            g1 += dec[i] * d1;
            g2 += d1;
        }
        if (std::fabs(g1) < 1e-5 && std::fabs(g2) < 1e-5) {
            break;
        }
        const double det = h11 * h22 - h21 * h21;
        const double da = -(h22 * g1 - h21 * g2) / det;
        const double db = -(-h21 * g1 + h11 * g2) / det;
        const double gd = g1 * da + g2 * db;
        double step = 1;
        while (step >= 1e-10) {
            const double na = a + step * da;
            const double nb = b + step * db;
            const double nf = objective(na, nb);
            if (nf < fval + 1e-4 * step * gd) {
                a = na;
                b = nb;
                fval = nf;
                break;
            }
            step /= 2;
        }
        if (step < 1e-10) {
            break;
        }
    }
    return {a, b};
}

double sigmoid(double z)
{
    return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z));
}

class CvModel final : public Model {
public:
    CvModel(std::string kind, const nlohmann::json& params, int n_features, int n_classes)
        : m_kind(std::move(kind)), m_n_features(n_features), m_n_classes(n_classes)
    {
        if (m_kind == "random_forest") {
            m_params = {{"n_trees", param_int(params, "n_trees", 100, 1, 100000)},
                        {"max_depth", param_int(params, "max_depth", 10, 1, 1000)},
                        {"min_samples", param_int(params, "min_samples", 2, 1, 1 << 30)},
                        {"active_vars", param_int(params, "active_vars", 0, 0, 1 << 30)}};
        } else if (m_kind == "boost") {
            m_params = {
                {"n_trees", param_int(params, "n_trees", 100, 1, 100000)},
                {"max_depth", param_int(params, "max_depth", 2, 1, 1000)},
                {"boost_type", param_string(params, "boost_type", "gentle", {"real", "discrete", "gentle", "logit"})},
                {"weight_trim_rate", param_double(params, "weight_trim_rate", 0.95, 0.0, 1.0)}};
        } else if (m_kind == "svm") {
            // gamma 0 = 1 / n_features (features are standardised by preprocess).
            m_params = {{"c", param_double(params, "c", 1.0, 1e-12, 1e12)},
                        {"gamma", param_double(params, "gamma", 0.0, 0.0, 1e12)},
                        {"max_iter", param_int(params, "max_iter", 10000, 1, 1 << 30)}};
        } else {
            m_params = {{"k", param_int(params, "k", 5, 1, 100000)}};
        }
    }

    std::string kind() const override { return m_kind; }
    nlohmann::json params() const override { return m_params; }

    void fit(const LabeledSet& train, const LabeledSet& valid, const FitOptions& options) override
    {
        if (train.x.cols != m_n_features) {
            throw UsageError("train split has " + std::to_string(train.x.cols) + " features, the model "
                             + std::to_string(m_n_features));
        }
        if (train.x.rows == 0 || static_cast<std::int64_t>(train.y.size()) != train.x.rows) {
            throw UsageError("train split is empty or has no labels: nothing to train on");
        }
        cv::theRNG().state = options.seed == 0 ? 0x12345678ULL : options.seed;
        if (options.cancel && options.cancel->load(std::memory_order_relaxed)) {
            throw Aborted("training cancelled");
        }
        m_models.clear();
        m_platt.clear();
        try {
            const cv::Mat x = to_mat(train.x);
            if (m_kind == "random_forest" || m_kind == "knn") {
                m_models.push_back(train_one(x, to_labels(train.y)));
            } else {
                // One binary model (positive class 1), or one per class (one-vs-rest).
                const int n_models = m_n_classes == 2 ? 1 : m_n_classes;
                for (int k = 0; k < n_models; ++k) {
                    const int positive = m_n_classes == 2 ? 1 : k;
                    const cv::Mat labels = to_labels(train.y, positive);
                    const int n_pos = cv::countNonZero(labels);
                    if (n_pos == 0 || n_pos == labels.rows) {
                        // A class absent from (or alone in) the training split: no model, score 0.
                        m_models.emplace_back();
                        m_platt.emplace_back(0.0, 0.0);
                        continue;
                    }
                    m_models.push_back(train_one(x, labels));
                    if (m_kind == "svm") {
                        const std::vector<double> dec = raw_scores(*m_models.back(), x);
                        std::vector<int> l(static_cast<size_t>(labels.rows));
                        for (int i = 0; i < labels.rows; ++i) {
                            l[static_cast<size_t>(i)] = labels.at<int>(i);
                        }
                        m_platt.push_back(fit_platt(dec, l));
                    } else {
                        m_platt.emplace_back(0.0, 0.0);
                    }
                    if (options.cancel && options.cancel->load(std::memory_order_relaxed)) {
                        throw Aborted("training cancelled");
                    }
                }
            }
        } catch (const cv::Exception& e) {
            throw TaskFailed("opencv " + m_kind + " training failed: " + e.what());
        }
        if (options.on_epoch) {
            // One "epoch": lets the task report its validation metric like the torch models.
            EpochReport report;
            report.epoch = 1;
            report.epochs = 1;
            report.train_loss = std::numeric_limits<double>::quiet_NaN();
            report.valid_loss = std::numeric_limits<double>::quiet_NaN();
            report.valid_metric = std::numeric_limits<double>::quiet_NaN();
            if (valid.x.rows > 0 && static_cast<std::int64_t>(valid.y.size()) == valid.x.rows
                && valid.x.cols == m_n_features) {
                report.valid_metric = metric_value(options.metric, valid.y, predict_proba(valid.x));
            }
            options.on_epoch(report);
        }
    }

    Matrix predict_proba(const Matrix& x) const override
    {
        if (x.cols != m_n_features) {
            throw UsageError("model " + m_kind + " expects " + std::to_string(m_n_features) + " features, got "
                             + std::to_string(x.cols));
        }
        if (m_models.empty()) {
            throw UsageError("model " + m_kind + " is not trained");
        }
        Matrix out(x.rows, m_n_classes);
        if (x.rows == 0) {
            return out;
        }
        const cv::Mat xm = to_mat(x);
        try {
            if (m_kind == "random_forest") {
                cv::Mat votes;
                m_models[0].dynamicCast<cv::ml::RTrees>()->getVotes(xm, votes, 0);
                // Row 0 holds the class labels of the columns, then one row of votes per sample.
                for (std::int64_t r = 0; r < x.rows; ++r) {
                    double total = 0;
                    for (int c = 0; c < votes.cols; ++c) {
                        total += votes.at<int>(static_cast<int>(r) + 1, c);
                    }
                    for (int c = 0; c < votes.cols; ++c) {
                        const int label = votes.at<int>(0, c);
                        if (label >= 0 && label < m_n_classes && total > 0) {
                            out.at(r, label) = static_cast<float>(votes.at<int>(static_cast<int>(r) + 1, c) / total);
                        }
                    }
                }
            } else if (m_kind == "knn") {
                const int k = m_params["k"].get<int>();
                auto knn = m_models[0].dynamicCast<cv::ml::KNearest>();
                cv::Mat results;
                cv::Mat neighbours;
                knn->findNearest(xm, k, results, neighbours);
                for (std::int64_t r = 0; r < x.rows; ++r) {
                    for (int j = 0; j < neighbours.cols; ++j) {
                        const int label = static_cast<int>(std::lround(neighbours.at<float>(static_cast<int>(r), j)));
                        if (label >= 0 && label < m_n_classes) {
                            out.at(r, label) += 1.0f / static_cast<float>(neighbours.cols);
                        }
                    }
                }
            } else {
                std::vector<std::vector<double>> scores;
                for (size_t m = 0; m < m_models.size(); ++m) {
                    std::vector<double> s(static_cast<size_t>(x.rows), 0.0);
                    if (!m_models[m].empty()) {
                        s = raw_scores(*m_models[m], xm);
                        for (double& v : s) {
                            v = m_kind == "svm" ? sigmoid(-(m_platt[m].first * v + m_platt[m].second)) : sigmoid(2 * v);
                        }
                    }
                    scores.push_back(std::move(s));
                }
                for (std::int64_t r = 0; r < x.rows; ++r) {
                    const size_t ri = static_cast<size_t>(r);
                    if (m_n_classes == 2) {
                        out.at(r, 1) = static_cast<float>(scores[0][ri]);
                        out.at(r, 0) = static_cast<float>(1 - scores[0][ri]);
                        continue;
                    }
                    double total = 0;
                    for (const auto& s : scores) {
                        total += s[ri];
                    }
                    for (int c = 0; c < m_n_classes; ++c) {
                        out.at(r, c) = static_cast<float>(total > 0 ? scores[static_cast<size_t>(c)][ri] / total
                                                                    : 1.0 / m_n_classes);
                    }
                }
            }
        } catch (const cv::Exception& e) {
            throw TaskFailed("opencv " + m_kind + " prediction failed: " + e.what());
        }
        return out;
    }

    void save_weights(const std::filesystem::path& dir) const override
    {
        nlohmann::json files = nlohmann::json::array();
        for (size_t m = 0; m < m_models.size(); ++m) {
            if (m_models[m].empty()) {
                files.push_back(nullptr);
                continue;
            }
            const std::string name = "opencv_" + std::to_string(m) + ".yml.gz";
            // FileStorage writes in place: write a temp name, then rename (atomic).
            const std::filesystem::path tmp = dir / (".tmp_" + name);
            m_models[m]->save(tmp.string());
            std::filesystem::rename(tmp, dir / name);
            files.push_back(name);
        }
        nlohmann::json platt = nlohmann::json::array();
        for (const auto& [a, b] : m_platt) {
            platt.push_back({a, b});
        }
        write_file_atomic(dir / "opencv_model.json", nlohmann::json({{"files", files}, {"platt", platt}}).dump(2));
    }

    void load_weights(const std::filesystem::path& dir) override
    {
        const std::filesystem::path index = dir / "opencv_model.json";
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(read_file(index));
            m_models.clear();
            m_platt.clear();
            for (const auto& p : j.at("platt")) {
                m_platt.emplace_back(p.at(0).get<double>(), p.at(1).get<double>());
            }
            for (const auto& f : j.at("files")) {
                if (f.is_null()) {
                    m_models.emplace_back();
                    continue;
                }
                const std::filesystem::path path = dir / f.get<std::string>();
                m_models.push_back(load_one(path));
            }
        } catch (const nlohmann::json::exception& e) {
            throw UsageError(index.string() + ": not a valid OpenCV model index (" + e.what() + ")");
        }
        if (m_models.empty()) {
            throw UsageError(index.string() + ": lists no model file");
        }
        if (m_kind != "random_forest" && m_kind != "knn" && m_platt.size() != m_models.size()) {
            throw UsageError(index.string() + ": calibration and model files do not match");
        }
    }

private:
    cv::Ptr<cv::ml::StatModel> train_one(const cv::Mat& x, const cv::Mat& labels) const
    {
        cv::Ptr<cv::ml::StatModel> model;
        if (m_kind == "random_forest") {
            auto rf = cv::ml::RTrees::create();
            rf->setMaxDepth(m_params["max_depth"].get<int>());
            rf->setMinSampleCount(m_params["min_samples"].get<int>());
            rf->setActiveVarCount(m_params["active_vars"].get<int>());
            rf->setCalculateVarImportance(false);
            rf->setTermCriteria(cv::TermCriteria(cv::TermCriteria::MAX_ITER, m_params["n_trees"].get<int>(), 0));
            model = rf;
        } else if (m_kind == "boost") {
            auto b = cv::ml::Boost::create();
            const std::string type = m_params["boost_type"].get<std::string>();
            b->setBoostType(type == "real"       ? cv::ml::Boost::REAL
                            : type == "discrete" ? cv::ml::Boost::DISCRETE
                            : type == "gentle"   ? cv::ml::Boost::GENTLE
                                                 : cv::ml::Boost::LOGIT);
            b->setWeakCount(m_params["n_trees"].get<int>());
            b->setMaxDepth(m_params["max_depth"].get<int>());
            b->setWeightTrimRate(m_params["weight_trim_rate"].get<double>());
            b->setUseSurrogates(false);
            b->setCVFolds(0);
            model = b;
        } else if (m_kind == "svm") {
            auto s = cv::ml::SVM::create();
            s->setType(cv::ml::SVM::C_SVC);
            s->setKernel(cv::ml::SVM::RBF);
            s->setC(m_params["c"].get<double>());
            const double gamma = m_params["gamma"].get<double>();
            s->setGamma(gamma > 0 ? gamma : 1.0 / std::max(1, m_n_features));
            s->setTermCriteria(cv::TermCriteria(cv::TermCriteria::MAX_ITER + cv::TermCriteria::EPS,
                                                m_params["max_iter"].get<int>(), 1e-6));
            model = s;
        } else {
            auto k = cv::ml::KNearest::create();
            k->setDefaultK(m_params["k"].get<int>());
            k->setIsClassifier(true);
            model = k;
        }
        cv::Ptr<cv::ml::TrainData> data = cv::ml::TrainData::create(x, cv::ml::ROW_SAMPLE, labels);
        if (!model->train(data)) {
            throw TaskFailed("opencv " + m_kind + " training did not converge");
        }
        return model;
    }

    // Boost: the sum of the weak learners (> 0 means label 1). SVM: the decision value.
    std::vector<double> raw_scores(const cv::ml::StatModel& model, const cv::Mat& x) const
    {
        cv::Mat out;
        const int flags = m_kind == "boost" ? static_cast<int>(cv::ml::DTrees::PREDICT_SUM)
                                            : static_cast<int>(cv::ml::StatModel::RAW_OUTPUT);
        model.predict(x, out, flags);
        std::vector<double> s(static_cast<size_t>(x.rows));
        for (int i = 0; i < x.rows; ++i) {
            s[static_cast<size_t>(i)] = out.at<float>(i);
        }
        return s;
    }

    cv::Ptr<cv::ml::StatModel> load_one(const std::filesystem::path& path) const
    {
        cv::Ptr<cv::ml::StatModel> model;
        try {
            if (m_kind == "random_forest") {
                model = cv::Algorithm::load<cv::ml::RTrees>(path.string());
            } else if (m_kind == "boost") {
                model = cv::Algorithm::load<cv::ml::Boost>(path.string());
            } else if (m_kind == "svm") {
                model = cv::Algorithm::load<cv::ml::SVM>(path.string());
            } else {
                model = cv::Algorithm::load<cv::ml::KNearest>(path.string());
            }
        } catch (const cv::Exception& e) {
            throw UsageError(path.string() + ": cannot load the OpenCV " + m_kind + " model (" + e.err + ")");
        }
        if (model.empty() || !model->isTrained()) {
            throw UsageError(path.string() + ": not a trained OpenCV " + m_kind + " model");
        }
        return model;
    }

    std::string m_kind;
    int m_n_features;
    int m_n_classes;
    nlohmann::json m_params;
    std::vector<cv::Ptr<cv::ml::StatModel>> m_models;
    std::vector<std::pair<double, double>> m_platt; // per binary model: Platt (a, b) for svm
};

} // namespace

const std::vector<std::string>& cv_kinds()
{
    static const std::vector<std::string> kinds = {"random_forest", "boost", "svm", "knn"};
    return kinds;
}

std::unique_ptr<Model> make_cv_model(const std::string& kind, const nlohmann::json& params, int n_features,
                                     int n_classes, const ImageShape& shape)
{
    return std::make_unique<CvModel>(kind, params, n_features, n_classes);
}

} // namespace mlrun::ml::detail
