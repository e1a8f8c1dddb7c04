// MLP training throughput and in-process search, through the same code the train_model
// kind runs (ml::make_model / fit / run_search). Not a test: see bench/README-models.md.
//
//   OPENBLAS_NUM_THREADS=1 build/mlp_bench train [--threads 1] [--runs 5]
//   OPENBLAS_NUM_THREADS=1 build/mlp_bench search [--threads 1] [--parallel 2] [--runs 3]
//
// train:  samples/s of 30-64-32-1 (batch 32) and 50-128-64-1 (batch 256) on synthetic
//         data, Adam, no validation, median of --runs runs.
// search: 50 random-search trials x 30 epochs of a 30-64-32-1 MLP on 569 rows
//         (455 train / 114 valid), trials 2 at a time on threads; median wall time.
#include "ml/models/model.hpp"
#include "ml/search.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace mlrun::ml;

namespace {

LabeledSet synthetic(int rows, int features, std::uint64_t seed)
{
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    LabeledSet set;
    set.x = Matrix(rows, features);
    for (int r = 0; r < rows; ++r) {
        double s = 0;
        for (int c = 0; c < features; ++c) {
            const float v = noise(rng);
            set.x.at(r, c) = v;
            s += (c % 3 == 0 ? 1.0 : -0.5) * v;
        }
        set.y.push_back(s + 0.5 * noise(rng) > 0 ? 1 : 0);
        set.ids.push_back(std::to_string(r));
    }
    for (int c = 0; c < features; ++c) {
        set.feature_names.push_back("f" + std::to_string(c));
    }
    set.class_names = {"0", "1"};
    return set;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

double seconds(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void bench_train(int features, std::vector<int> hidden, int batch, int rows, int epochs, int runs)
{
    const LabeledSet train = synthetic(rows, features, 1);
    const LabeledSet none; // no validation: measure training only
    const nlohmann::json params = {{"hidden", hidden}, {"batch_size", batch}, {"epochs", epochs},
                                   {"lr", 0.001},      {"patience", 0},       {"optimizer", "adam"}};
    std::vector<double> rates;
    for (int run = 0; run < runs; ++run) {
        auto model = make_model("mlp", params, features, 2, ImageShape{});
        FitOptions options;
        options.seed = static_cast<std::uint64_t>(run + 1);
        const auto t0 = std::chrono::steady_clock::now();
        model->fit(train, none, options);
        rates.push_back(static_cast<double>(rows) * epochs / seconds(t0));
    }
    std::string arch = std::to_string(features);
    for (int h : hidden) {
        arch += "-" + std::to_string(h);
    }
    std::printf("mlp %s-1 batch %d: median %.0f samples/s (min %.0f, max %.0f) over %d runs\n", arch.c_str(), batch,
                median(rates), *std::min_element(rates.begin(), rates.end()),
                *std::max_element(rates.begin(), rates.end()), runs);
}

void bench_search(int parallel, int runs)
{
    const LabeledSet all = synthetic(569, 30, 7);
    LabeledSet train = all;
    LabeledSet valid = all;
    const int n_train = 455;
    train.x = Matrix(n_train, 30);
    valid.x = Matrix(569 - n_train, 30);
    std::copy(all.x.data.begin(), all.x.data.begin() + n_train * 30, train.x.data.begin());
    std::copy(all.x.data.begin() + n_train * 30, all.x.data.end(), valid.x.data.begin());
    train.y.assign(all.y.begin(), all.y.begin() + n_train);
    valid.y.assign(all.y.begin() + n_train, all.y.end());
    train.ids.resize(n_train);
    valid.ids.assign(all.ids.begin() + n_train, all.ids.end());

    const nlohmann::json params = {
        {"seed", 42},
        {"trials", 50},
        {"strategy", "random"},
        {"model", {{"kind", "mlp"}, {"hidden", {64, 32}}, {"epochs", 30}, {"batch_size", 32}, {"patience", 0}}},
        {"search",
         {{"model.lr", {{"min", 1e-4}, {"max", 1e-1}, {"log", true}}},
          {"model.weight_decay", {{"min", 1e-6}, {"max", 1e-3}, {"log", true}}}}}};
    const SearchSpec spec = parse_search(params);
    std::vector<double> times;
    double best = 0;
    for (int run = 0; run < runs; ++run) {
        SearchOptions options;
        options.metric = "roc_auc";
        options.parallel = parallel;
        const auto t0 = std::chrono::steady_clock::now();
        const SearchResult result = run_search(spec, params, train, valid, options);
        times.push_back(seconds(t0));
        best = result.trials[static_cast<size_t>(result.best)].valid_metric;
    }
    std::printf("search 50 trials x 30 epochs, 569 rows, %d at a time: median %.2f s (min %.2f, max %.2f) over %d "
                "runs; best valid roc_auc %.4f\n",
                parallel, median(times), *std::min_element(times.begin(), times.end()),
                *std::max_element(times.begin(), times.end()), runs, best);
}

} // namespace

int main(int argc, char** argv)
{
    std::string mode = argc > 1 ? argv[1] : "train";
    int threads = 1;
    int parallel = 2;
    int runs = mode == "search" ? 3 : 5;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--threads")) {
            threads = std::atoi(argv[i + 1]);
        } else if (!std::strcmp(argv[i], "--parallel")) {
            parallel = std::atoi(argv[i + 1]);
        } else if (!std::strcmp(argv[i], "--runs")) {
            runs = std::atoi(argv[i + 1]);
        }
    }
    if (!std::getenv("OPENBLAS_NUM_THREADS")) {
        std::fprintf(stderr, "note: OPENBLAS_NUM_THREADS is not set; set it to 1 (DESIGN §9)\n");
    }
    // A benchmark process may set the process-global torch thread count (fit never does).
    at::set_num_threads(threads);
    std::printf("torch threads %d, OPENBLAS_NUM_THREADS=%s\n", at::get_num_threads(),
                std::getenv("OPENBLAS_NUM_THREADS") ? std::getenv("OPENBLAS_NUM_THREADS") : "(unset)");
    if (mode == "train") {
        bench_train(30, {64, 32}, 32, 16384, 3, runs);
        bench_train(50, {128, 64}, 256, 65536, 3, runs);
    } else if (mode == "search") {
        bench_search(parallel, runs);
    } else {
        std::fprintf(stderr, "usage: mlp_bench train|search [--threads N] [--parallel N] [--runs N]\n");
        return 2;
    }
    return 0;
}
