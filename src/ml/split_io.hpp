#pragma once
// On-disk format of preprocessed splits (train.bin / valid.bin / test.bin artifacts):
// a JSON header line (feature and class names, shape, row count) followed by raw
// little-endian float32 features, int32 labels and the ids. Fast to load in every trial.
#include "ml/matrix.hpp"

#include <filesystem>

namespace mlrun::ml {

// Atomic write (temp + fsync + rename).
void save_split(const std::filesystem::path& path, const LabeledSet& set);
// Throws UsageError naming the file when it is missing, truncated or not a split.
LabeledSet load_split(const std::filesystem::path& path);

} // namespace mlrun::ml
