#pragma once
// What a fitted tabular transform met in the rows it was applied to, per input column:
// cells it imputed, categories training never saw, numbers outside the training range and
// cells of a numeric column that are not numbers. Filled by TabularTransform::apply; the
// inference kind logs it and writes it into metrics.json.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace mlrun::ml {

// Counts of one input column.
struct ColumnCounts {
    std::size_t imputed = 0;                // missing cells filled with the training median / mode
    std::size_t unseen = 0;                 // present categories the transform never saw
    std::size_t out_of_range = 0;           // numbers below the training min or above its max
    std::size_t bad = 0;                    // cells of a numeric column that are not numbers
    std::vector<std::string> unseen_values; // distinct, in the order met, at most k_max_listed
    bool has_range = false;                 // the transform knows the training range below
    double min = 0;
    double max = 0;

    static constexpr std::size_t k_max_listed = 10;
    bool any() const { return imputed + unseen + out_of_range + bad > 0; }
};

// A row holding a bad cell: its first bad cell in transform column order.
struct BadCell {
    std::size_t row = 0; // 0-based index into the table the transform was applied to
    std::string id;      // the row's id (id column, else the row number)
    std::string column;
    std::string value;
};

struct InputReport {
    std::size_t rows = 0;
    std::vector<std::pair<std::string, ColumnCounts>> columns; // every input column, transform order
    std::vector<BadCell> bad_rows;                             // one per row with a bad cell, by row
    std::string label_column;                                  // empty when the table has no target column
    std::size_t label_missing = 0;                             // rows without a label
    std::size_t label_unseen = 0;                              // labels that are not a trained class

    // Sums over the columns (unseen_values and the range left empty).
    ColumnCounts total() const;
    // The counts of one column, or nullptr when the transform has no such input.
    const ColumnCounts* column(const std::string& name) const;
    // {"rows", "columns": {name: nonzero counts (+ unseen_values, training_range)} for the
    // columns with something to say, "total": every count, "rows_with_bad_cells",
    // "label": {column, missing, unseen} when the table has the target column}.
    nlohmann::json to_json() const;
    // Back from to_json (what a preprocess step stored); absent keys read as 0. bad_rows
    // stays empty (to_json keeps only their count, as rows_with_bad_cells).
    static InputReport from_json(const nlohmann::json& j);
    // One line per column with something to say, then a total line; no prefix.
    std::vector<std::string> summary_lines() const;
};

// "data row 5, column 'age': 'twelve' is not a number" (row 1-based).
std::string describe_bad_cell(const BadCell& cell);

} // namespace mlrun::ml
