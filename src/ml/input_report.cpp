#include "ml/input_report.hpp"

#include <cstdio>

namespace mlrun::ml {

namespace {

using Json = nlohmann::json;

std::string short_number(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

// "1 unseen category" / "2 unseen categories".
std::string counted(std::size_t n, const char* one, const char* many)
{
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string quoted_list(const std::vector<std::string>& values, std::size_t total)
{
    std::string out;
    for (const std::string& v : values) {
        out += (out.empty() ? "'" : ", '") + v + "'";
    }
    if (values.size() >= ColumnCounts::k_max_listed && total > values.size()) { // the list was cut
        out += ", ...";
    }
    return out;
}

} // namespace

ColumnCounts InputReport::total() const
{
    ColumnCounts sum;
    for (const auto& [name, c] : columns) {
        sum.imputed += c.imputed;
        sum.unseen += c.unseen;
        sum.out_of_range += c.out_of_range;
        sum.bad += c.bad;
    }
    return sum;
}

const ColumnCounts* InputReport::column(const std::string& name) const
{
    for (const auto& [n, c] : columns) {
        if (n == name) {
            return &c;
        }
    }
    return nullptr;
}

Json InputReport::to_json() const
{
    Json cols = Json::object();
    for (const auto& [name, c] : columns) {
        if (!c.any()) {
            continue;
        }
        Json j = Json::object();
        if (c.imputed > 0) {
            j["imputed"] = c.imputed;
        }
        if (c.unseen > 0) {
            j["unseen"] = c.unseen;
            j["unseen_values"] = c.unseen_values;
        }
        if (c.out_of_range > 0) {
            j["out_of_range"] = c.out_of_range;
            j["training_range"] = {c.min, c.max};
        }
        if (c.bad > 0) {
            j["bad"] = c.bad;
        }
        cols[name] = std::move(j);
    }
    const ColumnCounts sum = total();
    Json out{{"rows", rows},
             {"columns", cols},
             {"total",
              {{"imputed", sum.imputed}, {"unseen", sum.unseen}, {"out_of_range", sum.out_of_range}, {"bad", sum.bad}}},
             {"rows_with_bad_cells", bad_rows.size()}};
    if (!label_column.empty()) {
        out["label"] = {{"column", label_column}, {"missing", label_missing}, {"unseen", label_unseen}};
    }
    return out;
}

InputReport InputReport::from_json(const Json& j)
{
    InputReport r;
    if (!j.is_object()) {
        return r;
    }
    r.rows = j.value("rows", std::size_t{0});
    if (const auto cols = j.find("columns"); cols != j.end() && cols->is_object()) {
        for (const auto& [name, c] : cols->items()) {
            ColumnCounts counts;
            counts.imputed = c.value("imputed", std::size_t{0});
            counts.unseen = c.value("unseen", std::size_t{0});
            counts.out_of_range = c.value("out_of_range", std::size_t{0});
            counts.bad = c.value("bad", std::size_t{0});
            counts.unseen_values = c.value("unseen_values", std::vector<std::string>{});
            if (const auto range = c.find("training_range");
                range != c.end() && range->is_array() && range->size() == 2) {
                counts.has_range = true;
                counts.min = (*range)[0].get<double>();
                counts.max = (*range)[1].get<double>();
            }
            r.columns.emplace_back(name, std::move(counts));
        }
    }
    if (const auto label = j.find("label"); label != j.end() && label->is_object()) {
        r.label_column = label->value("column", "");
        r.label_missing = label->value("missing", std::size_t{0});
        r.label_unseen = label->value("unseen", std::size_t{0});
    }
    return r;
}

std::vector<std::string> InputReport::summary_lines() const
{
    std::vector<std::string> lines;
    for (const auto& [name, c] : columns) {
        if (!c.any()) {
            continue;
        }
        std::vector<std::string> parts;
        if (c.imputed > 0) {
            parts.push_back(std::to_string(c.imputed) + " imputed");
        }
        if (c.unseen > 0) {
            parts.push_back(counted(c.unseen, "unseen category", "unseen categories") + " ("
                            + quoted_list(c.unseen_values, c.unseen) + ")");
        }
        if (c.out_of_range > 0) {
            parts.push_back(std::to_string(c.out_of_range) + " outside the training range [" + short_number(c.min)
                            + ", " + short_number(c.max) + "]");
        }
        if (c.bad > 0) {
            parts.push_back(std::to_string(c.bad) + " bad (not a number)");
        }
        std::string line = "column '" + name + "':";
        for (std::size_t i = 0; i < parts.size(); ++i) {
            line += (i == 0 ? " " : ", ") + parts[i];
        }
        lines.push_back(line);
    }
    if (!label_column.empty() && label_unseen > 0) {
        lines.push_back("label '" + label_column + "': " + counted(label_unseen, "label", "labels")
                        + " not among the trained classes (not scored)");
    }
    const ColumnCounts sum = total();
    lines.push_back("input report: " + counted(rows, "row", "rows") + "; imputed " + std::to_string(sum.imputed)
                    + ", unseen " + std::to_string(sum.unseen) + ", out of range " + std::to_string(sum.out_of_range)
                    + ", bad " + std::to_string(sum.bad)
                    + (bad_rows.empty() ? std::string() : " (in " + counted(bad_rows.size(), "row", "rows") + ")"));
    return lines;
}

std::string describe_bad_cell(const BadCell& cell)
{
    return "data row " + std::to_string(cell.row + 1) + ", column '" + cell.column + "': '" + cell.value
           + "' is not a number";
}

} // namespace mlrun::ml
