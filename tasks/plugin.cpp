// libmlrun_tasks.so: registers the libtorch/OpenCV task kinds with the core registry.
#include "kinds/kinds.hpp"
#include "ports/task_context.hpp"

#include <ATen/Parallel.h>
#include <opencv2/core/utility.hpp>

#include <algorithm>

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
