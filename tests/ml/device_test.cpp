// model.device (auto|cpu|cuda): auto falls back to the CPU with a reason where there is no
// CUDA (Debian's libtorch is CPU-only), cuda there is a clear error, and a model told auto
// trains and predicts the same as one told cpu.
#include "core/error.hpp"
#include "ml/models/device.hpp"
#include "ml/models/model.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>

using namespace mlrun;
using namespace mlrun::ml;

namespace {

std::string usage_error_of(const std::string& kind, const nlohmann::json& params)
{
    try {
        choose_device(kind, params);
    } catch (const UsageError& e) {
        return e.what();
    }
    return "";
}

LabeledSet two_blobs(int rows, std::uint64_t seed)
{
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    LabeledSet set;
    set.x = Matrix(rows, 2);
    for (int r = 0; r < rows; ++r) {
        set.y.push_back(r % 2);
        set.ids.push_back(std::to_string(r));
        set.x.at(r, 0) = (r % 2 ? 3.0f : 0.0f) + noise(rng);
        set.x.at(r, 1) = noise(rng);
    }
    set.feature_names = {"a", "b"};
    set.class_names = {"no", "yes"};
    return set;
}

} // namespace

TEST_CASE("model.device: cpu is the CPU; a bad value is a UsageError naming model.device")
{
    DeviceChoice cpu = choose_device("mlp", {{"device", "cpu"}});
    CHECK_FALSE(cpu.cuda);
    CHECK(cpu.why.empty());
    CHECK(usage_error_of("mlp", {{"device", "gpu"}}).find("model.device") != std::string::npos);
    // Non-torch kinds run on the CPU: auto says so, cuda is refused.
    DeviceChoice forest = choose_device("random_forest", nlohmann::json::object());
    CHECK_FALSE(forest.cuda);
    CHECK(forest.why.find("CPU only") != std::string::npos);
    CHECK(usage_error_of("random_forest", {{"device", "cuda"}}).find("runs on the CPU only") != std::string::npos);
}

TEST_CASE("model.device: auto without CUDA falls back to the CPU with a reason; cuda fails clearly")
{
    DeviceChoice automatic = choose_device("mlp", nlohmann::json::object()); // absent = auto
    if (automatic.cuda) {
        MESSAGE("this libtorch has CUDA and a visible device: the fallback is not exercised here");
        CHECK(usage_error_of("mlp", {{"device", "cuda"}}).empty());
        return;
    }
    CAPTURE(automatic.why);
    CHECK((automatic.why.find("without CUDA") != std::string::npos
           || automatic.why.find("no CUDA device") != std::string::npos));
    const std::string error = usage_error_of("mlp", {{"device", "cuda"}});
    CAPTURE(error);
    CHECK(error.find("model.device cuda: no CUDA here") != std::string::npos);
    CHECK(error.find(automatic.why) != std::string::npos);

    // A model told auto trains on the CPU, exactly like one told cpu.
    const LabeledSet train = two_blobs(64, 1);
    const LabeledSet valid = two_blobs(32, 2);
    FitOptions options;
    options.seed = 7;
    options.metric = "accuracy";
    auto fit = [&](const std::string& device) {
        auto model = make_model("mlp", {{"device", device}, {"epochs", 3}, {"hidden", {8}}}, 2, 2, ImageShape{});
        model->fit(train, valid, options);
        return model->predict_proba(valid.x).data;
    };
    CHECK(fit("auto") == fit("cpu"));
}
