#pragma once
// The data preflight of `pipeline run`: before any step runs and before anything is written,
// each data file a preprocess or inference step names is opened and only its header read
// (CSV header record, ARFF @attribute lines, plain or gzip; an image set's class folders),
// and every column the step names is looked up in it.
#include "engine/pipeline_spec.hpp"

#include <filesystem>
#include <functional>
#include <string>

namespace mlrun {

// A dataset version's folder by id; UsageError when there is no such version.
using DatasetFolder = std::function<std::filesystem::path(const std::string& id)>;

// Checks every step of template kind preprocess or inference that names data (data.path or
// data.dataset_id; foreach values of data.* keys each count): the file or folder exists
// (as given, else under the pipeline's folder) and reads; a table is CSV, TSV or ARFF
// (optionally gzip); an image folder has class subfolders. For preprocess also: data.target
// is set and a column; data.drop, categorical, numeric and id_column name columns;
// data.positive_class is one of an ARFF nominal target's levels (a CSV target's values are
// not read). Throws UsageError "<pipeline>: step \"s\": <what>" with a did-you-mean (or the
// known names) on the first problem. Writes nothing.
void check_pipeline_data(const PipelineSpec& spec, const std::string& templates_dir,
                         const DatasetFolder& dataset_folder);

} // namespace mlrun
