// libtorch models: logreg, mlp, cnn. The only file in src/ml/models that includes torch.
//
// Determinism: libtorch's default generator is global to the process, and the pipeline
// engine trains several models at once on TBB threads. So every model owns a generator
// seeded from FitOptions.seed, initialises every parameter from it, shuffles with its own
// std::mt19937_64 and uses no dropout: the result does not depend on what else runs.
// Threads: at::set_num_threads is process-global, so fit never calls it (the engine does).
#include "ml/models/device.hpp"
#include "ml/models/factories.hpp"

#include "core/error.hpp"
#include "ml/metrics.hpp"
#include "ml/search.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>

namespace mlrun::ml::detail {
namespace {

namespace nn = torch::nn;

// Hidden layers with ReLU, then a linear output (logits). No hidden layer = logistic regression.
class MlpImpl : public nn::Module {
public:
    MlpImpl(int n_in, const std::vector<int>& hidden, int n_out)
    {
        int prev = n_in;
        for (size_t i = 0; i < hidden.size(); ++i) {
            m_layers.push_back(register_module("fc" + std::to_string(i), nn::Linear(prev, hidden[i])));
            prev = hidden[i];
        }
        m_layers.push_back(register_module("out", nn::Linear(prev, n_out)));
    }

    torch::Tensor forward(torch::Tensor x)
    {
        for (size_t i = 0; i + 1 < m_layers.size(); ++i) {
            x = torch::relu(m_layers[i]->forward(x));
        }
        return m_layers.back()->forward(x);
    }

private:
    std::vector<nn::Linear> m_layers;
};
TORCH_MODULE(Mlp);

// Two 3x3 conv layers (ReLU, 2x2 max pooling each), one hidden fc layer, linear output.
class CnnImpl : public nn::Module {
public:
    CnnImpl(const ImageShape& shape, int c1, int c2, int fc, int n_out) : m_shape(shape)
    {
        m_conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(shape.channels, c1, 3).padding(1)));
        m_conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(c1, c2, 3).padding(1)));
        const std::int64_t flat = static_cast<std::int64_t>(c2) * (shape.height / 4) * (shape.width / 4);
        m_fc = register_module("fc", nn::Linear(flat, fc));
        m_out = register_module("out", nn::Linear(fc, n_out));
    }

    torch::Tensor forward(torch::Tensor x)
    {
        x = x.view({-1, m_shape.channels, m_shape.height, m_shape.width});
        x = torch::max_pool2d(torch::relu(m_conv1->forward(x)), 2);
        x = torch::max_pool2d(torch::relu(m_conv2->forward(x)), 2);
        x = torch::relu(m_fc->forward(x.flatten(1)));
        return m_out->forward(x);
    }

private:
    ImageShape m_shape;
    nn::Conv2d m_conv1{nullptr};
    nn::Conv2d m_conv2{nullptr};
    nn::Linear m_fc{nullptr};
    nn::Linear m_out{nullptr};
};
TORCH_MODULE(Cnn);

torch::Tensor to_tensor(const Matrix& x)
{
    // from_blob does not own the memory: clone so the tensor outlives the matrix.
    return torch::from_blob(const_cast<float*>(x.data.data()), {x.rows, x.cols}, torch::kFloat32).clone();
}

// Fisher-Yates with our own engine: std::shuffle's draws are implementation-defined.
void shuffle(std::vector<std::int64_t>& v, std::mt19937_64& rng)
{
    for (size_t i = v.size(); i > 1; --i) {
        std::swap(v[i - 1], v[rng() % i]);
    }
}

class TorchModel final : public Model {
public:
    TorchModel(std::string kind, const nlohmann::json& params, int n_features, int n_classes, const ImageShape& shape)
        : m_kind(std::move(kind)), m_n_features(n_features), m_n_classes(n_classes), m_shape(shape)
    {
        m_lr = param_double(params, "lr", 0.01, 1e-12, 1e6);
        m_epochs = param_int(params, "epochs", 30, 1, 1000000);
        m_batch_size = param_int(params, "batch_size", 32, 1, 1 << 24);
        m_weight_decay = param_double(params, "weight_decay", 0.0, 0.0, 1e6);
        m_optimizer = param_string(params, "optimizer", "adam", {"adam", "sgd"});
        m_momentum = param_double(params, "momentum", 0.9, 0.0, 1.0);
        m_patience = param_int(params, "patience", 5, 0, 1000000); // 0 = no early stopping
        // auto and cuda run on CUDA where there is one (choose_device refused cuda without one).
        const std::string device = param_string(params, "device", "auto", {"auto", "cpu", "cuda"});
        m_device = device != "cpu" && torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::kCPU;
        const int n_out = n_classes == 2 ? 1 : n_classes; // binary: one logit + sigmoid
        if (m_kind == "logreg") {
            m_module = nn::AnyModule(Mlp(n_features, std::vector<int>{}, n_out));
        } else if (m_kind == "mlp") {
            m_hidden = param_int_list(params, "hidden", {64, 32}, 1);
            m_module = nn::AnyModule(Mlp(n_features, m_hidden, n_out));
        } else {
            if (!shape.is_image()) {
                throw UsageError(
                    "model.kind cnn needs an image data set (the preprocessed splits have no image shape); "
                    "use mlp or another kind for tables");
            }
            if (shape.height < 4 || shape.width < 4) {
                throw UsageError("model.kind cnn needs images of at least 4x4 pixels (got "
                                 + std::to_string(shape.height) + "x" + std::to_string(shape.width) + ")");
            }
            if (static_cast<std::int64_t>(shape.channels) * shape.height * shape.width != n_features) {
                throw UsageError("model.kind cnn: image shape " + std::to_string(shape.channels) + "x"
                                 + std::to_string(shape.height) + "x" + std::to_string(shape.width) + " does not match "
                                 + std::to_string(n_features) + " features");
            }
            m_channels = param_int_list(params, "channels", {16, 32}, 1);
            if (m_channels.size() != 2) {
                throw UsageError("model.channels: expected a list of 2 conv channel counts, e.g. [16, 32]");
            }
            m_fc = param_int(params, "fc", 64, 1, 1 << 20);
            m_module = nn::AnyModule(Cnn(shape, m_channels[0], m_channels[1], m_fc, n_out));
        }
    }

    std::string kind() const override { return m_kind; }

    nlohmann::json params() const override
    {
        nlohmann::json p = {{"lr", m_lr},
                            {"epochs", m_epochs},
                            {"batch_size", m_batch_size},
                            {"weight_decay", m_weight_decay},
                            {"optimizer", m_optimizer},
                            {"patience", m_patience}};
        if (m_optimizer == "sgd") {
            p["momentum"] = m_momentum;
        }
        if (m_kind == "mlp") {
            p["hidden"] = m_hidden;
        }
        if (m_kind == "cnn") {
            p["channels"] = m_channels;
            p["fc"] = m_fc;
        }
        if (m_epochs_run > 0) {
            p["epochs_run"] = m_epochs_run;
            p["best_epoch"] = m_best_epoch;
        }
        return p;
    }

    void fit(const LabeledSet& train, const LabeledSet& valid, const FitOptions& options) override
    {
        check_set(train, "train");
        if (train.x.rows == 0) {
            throw UsageError("train split is empty: nothing to train on");
        }
        const bool has_valid = valid.x.rows > 0 && !valid.y.empty();
        if (has_valid) {
            check_set(valid, "valid");
        }
        const bool lower = lower_is_better(options.metric);
        auto net = m_module.ptr();
        net->to(torch::kCPU);
        init_parameters(*net, options.seed); // drawn on the CPU, so CUDA starts from the same weights
        net->to(m_device);

        torch::Tensor x = to_tensor(train.x).to(m_device);
        torch::Tensor y = targets(train.y).to(m_device);
        std::vector<torch::Tensor> params = net->parameters();
        std::unique_ptr<torch::optim::Optimizer> optimizer;
        if (m_optimizer == "adam") {
            optimizer = std::make_unique<torch::optim::Adam>(
                params, torch::optim::AdamOptions(m_lr).weight_decay(m_weight_decay));
        } else {
            optimizer = std::make_unique<torch::optim::SGD>(
                params, torch::optim::SGDOptions(m_lr).momentum(m_momentum).weight_decay(m_weight_decay));
        }

        std::mt19937_64 rng(options.seed ^ 0x9e3779b97f4a7c15ULL);
        std::vector<std::int64_t> order(static_cast<size_t>(train.x.rows));
        for (size_t i = 0; i < order.size(); ++i) {
            order[i] = static_cast<std::int64_t>(i);
        }
        double best = std::numeric_limits<double>::quiet_NaN();
        std::vector<torch::Tensor> best_state;
        int bad_epochs = 0;
        m_best_epoch = 0;
        m_epochs_run = 0;
        torch::Tensor x_valid = has_valid ? to_tensor(valid.x).to(m_device) : torch::Tensor();
        torch::Tensor y_valid = has_valid ? targets(valid.y).to(m_device) : torch::Tensor();

        for (int epoch = 1; epoch <= m_epochs; ++epoch) {
            if (options.cancel && options.cancel->load(std::memory_order_relaxed)) {
                throw Aborted("training cancelled");
            }
            net->train();
            shuffle(order, rng);
            torch::Tensor perm = torch::from_blob(order.data(), {train.x.rows}, torch::kInt64).to(m_device);
            // One gather per epoch, then contiguous slices per batch.
            torch::Tensor xs = x.index_select(0, perm);
            torch::Tensor ys = y.index_select(0, perm);
            double total = 0;
            for (std::int64_t start = 0; start < train.x.rows; start += m_batch_size) {
                const std::int64_t n = std::min<std::int64_t>(m_batch_size, train.x.rows - start);
                optimizer->zero_grad();
                torch::Tensor loss = loss_of(m_module.forward(xs.narrow(0, start, n)), ys.narrow(0, start, n));
                loss.backward();
                optimizer->step();
                total += loss.item<double>() * static_cast<double>(n);
            }
            EpochReport report;
            report.epoch = epoch;
            report.epochs = m_epochs;
            report.train_loss = total / static_cast<double>(train.x.rows);
            report.valid_loss = std::numeric_limits<double>::quiet_NaN();
            report.valid_metric = std::numeric_limits<double>::quiet_NaN();
            if (has_valid) {
                torch::NoGradGuard no_grad;
                net->eval();
                torch::Tensor logits = m_module.forward(x_valid);
                report.valid_loss = loss_of(logits, y_valid).item<double>();
                report.valid_metric = metric_value(options.metric, valid.y, to_proba(logits));
            }
            m_epochs_run = epoch;
            if (options.on_epoch) {
                options.on_epoch(report);
            }
            // Early stopping on the validation metric; keep the best weights. Without a
            // validation split (or while the metric is undefined) the last weights win.
            if (is_better(report.valid_metric, best, lower)) {
                best = report.valid_metric;
                m_best_epoch = epoch;
                bad_epochs = 0;
                best_state.clear();
                for (const torch::Tensor& t : net->parameters()) {
                    best_state.push_back(t.detach().clone());
                }
            } else if (has_valid && !std::isnan(best)) {
                ++bad_epochs;
                if (m_patience > 0 && bad_epochs >= m_patience) {
                    break;
                }
            }
        }
        if (!best_state.empty()) {
            torch::NoGradGuard no_grad;
            std::vector<torch::Tensor> now = net->parameters();
            for (size_t i = 0; i < now.size(); ++i) {
                now[i].copy_(best_state[i]);
            }
        } else {
            m_best_epoch = m_epochs_run;
        }
        net->eval();
    }

    Matrix predict_proba(const Matrix& x) const override
    {
        if (x.cols != m_n_features) {
            throw UsageError("model " + m_kind + " expects " + std::to_string(m_n_features) + " features, got "
                             + std::to_string(x.cols));
        }
        torch::NoGradGuard no_grad;
        auto net = m_module.ptr();
        net->eval();
        Matrix out(x.rows, m_n_classes);
        constexpr std::int64_t k_chunk = 8192; // bounds memory for large inputs (cnn activations)
        for (std::int64_t start = 0; start < x.rows; start += k_chunk) {
            const std::int64_t n = std::min(k_chunk, x.rows - start);
            torch::Tensor xt = torch::from_blob(const_cast<float*>(x.data.data()) + start * x.cols, {n, x.cols},
                                                torch::kFloat32)
                                   .to(m_device);
            Matrix part = to_proba(m_module.forward(xt));
            std::copy(part.data.begin(), part.data.end(), out.data.begin() + start * m_n_classes);
        }
        return out;
    }

    void save_weights(const std::filesystem::path& dir) const override
    {
        // torch::save writes in place: write a temp name, then rename (atomic).
        const std::filesystem::path tmp = dir / ".tmp_weights.pt";
        m_module.ptr()->to(torch::kCPU); // weights load anywhere, CUDA or not
        torch::save(m_module.ptr(), tmp.string());
        m_module.ptr()->to(m_device);
        std::filesystem::rename(tmp, dir / "weights.pt");
    }

    void load_weights(const std::filesystem::path& dir) override
    {
        const std::filesystem::path path = dir / "weights.pt";
        try {
            std::shared_ptr<nn::Module> net = m_module.ptr();
            net->to(torch::kCPU);
            torch::load(net, path.string());
            net->to(m_device);
            net->eval();
        } catch (const c10::Error& e) {
            throw UsageError(path.string() + ": not a " + m_kind + " weights file for this model card ("
                             + e.what_without_backtrace() + ")");
        }
    }

private:
    void check_set(const LabeledSet& set, const char* what) const
    {
        if (set.x.cols != m_n_features) {
            throw UsageError(std::string(what) + " split has " + std::to_string(set.x.cols) + " features, the model "
                             + std::to_string(m_n_features));
        }
        if (static_cast<std::int64_t>(set.y.size()) != set.x.rows) {
            throw UsageError(std::string(what) + " split has no labels for training");
        }
        for (int label : set.y) {
            if (label < 0 || label >= m_n_classes) {
                throw UsageError(std::string(what) + " split: label " + std::to_string(label) + " outside 0.."
                                 + std::to_string(m_n_classes - 1));
            }
        }
    }

    // PyTorch's default init (kaiming-uniform with a = sqrt(5): bound 1/sqrt(fan_in) for
    // weights and biases), drawn from this model's own generator.
    static void init_parameters(nn::Module& net, std::uint64_t seed)
    {
        at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
        torch::NoGradGuard no_grad;
        std::map<std::string, double> bounds; // module prefix -> bound from its weight
        for (auto& item : net.named_parameters()) {
            const std::string& name = item.key();
            torch::Tensor& p = item.value();
            const auto dot = name.rfind('.');
            const std::string prefix = dot == std::string::npos ? "" : name.substr(0, dot);
            const std::string leaf = dot == std::string::npos ? name : name.substr(dot + 1);
            double bound = 0;
            if (leaf == "weight" && p.dim() >= 2) {
                const double fan_in = static_cast<double>(p.numel() / p.size(0));
                bound = 1.0 / std::sqrt(fan_in);
                bounds[prefix] = bound;
            } else {
                auto it = bounds.find(prefix);
                bound = it != bounds.end() ? it->second : 1.0 / std::sqrt(static_cast<double>(p.numel()));
            }
            p.uniform_(-bound, bound, gen);
        }
    }

    torch::Tensor targets(const std::vector<int>& labels) const
    {
        std::vector<std::int64_t> v(labels.begin(), labels.end());
        torch::Tensor t = torch::from_blob(v.data(), {static_cast<std::int64_t>(v.size())}, torch::kInt64).clone();
        if (m_n_classes == 2) {
            return t.to(torch::kFloat32).unsqueeze(1);
        }
        return t;
    }

    torch::Tensor loss_of(const torch::Tensor& logits, const torch::Tensor& y) const
    {
        if (m_n_classes == 2) {
            return torch::binary_cross_entropy_with_logits(logits, y);
        }
        return torch::nn::functional::cross_entropy(logits, y);
    }

    Matrix to_proba(const torch::Tensor& logits) const
    {
        torch::Tensor p;
        if (m_n_classes == 2) {
            torch::Tensor pos = torch::sigmoid(logits);
            p = torch::cat({1 - pos, pos}, 1);
        } else {
            p = torch::softmax(logits, 1);
        }
        p = p.to(torch::kCPU).contiguous();
        Matrix out(p.size(0), m_n_classes);
        std::copy(p.data_ptr<float>(), p.data_ptr<float>() + p.numel(), out.data.begin());
        return out;
    }

    std::string m_kind;
    int m_n_features;
    int m_n_classes;
    ImageShape m_shape;
    double m_lr = 0.01;
    int m_epochs = 30;
    int m_batch_size = 32;
    double m_weight_decay = 0;
    std::string m_optimizer = "adam";
    double m_momentum = 0.9;
    int m_patience = 5;
    std::vector<int> m_hidden;
    std::vector<int> m_channels;
    int m_fc = 64;
    int m_epochs_run = 0;
    int m_best_epoch = 0;
    torch::Device m_device = torch::kCPU;
    mutable nn::AnyModule m_module;
};

} // namespace

} // namespace mlrun::ml::detail

namespace mlrun::ml {

DeviceChoice choose_device(const std::string& kind, const nlohmann::json& model_params)
{
    const std::string device = detail::param_string(model_params, "device", "auto", {"auto", "cpu", "cuda"});
    const auto& torch = detail::torch_kinds();
    DeviceChoice choice;
    if (device == "cpu") {
        return choice;
    }
    std::string why;
    if (std::find(torch.begin(), torch.end(), kind) == torch.end()) {
        why = "model.kind " + kind + " runs on the CPU only";
    } else if (!torch::cuda::is_available()) {
        const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
        why = !at::hasCUDA() ? std::string("the linked libtorch was built without CUDA")
                             : std::string("no CUDA device is visible")
                                   + (visible ? " (CUDA_VISIBLE_DEVICES=" + std::string(visible) + ")" : "");
    } else {
        choice.cuda = true;
        return choice;
    }
    if (device == "cuda") {
        throw UsageError("model.device cuda: no CUDA here: " + why
                         + " (set model.device auto or cpu, or build against a CUDA-enabled libtorch)");
    }
    choice.why = why;
    return choice;
}

} // namespace mlrun::ml

namespace mlrun::ml::detail {

const std::vector<std::string>& torch_kinds()
{
    static const std::vector<std::string> kinds = {"logreg", "mlp", "cnn"};
    return kinds;
}

std::unique_ptr<Model> make_torch_model(const std::string& kind, const nlohmann::json& params, int n_features,
                                        int n_classes, const ImageShape& shape)
{
    return std::make_unique<TorchModel>(kind, params, n_features, n_classes, shape);
}

} // namespace mlrun::ml::detail
