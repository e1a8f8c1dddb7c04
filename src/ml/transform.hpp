#pragma once
// Preprocessing that training fits once and inference replays exactly: column roles,
// imputation, encoding and scaling for tables; scaling and normalisation for images.
// Both serialise to transform.json. Also: labels, stratified splits, describe.json and
// train-only image augmentation.
#include "ml/images.hpp"
#include "ml/input_report.hpp"
#include "ml/matrix.hpp"
#include "ml/table.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mlrun::ml {

struct TransformOptions {
    std::string target;                   // required
    std::vector<std::string> drop;        // never used as features
    std::vector<std::string> categorical; // forced categorical (kept even if free text)
    std::vector<std::string> numeric;     // forced numeric
    std::string id_column;                // row ids; never a feature
    std::string encoding = "onehot";      // onehot | ordinal
    bool missing_indicator = false;       // add <col>_missing for columns with gaps in train
    bool scale = true;                    // standard scaling of numeric (and ordinal) features
};

// One input column as fitted.
struct ColumnPlan {
    std::string name;
    ColumnType type = ColumnType::numeric;
    double fill_number = 0;              // median (numeric)
    std::string fill_text;               // most frequent (categorical)
    std::vector<std::string> categories; // sorted; one-hot order / ordinal codes
    double mean = 0;                     // scaling (numeric, ordinal)
    double scale = 1;
    bool indicator = false;
    bool has_range = false; // numeric: min/max of the present training cells (absent in old transform.json)
    double min = 0;
    double max = 0;
};

class TabularTransform {
public:
    // Validates the options against the table (unknown column names -> UsageError naming
    // them), decides roles and fits on `train_rows` only. Dropped columns and the reason
    // go to `log` ("dropped 'name': free text (1307 distinct values)").
    static TabularTransform fit(const Table& table, const std::vector<std::size_t>& train_rows,
                                const TransformOptions& options, const std::vector<std::string>& class_names,
                                std::vector<std::string>* log = nullptr);

    // Features for every row of `table`. Labels are filled when the target column is
    // present (-1 for a missing or unknown label). Unseen categories give all-zero one-hot
    // (ordinal -1), missing cells are imputed. UsageError naming the columns the table
    // lacks, or a numeric cell that is not a number (with its data row).
    LabeledSet apply(const Table& table) const;
    // The same, counting into `report` what it met (see InputReport): a cell of a numeric
    // column that is not a number is imputed and its row listed in report.bad_rows instead
    // of thrown. UsageError only for missing columns.
    LabeledSet apply(const Table& table, InputReport& report) const;

    nlohmann::json to_json() const;
    // UsageError naming `source` when the JSON is not a tabular transform.
    static TabularTransform from_json(const nlohmann::json& j, const std::string& source = "transform.json");

    const std::vector<std::string>& feature_names() const { return m_feature_names; }
    const std::vector<std::string>& class_names() const { return m_class_names; }
    const std::vector<ColumnPlan>& columns() const { return m_columns; }
    const std::string& target() const { return m_options.target; }
    const std::string& id_column() const { return m_options.id_column; }

private:
    TransformOptions m_options;
    std::vector<ColumnPlan> m_columns;
    std::vector<std::string> m_class_names;
    std::vector<std::string> m_feature_names;
    nlohmann::json m_dropped = nlohmann::json::array();

    void build_feature_names();
    LabeledSet apply_impl(const Table& table, InputReport* report) const;
};

// Images: pixels / 255, then (x - mean) / std with mean and std of the train pixels.
class ImageTransform {
public:
    static ImageTransform fit(const Matrix& train_pixels, const ImageShape& shape,
                              const std::vector<std::string>& class_names, bool normalise = true);
    // In place, pixels 0..255 -> normalised.
    void apply(Matrix& pixels) const;
    nlohmann::json to_json() const;
    static ImageTransform from_json(const nlohmann::json& j, const std::string& source = "transform.json");

    const ImageShape& shape() const { return m_shape; }
    const std::vector<std::string>& class_names() const { return m_class_names; }
    double mean() const { return m_mean; }
    double std_dev() const { return m_std; }

private:
    ImageShape m_shape;
    std::vector<std::string> m_class_names;
    double m_mean = 0;
    double m_std = 1;
};

// "tabular" or "image" from a transform.json; UsageError for anything else.
std::string transform_kind(const nlohmann::json& j, const std::string& source = "transform.json");

// Sorted distinct labels of the present cells (numeric order when all are numbers).
std::vector<std::string> class_names_of(const Column& target);
// Label index per row; -1 for missing or unknown.
std::vector<int> encode_labels(const Column& target, const std::vector<std::string>& class_names);
std::vector<int> encode_labels(const std::vector<std::string>& labels, const std::vector<std::string>& class_names);
// The text a categorical cell is compared by: numbers in shortest form ("1.0" -> "1").
std::string canonical_category(const std::string& text);

struct Splits {
    std::vector<std::size_t> train;
    std::vector<std::size_t> valid;
    std::vector<std::size_t> test;
};

// Stratified by label, seeded (std::mt19937_64): the same labels and seed give the same
// split. Fractions must be >= 0 with train > 0 and sum to 1 (UsageError otherwise). Each
// split's indices are in ascending order.
Splits stratified_split(const std::vector<int>& labels, double train, double valid, double test, std::uint64_t seed);

// Before stratified_split: UsageError "<what>: class 'x' has 2 rows; a stratified 60/20/20
// train/valid/test split needs at least 4 per class" when a class would miss a split whose
// fraction is > 0 (an empty validation split gives no metric to rank by); with several such
// classes it names the first five (with their row counts) and how many there are.
// class_names[label] names a label.
void check_stratifiable(const std::vector<int>& labels, const std::vector<std::string>& class_names, double train,
                        double valid, double test, const std::string& what);

// describe.json: per column type, missing count, mean/std/min/max or distinct + top
// categories; class balance of the target.
nlohmann::json describe_table(const Table& table, const std::string& target);

// Train-only augmentation: a horizontally flipped copy of each image (flip) and a copy
// shifted by a random whole number of pixels in [-shift, shift] on each axis (shift > 0),
// seeded. Pixels leaving the image are dropped; new ones are filled with 0.
LabeledSet augment_images(const LabeledSet& train, bool flip, int shift, std::uint64_t seed);

// Loads the images of a data source (format folder, list or grid) with the params of
// `data`: grid {cell, classes}, image_size (0 = native), limit.
ImageSet load_image_source(const DataSource& source, const nlohmann::json& data);

// Rows of a pixel matrix selected by index, with their labels and ids.
LabeledSet take_rows(const ImageSet& images, const std::vector<int>& labels, const std::vector<std::size_t>& rows,
                     const std::vector<std::string>& class_names);

} // namespace mlrun::ml
