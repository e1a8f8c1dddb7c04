#include "ml/transform.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <set>

namespace mlrun::ml {

namespace {

using Json = nlohmann::json;

constexpr int k_transform_version = 1;
// A categorical column with more distinct values than this, and more than this share of
// its present cells, is free text (names, tickets, addresses): one-hot would only memorise.
constexpr std::size_t k_free_text_min_distinct = 20;
constexpr double k_free_text_share = 0.3;

bool contains(const std::vector<std::string>& v, const std::string& s)
{
    return std::find(v.begin(), v.end(), s) != v.end();
}

std::string join(const std::vector<std::string>& v)
{
    std::string out;
    for (const std::string& s : v) {
        out += (out.empty() ? "" : ", ") + s;
    }
    return out;
}

double median(std::vector<double> v)
{
    if (v.empty()) {
        return 0.0;
    }
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

// Most frequent; ties go to the smallest value (sklearn SimpleImputer does the same).
std::string most_frequent(const std::map<std::string, std::size_t>& counts)
{
    std::string best;
    std::size_t best_n = 0;
    for (const auto& [value, n] : counts) {
        if (n > best_n) {
            best = value;
            best_n = n;
        }
    }
    return best;
}

void mean_std(const std::vector<double>& v, double& mean, double& scale)
{
    mean = 0;
    for (double x : v) {
        mean += x;
    }
    mean = v.empty() ? 0.0 : mean / static_cast<double>(v.size());
    double var = 0;
    for (double x : v) {
        var += (x - mean) * (x - mean);
    }
    var = v.empty() ? 0.0 : var / static_cast<double>(v.size()); // population std, like StandardScaler
    scale = var > 0 ? std::sqrt(var) : 1.0;
}

bool is_running_number(const Column& col, const std::vector<std::size_t>& rows)
{
    if (rows.size() < 20) {
        return false;
    }
    std::vector<double> v;
    for (std::size_t r : rows) {
        const double x = col.number(r);
        if (std::isnan(x) || x != std::floor(x)) {
            return false;
        }
        v.push_back(x);
    }
    std::sort(v.begin(), v.end());
    for (std::size_t i = 1; i < v.size(); ++i) {
        if (v[i] != v[i - 1] + 1) {
            return false;
        }
    }
    return true;
}

Json shape_json(const ImageShape& s)
{
    return {{"channels", s.channels}, {"height", s.height}, {"width", s.width}};
}

} // namespace

std::string canonical_category(const std::string& text)
{
    double v = 0;
    if (!parse_number(text, v)) {
        return text;
    }
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.15g", v);
    return buf;
}

std::vector<std::string> class_names_of(const Column& target)
{
    std::set<std::string> values;
    bool numeric = true;
    for (std::size_t r = 0; r < target.text.size(); ++r) {
        if (!target.missing[r]) {
            const std::string c = canonical_category(target.text[r]);
            double v = 0;
            numeric = numeric && parse_number(c, v);
            values.insert(c);
        }
    }
    std::vector<std::string> out(values.begin(), values.end());
    if (numeric) {
        std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
            double x = 0;
            double y = 0;
            parse_number(a, x);
            parse_number(b, y);
            return x < y;
        });
    }
    return out;
}

std::vector<int> encode_labels(const std::vector<std::string>& labels, const std::vector<std::string>& class_names)
{
    std::map<std::string, int> index;
    for (std::size_t i = 0; i < class_names.size(); ++i) {
        index[class_names[i]] = static_cast<int>(i);
    }
    std::vector<int> out;
    out.reserve(labels.size());
    for (const std::string& l : labels) {
        const auto it = index.find(canonical_category(l));
        out.push_back(it == index.end() ? -1 : it->second);
    }
    return out;
}

std::vector<int> encode_labels(const Column& target, const std::vector<std::string>& class_names)
{
    std::vector<int> out = encode_labels(target.text, class_names);
    for (std::size_t r = 0; r < out.size(); ++r) {
        if (target.missing[r]) {
            out[r] = -1;
        }
    }
    return out;
}

TabularTransform TabularTransform::fit(const Table& table, const std::vector<std::size_t>& train_rows,
                                       const TransformOptions& options, const std::vector<std::string>& class_names,
                                       std::vector<std::string>* log)
{
    auto note = [&](const std::string& line) {
        if (log) {
            log->push_back(line);
        }
    };
    if (options.encoding != "onehot" && options.encoding != "ordinal") {
        throw UsageError("encoding: '" + options.encoding + "' is not one of onehot, ordinal");
    }
    if (train_rows.empty()) {
        throw UsageError(table.source + ": no training rows to fit the transform on");
    }
    table.column(options.target, "target column");
    if (!options.id_column.empty()) {
        table.column(options.id_column, "id column");
    }
    for (const auto* list : {&options.drop, &options.categorical, &options.numeric}) {
        std::vector<std::string> unknown;
        for (const std::string& name : *list) {
            if (table.index_of(name) < 0) {
                unknown.push_back(name);
            }
        }
        if (!unknown.empty()) {
            const char* what = list == &options.drop          ? "data.drop"
                               : list == &options.categorical ? "data.categorical"
                                                              : "data.numeric";
            throw UsageError(table.source + ": " + what + " names unknown columns: " + join(unknown)
                             + " (columns: " + join(table.names()) + ")");
        }
    }

    TabularTransform t;
    t.m_options = options;
    t.m_class_names = class_names;
    for (const Column& col : table.columns) {
        if (col.name == options.target || col.name == options.id_column) {
            continue;
        }
        if (contains(options.drop, col.name)) {
            t.m_dropped.push_back({{"column", col.name}, {"reason", "data.drop"}});
            continue;
        }
        const bool forced_cat = contains(options.categorical, col.name);
        const bool forced_num = contains(options.numeric, col.name);
        ColumnType type = forced_cat ? ColumnType::categorical : forced_num ? ColumnType::numeric : col.type;

        std::map<std::string, std::size_t> counts;
        std::vector<double> numbers;
        std::size_t missing = 0;
        for (std::size_t r : train_rows) {
            if (col.missing[r]) {
                ++missing;
                continue;
            }
            if (type == ColumnType::numeric) {
                const double v = col.number(r);
                if (std::isnan(v)) {
                    throw UsageError(table.source + ": column '" + col.name + "' is numeric but data row "
                                     + std::to_string(r + 1) + " holds '" + col.text[r] + "'");
                }
                numbers.push_back(v);
            } else {
                ++counts[canonical_category(col.text[r])];
            }
        }
        const std::size_t present = train_rows.size() - missing;
        const std::size_t distinct = type == ColumnType::numeric
                                         ? std::set<double>(numbers.begin(), numbers.end()).size()
                                         : counts.size();
        auto drop = [&](const std::string& reason) {
            t.m_dropped.push_back({{"column", col.name}, {"reason", reason}});
            note("dropped column '" + col.name + "': " + reason);
        };
        if (present == 0) {
            drop("all values missing");
            continue;
        }
        if (distinct == 1 && !forced_cat && !forced_num) {
            drop("constant");
            continue;
        }
        if (!forced_cat && !forced_num) {
            if (type == ColumnType::categorical && distinct == present && present >= 10) {
                drop("id-like (all " + std::to_string(distinct) + " values unique)");
                continue;
            }
            if (type == ColumnType::categorical && distinct > k_free_text_min_distinct
                && static_cast<double>(distinct) > k_free_text_share * static_cast<double>(present)) {
                drop("free text (" + std::to_string(distinct) + " distinct values in " + std::to_string(present)
                     + " rows); list it in data.categorical to keep it");
                continue;
            }
            if (type == ColumnType::numeric && missing == 0 && is_running_number(col, train_rows)) {
                drop("id-like (a running number)");
                continue;
            }
        }

        ColumnPlan plan;
        plan.name = col.name;
        plan.type = type;
        plan.indicator = options.missing_indicator && missing > 0;
        if (type == ColumnType::numeric) {
            plan.fill_number = median(numbers);
            plan.has_range = true;
            plan.min = *std::min_element(numbers.begin(), numbers.end());
            plan.max = *std::max_element(numbers.begin(), numbers.end());
            if (options.scale) {
                // Statistics after imputation, as in an imputer -> scaler pipeline.
                std::vector<double> filled = numbers;
                filled.insert(filled.end(), missing, plan.fill_number);
                mean_std(filled, plan.mean, plan.scale);
            }
        } else {
            plan.fill_text = most_frequent(counts);
            for (const auto& kv : counts) {
                plan.categories.push_back(kv.first);
            }
            if (options.encoding == "ordinal" && options.scale) {
                std::vector<double> codes;
                for (std::size_t i = 0; i < plan.categories.size(); ++i) {
                    const std::size_t n = counts[plan.categories[i]]
                                          + (plan.categories[i] == plan.fill_text ? missing : 0);
                    codes.insert(codes.end(), n, static_cast<double>(i));
                }
                mean_std(codes, plan.mean, plan.scale);
            }
        }
        t.m_columns.push_back(std::move(plan));
    }
    if (t.m_columns.empty()) {
        throw UsageError(table.source + ": no feature columns left after dropping " + join(table.names())
                         + " minus the target");
    }
    t.build_feature_names();
    return t;
}

void TabularTransform::build_feature_names()
{
    m_feature_names.clear();
    for (const ColumnPlan& c : m_columns) {
        if (c.type == ColumnType::categorical && m_options.encoding == "onehot") {
            for (const std::string& cat : c.categories) {
                m_feature_names.push_back(c.name + "=" + cat);
            }
        } else {
            m_feature_names.push_back(c.name);
        }
        if (c.indicator) {
            m_feature_names.push_back(c.name + "_missing");
        }
    }
}

LabeledSet TabularTransform::apply(const Table& table) const
{
    return apply_impl(table, nullptr);
}

LabeledSet TabularTransform::apply(const Table& table, InputReport& report) const
{
    report = InputReport{};
    return apply_impl(table, &report);
}

LabeledSet TabularTransform::apply_impl(const Table& table, InputReport* report) const
{
    std::vector<std::string> absent;
    std::vector<const Column*> cols;
    for (const ColumnPlan& c : m_columns) {
        const int i = table.index_of(c.name);
        if (i < 0) {
            absent.push_back(c.name);
            cols.push_back(nullptr);
        } else {
            cols.push_back(&table.columns[static_cast<std::size_t>(i)]);
        }
    }
    if (!absent.empty()) {
        throw UsageError(table.source + ": missing columns needed by the transform: " + join(absent));
    }
    const std::size_t rows = table.rows();
    LabeledSet set;
    set.feature_names = m_feature_names;
    set.class_names = m_class_names;
    set.x = Matrix(static_cast<std::int64_t>(rows), static_cast<std::int64_t>(m_feature_names.size()));
    const int id = m_options.id_column.empty() ? -1 : table.index_of(m_options.id_column);
    for (std::size_t r = 0; r < rows; ++r) {
        set.ids.push_back(id >= 0 ? table.columns[static_cast<std::size_t>(id)].text[r] : std::to_string(r));
    }
    std::map<std::size_t, BadCell> bad_rows; // the first bad cell of each row, in column order
    if (report) {
        report->rows = rows;
    }
    std::int64_t f = 0;
    for (std::size_t k = 0; k < m_columns.size(); ++k) {
        const ColumnPlan& plan = m_columns[k];
        const Column& col = *cols[k];
        ColumnCounts counts;
        counts.has_range = plan.has_range;
        counts.min = plan.min;
        counts.max = plan.max;
        const bool onehot = plan.type == ColumnType::categorical && m_options.encoding == "onehot";
        const std::int64_t width = onehot ? static_cast<std::int64_t>(plan.categories.size()) : 1;
        for (std::size_t r = 0; r < rows; ++r) {
            const auto row = static_cast<std::int64_t>(r);
            const bool miss = col.missing[r] != 0;
            counts.imputed += miss ? 1 : 0;
            if (plan.type == ColumnType::numeric) {
                double v = plan.fill_number;
                if (!miss) {
                    v = col.number(r);
                    if (std::isnan(v)) {
                        if (!report) {
                            throw UsageError(table.source + ": column '" + col.name + "' data row "
                                             + std::to_string(r + 1) + ": '" + col.text[r] + "' is not a number");
                        }
                        ++counts.bad;
                        bad_rows.emplace(r, BadCell{r, set.ids[r], col.name, col.text[r]});
                        v = plan.fill_number;
                    } else if (plan.has_range && (v < plan.min || v > plan.max)) {
                        ++counts.out_of_range;
                    }
                }
                set.x.at(row, f) = static_cast<float>((v - plan.mean) / plan.scale);
            } else {
                const std::string value = miss ? plan.fill_text : canonical_category(col.text[r]);
                const auto it = std::lower_bound(plan.categories.begin(), plan.categories.end(), value);
                const bool known = it != plan.categories.end() && *it == value;
                if (!known) {
                    ++counts.unseen;
                    if (counts.unseen_values.size() < ColumnCounts::k_max_listed
                        && std::find(counts.unseen_values.begin(), counts.unseen_values.end(), value)
                               == counts.unseen_values.end()) {
                        counts.unseen_values.push_back(value);
                    }
                }
                const auto code = known ? static_cast<std::int64_t>(it - plan.categories.begin()) : -1;
                if (onehot) {
                    if (known) {
                        set.x.at(row, f + code) = 1.0f; // unseen: all zeros
                    }
                } else {
                    set.x.at(row, f) = static_cast<float>((static_cast<double>(code) - plan.mean) / plan.scale);
                }
            }
            if (plan.indicator) {
                set.x.at(row, f + width) = miss ? 1.0f : 0.0f;
            }
        }
        f += width + (plan.indicator ? 1 : 0);
        if (report) {
            report->columns.emplace_back(plan.name, std::move(counts));
        }
    }
    const int target = table.index_of(m_options.target);
    if (target >= 0) {
        const Column& labels = table.columns[static_cast<std::size_t>(target)];
        set.y = encode_labels(labels, m_class_names);
        if (report) {
            report->label_column = labels.name;
            for (std::size_t r = 0; r < rows; ++r) {
                report->label_missing += labels.missing[r] ? 1 : 0;
                report->label_unseen += !labels.missing[r] && set.y[r] < 0 ? 1 : 0;
            }
        }
    }
    if (report) {
        for (auto& [row, cell] : bad_rows) {
            report->bad_rows.push_back(std::move(cell));
        }
    }
    return set;
}

Json TabularTransform::to_json() const
{
    Json cols = Json::array();
    for (const ColumnPlan& c : m_columns) {
        Json j{{"name", c.name}, {"type", to_string(c.type)}, {"indicator", c.indicator}};
        if (c.type == ColumnType::numeric) {
            j["median"] = c.fill_number;
            if (c.has_range) {
                j["min"] = c.min;
                j["max"] = c.max;
            }
        } else {
            j["most_frequent"] = c.fill_text;
            j["categories"] = c.categories;
        }
        j["mean"] = c.mean;
        j["scale"] = c.scale;
        cols.push_back(std::move(j));
    }
    return {{"kind", "tabular"},
            {"version", k_transform_version},
            {"target", m_options.target},
            {"id_column", m_options.id_column},
            {"encoding", m_options.encoding},
            {"scale", m_options.scale},
            {"missing_indicator", m_options.missing_indicator},
            {"class_names", m_class_names},
            {"columns", cols},
            {"dropped", m_dropped},
            {"feature_names", m_feature_names}};
}

TabularTransform TabularTransform::from_json(const Json& j, const std::string& source)
{
    if (transform_kind(j, source) != "tabular") {
        throw UsageError(source + ": not a tabular transform");
    }
    TabularTransform t;
    try {
        t.m_options.target = j.at("target").get<std::string>();
        t.m_options.id_column = j.value("id_column", "");
        t.m_options.encoding = j.at("encoding").get<std::string>();
        t.m_options.scale = j.value("scale", true);
        t.m_options.missing_indicator = j.value("missing_indicator", false);
        t.m_class_names = j.at("class_names").get<std::vector<std::string>>();
        for (const Json& c : j.at("columns")) {
            ColumnPlan p;
            p.name = c.at("name").get<std::string>();
            p.type = c.at("type").get<std::string>() == "numeric" ? ColumnType::numeric : ColumnType::categorical;
            p.indicator = c.value("indicator", false);
            if (p.type == ColumnType::numeric) {
                p.fill_number = c.at("median").get<double>();
                p.has_range = c.contains("min") && c.contains("max");
                if (p.has_range) {
                    p.min = c.at("min").get<double>();
                    p.max = c.at("max").get<double>();
                }
            } else {
                p.fill_text = c.at("most_frequent").get<std::string>();
                p.categories = c.at("categories").get<std::vector<std::string>>();
                std::sort(p.categories.begin(), p.categories.end());
            }
            p.mean = c.value("mean", 0.0);
            p.scale = c.value("scale", 1.0);
            t.m_columns.push_back(std::move(p));
        }
        t.m_dropped = j.value("dropped", Json::array());
    } catch (const Json::exception& e) {
        throw UsageError(source + ": bad transform (" + e.what() + ")");
    }
    t.build_feature_names();
    return t;
}

std::string transform_kind(const Json& j, const std::string& source)
{
    if (!j.is_object() || !j.contains("kind") || !j["kind"].is_string()) {
        throw UsageError(source + ": not a transform (no \"kind\")");
    }
    const std::string kind = j["kind"].get<std::string>();
    if (kind != "tabular" && kind != "image") {
        throw UsageError(source + ": unknown transform kind '" + kind + "'");
    }
    if (j.value("version", 0) != k_transform_version) {
        throw UsageError(source + ": transform version " + std::to_string(j.value("version", 0)) + " is not supported");
    }
    return kind;
}

ImageTransform ImageTransform::fit(const Matrix& train_pixels, const ImageShape& shape,
                                   const std::vector<std::string>& class_names, bool normalise)
{
    ImageTransform t;
    t.m_shape = shape;
    t.m_class_names = class_names;
    if (normalise && !train_pixels.data.empty()) {
        double sum = 0;
        double sq = 0;
        for (float v : train_pixels.data) {
            const double x = v / 255.0;
            sum += x;
            sq += x * x;
        }
        const double n = static_cast<double>(train_pixels.data.size());
        t.m_mean = sum / n;
        const double var = std::max(0.0, sq / n - t.m_mean * t.m_mean);
        t.m_std = var > 0 ? std::sqrt(var) : 1.0;
    }
    return t;
}

void ImageTransform::apply(Matrix& pixels) const
{
    for (float& v : pixels.data) {
        v = static_cast<float>((v / 255.0 - m_mean) / m_std);
    }
}

Json ImageTransform::to_json() const
{
    return {{"kind", "image"}, {"version", k_transform_version}, {"shape", shape_json(m_shape)}, {"mean", m_mean},
            {"std", m_std},    {"class_names", m_class_names},   {"pixel_scale", 1.0 / 255.0}};
}

ImageTransform ImageTransform::from_json(const Json& j, const std::string& source)
{
    if (transform_kind(j, source) != "image") {
        throw UsageError(source + ": not an image transform");
    }
    ImageTransform t;
    try {
        const Json& s = j.at("shape");
        t.m_shape = ImageShape{s.at("channels").get<int>(), s.at("height").get<int>(), s.at("width").get<int>()};
        t.m_mean = j.at("mean").get<double>();
        t.m_std = j.at("std").get<double>();
        t.m_class_names = j.at("class_names").get<std::vector<std::string>>();
    } catch (const Json::exception& e) {
        throw UsageError(source + ": bad transform (" + e.what() + ")");
    }
    return t;
}

namespace {

struct SplitCounts {
    std::size_t train = 0;
    std::size_t valid = 0;
    std::size_t test = 0;
};

// How stratified_split divides one class of n rows.
SplitCounts split_counts(std::size_t n, double train, double valid, double test)
{
    std::size_t n_train = static_cast<std::size_t>(std::llround(static_cast<double>(n) * train));
    std::size_t n_valid = static_cast<std::size_t>(std::llround(static_cast<double>(n) * valid));
    n_train = std::min(n_train, n);
    n_valid = std::min(n_valid, n - n_train);
    if (test == 0) {
        n_valid = n - n_train; // nothing may land in an empty test split
    }
    return {n_train, n_valid, n - n_train - n_valid};
}

// Every split with a fraction > 0 gets a row of a class of n rows.
bool fills_every_split(std::size_t n, double train, double valid, double test)
{
    const SplitCounts c = split_counts(n, train, valid, test);
    return c.train > 0 && (valid <= 0 || c.valid > 0) && (test <= 0 || c.test > 0);
}

} // namespace

void check_stratifiable(const std::vector<int>& labels, const std::vector<std::string>& class_names, double train,
                        double valid, double test, const std::string& what)
{
    if (train <= 0 || valid < 0 || test < 0 || std::abs(train + valid + test - 1.0) > 1e-6) {
        return; // stratified_split says what is wrong with the fractions
    }
    std::map<int, std::size_t> counts;
    for (int label : labels) {
        ++counts[label];
    }
    std::vector<std::pair<std::string, std::size_t>> small;
    for (const auto& [label, n] : counts) {
        if (!fills_every_split(n, train, valid, test)) {
            const bool named = label >= 0 && static_cast<std::size_t>(label) < class_names.size();
            small.emplace_back(named ? class_names[static_cast<std::size_t>(label)] : std::to_string(label), n);
        }
    }
    if (small.empty()) {
        return;
    }
    // The least class size from which every larger one fills every split too.
    std::size_t need = 1;
    for (std::size_t n = 1; n <= 10000; ++n) {
        if (!fills_every_split(n, train, valid, test)) {
            need = n + 1;
        }
    }
    const auto pct = [](double f) { return std::to_string(std::llround(f * 100)); };
    const std::string split = "a stratified " + pct(train) + "/" + pct(valid) + "/" + pct(test)
                              + " train/valid/test split needs at least " + std::to_string(need) + " per class";
    const auto rows = [](std::size_t n) { return std::to_string(n) + (n == 1 ? " row" : " rows"); };
    if (small.size() == 1) {
        throw UsageError(what + ": class '" + small[0].first + "' has " + rows(small[0].second) + "; " + split);
    }
    std::string names;
    const std::size_t shown = std::min<std::size_t>(small.size(), 5);
    for (std::size_t i = 0; i < shown; ++i) {
        names += (i == 0 ? "" : ", ") + ("'" + small[i].first + "' (" + rows(small[i].second) + ")");
    }
    if (small.size() > shown) {
        names += " and " + std::to_string(small.size() - shown) + " more";
    }
    throw UsageError(what + ": " + std::to_string(small.size()) + " classes have too few rows: " + names + "; "
                     + split);
}

Splits stratified_split(const std::vector<int>& labels, double train, double valid, double test, std::uint64_t seed)
{
    if (train <= 0 || valid < 0 || test < 0 || std::abs(train + valid + test - 1.0) > 1e-6) {
        throw UsageError("split: train/valid/test fractions must be >= 0, train > 0, and sum to 1 (got "
                         + std::to_string(train) + "/" + std::to_string(valid) + "/" + std::to_string(test) + ")");
    }
    std::map<int, std::vector<std::size_t>> by_class;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        by_class[labels[i]].push_back(i);
    }
    std::mt19937_64 rng(seed);
    Splits s;
    for (auto& [label, idx] : by_class) {
        // Fisher-Yates with our own index draw: std::shuffle's distribution is not
        // specified, so the same seed could split differently on another standard library.
        for (std::size_t i = idx.size(); i > 1; --i) {
            const std::size_t j = static_cast<std::size_t>(rng() % i);
            std::swap(idx[i - 1], idx[j]);
        }
        const SplitCounts counts = split_counts(idx.size(), train, valid, test);
        const std::size_t n_train = counts.train;
        const std::size_t n_valid = counts.valid;
        s.train.insert(s.train.end(), idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(n_train));
        s.valid.insert(s.valid.end(), idx.begin() + static_cast<std::ptrdiff_t>(n_train),
                       idx.begin() + static_cast<std::ptrdiff_t>(n_train + n_valid));
        s.test.insert(s.test.end(), idx.begin() + static_cast<std::ptrdiff_t>(n_train + n_valid), idx.end());
    }
    std::sort(s.train.begin(), s.train.end());
    std::sort(s.valid.begin(), s.valid.end());
    std::sort(s.test.begin(), s.test.end());
    return s;
}

Json describe_table(const Table& table, const std::string& target)
{
    Json cols = Json::array();
    for (const Column& col : table.columns) {
        Json j{{"name", col.name}, {"type", to_string(col.type)}, {"missing", col.missing_count()}};
        if (col.name == target) {
            j["role"] = "target";
        }
        if (col.type == ColumnType::numeric) {
            std::vector<double> v;
            for (std::size_t r = 0; r < col.text.size(); ++r) {
                const double x = col.number(r);
                if (!std::isnan(x)) {
                    v.push_back(x);
                }
            }
            if (!v.empty()) {
                double mean = 0;
                for (double x : v) {
                    mean += x;
                }
                mean /= static_cast<double>(v.size());
                double var = 0;
                for (double x : v) {
                    var += (x - mean) * (x - mean);
                }
                // Sample std (ddof 1), as pandas' describe() prints it.
                const double sd = v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0;
                j["mean"] = mean;
                j["std"] = sd;
                j["min"] = *std::min_element(v.begin(), v.end());
                j["max"] = *std::max_element(v.begin(), v.end());
            }
        } else {
            std::map<std::string, std::size_t> counts;
            for (std::size_t r = 0; r < col.text.size(); ++r) {
                if (!col.missing[r]) {
                    ++counts[col.text[r]];
                }
            }
            std::vector<std::pair<std::string, std::size_t>> top(counts.begin(), counts.end());
            std::stable_sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
            j["distinct"] = counts.size();
            Json tops = Json::array();
            for (std::size_t i = 0; i < top.size() && i < 10; ++i) {
                tops.push_back({{"value", top[i].first}, {"count", top[i].second}});
            }
            j["top"] = tops;
        }
        cols.push_back(std::move(j));
    }
    Json out{{"source", table.source}, {"rows", table.rows()}, {"columns", cols}, {"target", target}};
    const int t = table.index_of(target);
    if (t >= 0) {
        const Column& col = table.columns[static_cast<std::size_t>(t)];
        const std::vector<std::string> names = class_names_of(col);
        const std::vector<int> y = encode_labels(col, names);
        Json balance = Json::object();
        for (const std::string& n : names) {
            balance[n] = 0;
        }
        for (int label : y) {
            if (label >= 0) {
                balance[names[static_cast<std::size_t>(label)]] =
                    balance[names[static_cast<std::size_t>(label)]].get<int>() + 1;
            }
        }
        out["class_balance"] = balance;
    }
    return out;
}

LabeledSet augment_images(const LabeledSet& train, bool flip, int shift, std::uint64_t seed)
{
    LabeledSet out = train;
    if (!train.shape.is_image() || (!flip && shift <= 0)) {
        return out;
    }
    const int h = train.shape.height;
    const int w = train.shape.width;
    const int ch = train.shape.channels;
    const std::int64_t cols = train.x.cols;
    std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
    std::vector<float> extra;
    auto add = [&](std::int64_t r, int dx, int dy, bool mirror, const std::string& tag) {
        const std::size_t base = extra.size();
        extra.resize(base + static_cast<std::size_t>(cols), 0.0f);
        for (int c = 0; c < ch; ++c) {
            for (int y = 0; y < h; ++y) {
                for (int x = 0; x < w; ++x) {
                    const int sx = (mirror ? w - 1 - x : x) - dx;
                    const int sy = y - dy;
                    if (sx < 0 || sx >= w || sy < 0 || sy >= h) {
                        continue;
                    }
                    extra[base + static_cast<std::size_t>((c * h + y) * w + x)] = train.x.at(r, (c * h + sy) * w + sx);
                }
            }
        }
        if (!train.y.empty()) {
            out.y.push_back(train.y[static_cast<std::size_t>(r)]);
        }
        out.ids.push_back(train.ids[static_cast<std::size_t>(r)] + "#" + tag);
    };
    for (std::int64_t r = 0; r < train.x.rows; ++r) {
        if (flip) {
            add(r, 0, 0, true, "flip");
        }
        if (shift > 0) {
            const auto span = static_cast<std::uint64_t>(2 * shift + 1);
            const int dx = static_cast<int>(rng() % span) - shift;
            const int dy = static_cast<int>(rng() % span) - shift;
            add(r, dx, dy, false, "shift");
        }
    }
    out.x.data.insert(out.x.data.end(), extra.begin(), extra.end());
    out.x.rows = static_cast<std::int64_t>(out.x.data.size() / static_cast<std::size_t>(cols));
    return out;
}

LabeledSet take_rows(const ImageSet& images, const std::vector<int>& labels, const std::vector<std::size_t>& rows,
                     const std::vector<std::string>& class_names)
{
    LabeledSet set;
    set.shape = images.shape;
    set.class_names = class_names;
    set.x = Matrix(static_cast<std::int64_t>(rows.size()), images.x.cols);
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const auto src = static_cast<std::ptrdiff_t>(rows[k]) * images.x.cols;
        std::copy(images.x.data.begin() + src, images.x.data.begin() + src + images.x.cols,
                  set.x.data.begin() + static_cast<std::ptrdiff_t>(k) * images.x.cols);
        set.y.push_back(labels[rows[k]]);
        set.ids.push_back(images.ids[rows[k]]);
    }
    for (std::int64_t i = 0; i < images.x.cols; ++i) {
        set.feature_names.push_back("px_" + std::to_string(i));
    }
    return set;
}

ImageSet load_image_source(const DataSource& source, const Json& data)
{
    auto int_param = [&](const Json& obj, const char* key, int fallback, const std::string& where) {
        const auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) {
            return fallback;
        }
        if (!it->is_number_integer()) {
            throw UsageError(where + key + ": expected an integer");
        }
        return it->get<int>();
    };
    const int size = int_param(data, "image_size", 0, "params.data.");
    const int limit = int_param(data, "limit", 0, "params.data.");
    if (size < 0 || limit < 0) {
        throw UsageError("params.data.image_size and params.data.limit must be >= 0");
    }
    const auto lim = static_cast<std::size_t>(limit);
    if (source.format == "grid") {
        const Json grid = data.value("grid", Json::object());
        return load_image_grid(source.path, int_param(grid, "cell", 20, "params.data.grid."),
                               int_param(grid, "classes", 10, "params.data.grid."), size, lim);
    }
    if (source.format == "list") {
        return load_image_list(source.path, size, lim);
    }
    if (source.format == "folder") {
        return load_image_folder(source.path, size, lim);
    }
    throw UsageError(source.path.string() + ": format '" + source.format + "' is not an image format");
}

} // namespace mlrun::ml
