#pragma once
// Image sets (OpenCV under the hood, none of its types here): a folder per class, a list
// file of "path,label" rows, or one grid image cut into equal cells (OpenCV's digits.png).
// Images are read grayscale and resized to size x size; pixels stay 0..255 here (scaling
// and normalisation are the transform's job).
#include "ml/matrix.hpp"

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace mlrun::ml {

struct ImageSet {
    Matrix x;                        // rows = images, cols = size * size, values 0..255
    std::vector<std::string> labels; // label text per image
    std::vector<std::string> ids;    // relative path, or "cell_<index>" for a grid
    ImageShape shape;                // channels 1
};

// <root>/<class>/<image>: classes and files sorted by name. size 0 = the first image's
// size. UsageError naming the path for an unreadable image or an empty folder.
ImageSet load_image_folder(const std::filesystem::path& root, int size, std::size_t limit = 0);
// A CSV list of path,label rows (optional header); relative paths are relative to the
// list file's folder.
ImageSet load_image_list(const std::filesystem::path& list_file, int size, std::size_t limit = 0);
// A grid of cell x cell images, row-major; label = cell_index / (cells / classes).
// size 0 = the cell size.
ImageSet load_image_grid(const std::filesystem::path& image, int cell, int classes, int size, std::size_t limit = 0);
// One image as a row of size*size pixels (inference on new files).
std::vector<float> load_image(const std::filesystem::path& path, int size);

bool is_image_file(const std::filesystem::path& path);

} // namespace mlrun::ml
