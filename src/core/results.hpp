#pragma once
// What tasks report, as plain data: scalars and registered-model records.
#include "core/task.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace mlrun {

struct Scalar {
    std::string title;  // "loss", "roc_auc"
    std::string series; // "train", "valid"
    std::int64_t iteration = 0;
    double value = 0;
    // When it was first recorded (ms since the epoch; 0 = not yet stamped). Kept so that a
    // re-send to a tracking server carries the original time: MLflow deduplicates a point
    // only when key, value, step and timestamp are all equal.
    std::int64_t timestamp_ms = 0;
};

struct ModelRecord {
    std::string name;
    int version = 0;         // assigned when registered
    std::string task_id;     // the training task that made it
    std::string run_id;      // the pipeline run
    std::string source_task; // the summary task that recommended it
    std::string kind;        // model.kind
    std::string artifact;    // artifact name of the model folder in task_id ("model")
    Json metrics = Json::object();
    std::vector<std::string> tags;
    Json lineage = Json::object(); // dataset, preprocess task, params
    std::int64_t created_ms = 0;
    std::string reason; // why it was recommended

    Json to_json() const;
    static ModelRecord from_json(const Json& j);
};

} // namespace mlrun
