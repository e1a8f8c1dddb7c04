#include "ml/images.hpp"

#include "core/error.hpp"
#include "ml/table.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cctype>

namespace mlrun::ml {

namespace {

struct Entry {
    std::filesystem::path path;
    std::string label;
    std::string id;
};

// Evenly spaced picks keep every class in a limited smoke run (the first N would often
// hold one class only, since image sets are usually sorted by class).
std::vector<std::size_t> pick(std::size_t total, std::size_t limit)
{
    std::vector<std::size_t> out;
    if (limit == 0 || limit >= total) {
        for (std::size_t i = 0; i < total; ++i) {
            out.push_back(i);
        }
        return out;
    }
    for (std::size_t k = 0; k < limit; ++k) {
        out.push_back(k * total / limit);
    }
    return out;
}

cv::Mat read_gray(const std::filesystem::path& path)
{
    cv::Mat img;
    try {
        img = cv::imread(path.string(), cv::IMREAD_GRAYSCALE);
    } catch (const cv::Exception& e) {
        throw UsageError(path.string() + ": unreadable image (" + e.what() + ")");
    }
    if (img.empty()) {
        throw UsageError(path.string() + ": unreadable image");
    }
    return img;
}

void put_row(const cv::Mat& gray, int size, Matrix& x, std::int64_t row)
{
    cv::Mat resized;
    if (gray.rows == size && gray.cols == size) {
        resized = gray;
    } else {
        const bool shrink = gray.rows > size || gray.cols > size;
        cv::resize(gray, resized, cv::Size(size, size), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
    }
    cv::Mat f;
    resized.convertTo(f, CV_32F);
    if (!f.isContinuous()) {
        f = f.clone();
    }
    std::copy(f.ptr<float>(0), f.ptr<float>(0) + static_cast<std::ptrdiff_t>(size) * size,
              x.data.begin() + static_cast<std::ptrdiff_t>(row * x.cols));
}

ImageSet load_entries(const std::vector<Entry>& entries, int size, std::size_t limit, const std::string& what)
{
    if (entries.empty()) {
        throw UsageError(what + ": no images found");
    }
    const std::vector<std::size_t> chosen = pick(entries.size(), limit);
    if (size <= 0) {
        size = read_gray(entries[chosen.front()].path).rows;
    }
    ImageSet set;
    set.shape = ImageShape{1, size, size};
    set.x = Matrix(static_cast<std::int64_t>(chosen.size()), static_cast<std::int64_t>(size) * size);
    for (std::size_t k = 0; k < chosen.size(); ++k) {
        const Entry& e = entries[chosen[k]];
        put_row(read_gray(e.path), size, set.x, static_cast<std::int64_t>(k));
        set.labels.push_back(e.label);
        set.ids.push_back(e.id);
    }
    return set;
}

} // namespace

bool is_image_file(const std::filesystem::path& path)
{
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".pgm" || ext == ".ppm"
           || ext == ".tif" || ext == ".tiff" || ext == ".webp";
}

ImageSet load_image_folder(const std::filesystem::path& root, int size, std::size_t limit)
{
    if (!std::filesystem::is_directory(root)) {
        throw UsageError(root.string() + ": not a folder of class folders");
    }
    std::vector<std::filesystem::path> classes;
    for (const auto& entry : std::filesystem::directory_iterator(root)) {
        if (entry.is_directory()) {
            classes.push_back(entry.path());
        }
    }
    std::sort(classes.begin(), classes.end());
    std::vector<Entry> entries;
    for (const auto& dir : classes) {
        std::vector<std::filesystem::path> files;
        for (const auto& entry : std::filesystem::directory_iterator(dir)) {
            if (entry.is_regular_file() && is_image_file(entry.path())) {
                files.push_back(entry.path());
            }
        }
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
            entries.push_back({f, dir.filename().string(), dir.filename().string() + "/" + f.filename().string()});
        }
    }
    return load_entries(entries, size, limit, root.string());
}

ImageSet load_image_list(const std::filesystem::path& list_file, int size, std::size_t limit)
{
    ReadOptions options;
    options.header = -1;
    const Table table = read_table(list_file, options);
    if (table.columns.size() < 2) {
        throw UsageError(list_file.string() + ": an image list needs two columns, path and label");
    }
    const int path_col = table.index_of("path") >= 0 ? table.index_of("path") : 0;
    const int label_col = table.index_of("label") >= 0 ? table.index_of("label") : 1;
    const Column& paths = table.columns[static_cast<std::size_t>(path_col)];
    const Column& labels = table.columns[static_cast<std::size_t>(label_col)];
    const std::filesystem::path base = list_file.parent_path();
    std::vector<Entry> entries;
    for (std::size_t r = 0; r < table.rows(); ++r) {
        if (paths.missing[r] || labels.missing[r]) {
            throw UsageError(list_file.string() + ": data row " + std::to_string(r + 1) + " lacks a path or a label");
        }
        std::filesystem::path p(paths.text[r]);
        entries.push_back({p.is_relative() ? base / p : p, labels.text[r], paths.text[r]});
    }
    return load_entries(entries, size, limit, list_file.string());
}

ImageSet load_image_grid(const std::filesystem::path& image, int cell, int classes, int size, std::size_t limit)
{
    if (cell <= 0 || classes <= 0) {
        throw UsageError("data.grid: cell and classes must be positive (got cell " + std::to_string(cell) + ", classes "
                         + std::to_string(classes) + ")");
    }
    const cv::Mat gray = read_gray(image);
    if (gray.rows % cell != 0 || gray.cols % cell != 0) {
        throw UsageError(image.string() + ": " + std::to_string(gray.cols) + "x" + std::to_string(gray.rows)
                         + " is not a whole number of " + std::to_string(cell) + " px cells");
    }
    const int grid_rows = gray.rows / cell;
    const int grid_cols = gray.cols / cell;
    const std::size_t total = static_cast<std::size_t>(grid_rows) * static_cast<std::size_t>(grid_cols);
    if (total % static_cast<std::size_t>(classes) != 0) {
        throw UsageError(image.string() + ": " + std::to_string(total) + " cells do not split evenly into "
                         + std::to_string(classes) + " classes");
    }
    const std::size_t per_class = total / static_cast<std::size_t>(classes);
    if (size <= 0) {
        size = cell;
    }
    const std::vector<std::size_t> chosen = pick(total, limit);
    ImageSet set;
    set.shape = ImageShape{1, size, size};
    set.x = Matrix(static_cast<std::int64_t>(chosen.size()), static_cast<std::int64_t>(size) * size);
    for (std::size_t k = 0; k < chosen.size(); ++k) {
        const std::size_t idx = chosen[k];
        const int r = static_cast<int>(idx / static_cast<std::size_t>(grid_cols));
        const int c = static_cast<int>(idx % static_cast<std::size_t>(grid_cols));
        const cv::Mat roi = gray(cv::Rect(c * cell, r * cell, cell, cell)).clone();
        put_row(roi, size, set.x, static_cast<std::int64_t>(k));
        set.labels.push_back(std::to_string(idx / per_class));
        set.ids.push_back("cell_" + std::to_string(idx));
    }
    return set;
}

std::vector<float> load_image(const std::filesystem::path& path, int size)
{
    Matrix x(1, static_cast<std::int64_t>(size) * size);
    put_row(read_gray(path), size, x, 0);
    return x.data;
}

} // namespace mlrun::ml
