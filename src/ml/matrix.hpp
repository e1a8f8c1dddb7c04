#pragma once
// Plain data shared by the ML code: a dense row-major float matrix and a labelled set.
// No torch or OpenCV types here, so any ML file can include it cheaply.
#include <cstdint>
#include <string>
#include <vector>

namespace mlrun::ml {

struct Matrix {
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    std::vector<float> data; // rows * cols, row-major

    Matrix() = default;
    Matrix(std::int64_t r, std::int64_t c) : rows(r), cols(c), data(static_cast<size_t>(r * c), 0.0f) {}
    float& at(std::int64_t r, std::int64_t c) { return data[static_cast<size_t>(r * cols + c)]; }
    float at(std::int64_t r, std::int64_t c) const { return data[static_cast<size_t>(r * cols + c)]; }
};

// Image geometry of a set whose rows are flattened images (channels * height * width);
// all zero for tabular data.
struct ImageShape {
    int channels = 0;
    int height = 0;
    int width = 0;
    bool is_image() const { return channels > 0; }
};

// One split after preprocessing: features, integer labels 0..n_classes-1, row ids.
struct LabeledSet {
    Matrix x;
    std::vector<int> y;           // empty when the data has no labels
    std::vector<std::string> ids; // one per row (the id column, or the row number)
    std::vector<std::string> feature_names;
    std::vector<std::string> class_names; // label index -> original label text
    ImageShape shape;
    int n_classes() const { return static_cast<int>(class_names.size()); }
};

} // namespace mlrun::ml
