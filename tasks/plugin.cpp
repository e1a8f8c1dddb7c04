// libmlrun_tasks.so: registers the libtorch/OpenCV task kinds with the core registry.
#include "kinds/kinds.hpp"
#include "ports/task_context.hpp"

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/core/version.hpp>
#include <torch/version.h>

#include <algorithm>
#include <dlfcn.h>
#include <string>

extern "C" void mlrun_register_kinds(mlrun::KindSet& registry)
{
    registry.add("preprocess", mlrun::kinds::run_preprocess);
    registry.add("train_model", mlrun::kinds::run_train_model);
    registry.add("summary", mlrun::kinds::run_summary);
    registry.add("inference", mlrun::kinds::run_inference);
}

extern "C" void mlrun_set_threads(int threads)
{
    at::set_num_threads(std::max(1, threads));
    cv::setNumThreads(std::max(1, threads));
}

extern "C" const char* mlrun_library_versions()
{
    static const std::string text = [] {
        // OpenBLAS (what Debian's libtorch and OpenCV use) names itself and its build.
        std::string blas = "unknown";
        using ConfigFn = char*();
        if (auto* config = reinterpret_cast<ConfigFn*>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
            blas = config();
        }
        return nlohmann::json{{"libtorch", TORCH_VERSION}, {"opencv", CV_VERSION}, {"blas", blas}}.dump();
    }();
    return text.c_str();
}
