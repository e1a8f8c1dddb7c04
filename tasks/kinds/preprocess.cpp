// preprocess: a table (CSV/ARFF) or an image set -> stratified train/valid/test splits,
// transform.json (replayed by inference) and describe.json.
#include "core/error.hpp"
#include "core/util.hpp"
#include "kinds/kinds.hpp"
#include "ml/input_report.hpp"
#include "ml/metrics.hpp"
#include "ml/split_io.hpp"
#include "ml/table.hpp"
#include "ml/transform.hpp"
#include "ports/inputs.hpp"
#include "ports/reporter.hpp"

#include <cmath>
#include <map>

namespace mlrun::kinds {

namespace {

using ml::LabeledSet;

// Typed param reads: a wrong type is the user's mistake, named by its dotted key.
const Json& sub(const Json& params, const char* key)
{
    static const Json empty = Json::object();
    const auto it = params.find(key);
    if (it == params.end() || it->is_null()) {
        return empty;
    }
    if (!it->is_object()) {
        throw UsageError(std::string("params.") + key + ": expected an object");
    }
    return *it;
}

std::string str(const Json& obj, const char* key, const std::string& fallback, const std::string& where)
{
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
        return fallback;
    }
    if (!it->is_string()) {
        throw UsageError("params." + where + key + ": expected a string");
    }
    return it->get<std::string>();
}

double num(const Json& obj, const char* key, double fallback, const std::string& where)
{
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
        return fallback;
    }
    if (!it->is_number()) {
        throw UsageError("params." + where + key + ": expected a number");
    }
    return it->get<double>();
}

bool flag(const Json& obj, const char* key, bool fallback, const std::string& where)
{
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
        return fallback;
    }
    if (!it->is_boolean()) {
        throw UsageError("params." + where + key + ": expected true or false");
    }
    return it->get<bool>();
}

std::vector<std::string> names(const Json& obj, const char* key, const std::string& where)
{
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
        return {};
    }
    if (it->is_string()) {
        return {it->get<std::string>()};
    }
    if (!it->is_array()) {
        throw UsageError("params." + where + key + ": expected a list of column names");
    }
    std::vector<std::string> out;
    for (const Json& v : *it) {
        if (!v.is_string()) {
            throw UsageError("params." + where + key + ": expected a list of column names");
        }
        out.push_back(v.get<std::string>());
    }
    return out;
}

LabeledSet subset(const LabeledSet& all, const std::vector<std::size_t>& rows)
{
    LabeledSet s;
    s.feature_names = all.feature_names;
    s.class_names = all.class_names;
    s.shape = all.shape;
    s.x = ml::Matrix(static_cast<std::int64_t>(rows.size()), all.x.cols);
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const auto src = static_cast<std::ptrdiff_t>(rows[k]) * all.x.cols;
        std::copy(all.x.data.begin() + src, all.x.data.begin() + src + all.x.cols,
                  s.x.data.begin() + static_cast<std::ptrdiff_t>(k) * all.x.cols);
        if (!all.y.empty()) {
            s.y.push_back(all.y[rows[k]]);
        }
        s.ids.push_back(all.ids[rows[k]]);
    }
    return s;
}

Json balance_of(const std::vector<int>& y, const std::vector<std::string>& classes)
{
    Json b = Json::object();
    std::vector<long> counts(classes.size(), 0);
    for (int label : y) {
        if (label >= 0 && static_cast<std::size_t>(label) < classes.size()) {
            ++counts[static_cast<std::size_t>(label)];
        }
    }
    for (std::size_t i = 0; i < classes.size(); ++i) {
        b[classes[i]] = counts[i];
    }
    return b;
}

void check_finite(const LabeledSet& set, const std::string& what)
{
    for (std::size_t i = 0; i < set.x.data.size(); ++i) {
        if (!std::isfinite(set.x.data[i])) {
            const auto col = static_cast<std::int64_t>(i) % set.x.cols;
            throw TaskFailed(what + ": non-finite feature '" + set.feature_names[static_cast<std::size_t>(col)]
                             + "' after the transform");
        }
    }
}

// data.positive_class as text: a YAML 1 (a number) means the class "1". Empty when unset.
std::string positive_class_param(const Json& data)
{
    const auto it = data.find("positive_class");
    if (it == data.end() || it->is_null()) {
        return "";
    }
    if (it->is_string()) {
        return it->get<std::string>();
    }
    if (it->is_number_integer() || it->is_boolean()) {
        return it->dump();
    }
    throw UsageError("params.data.positive_class: expected a class name, found " + it->dump());
}

struct Outputs {
    LabeledSet train;
    LabeledSet valid;
    LabeledSet test;
    Json transform;
    Json describe;
    std::vector<std::string> class_names;
    std::size_t rows = 0;
    Json test_input_report; // what the transform met in the test split (tables); inference reports it
};

} // namespace

void run_preprocess(TaskContext& ctx)
{
    const Json& params = ctx.task.params;
    const Json& data = sub(params, "data");
    const Json& split = sub(params, "split");
    const Json& impute = sub(params, "impute");
    const Json& augment = sub(params, "augment");
    const std::string base_dir = str(params, "base_dir", "", "");
    const std::uint64_t seed = ctx.seed != 0 ? ctx.seed : static_cast<std::uint64_t>(num(params, "seed", 0, ""));
    const double fr_train = num(split, "train", 0.6, "split.");
    const double fr_valid = num(split, "valid", 0.2, "split.");
    const double fr_test = num(split, "test", 0.2, "split.");
    const double limit = num(data, "limit", 0, "data.");
    const std::string positive = positive_class_param(data);
    if (limit < 0 || limit != std::floor(limit)) {
        throw UsageError("params.data.limit: expected a whole number >= 0 (0 = all rows)");
    }

    ctx.stage("read", 0, 4);
    const ml::DataSource src = ml::resolve_data_source(
        data, base_dir, [&](const std::string& id) { return ctx.inputs().fetch_dataset(id); });
    ctx.say("preprocess: reading " + src.path.string() + " (" + src.format + ")");

    Outputs out;
    if (src.format == "table") {
        ml::ReadOptions ropt;
        ropt.limit = static_cast<std::size_t>(limit);
        if (data.contains("header") && data["header"].is_boolean()) {
            ropt.header = data["header"].get<bool>() ? 1 : 0;
        }
        ml::Table table = ml::read_table(src.path, ropt);
        for (const ml::Column& c : table.columns) {
            if (c.infinite > 0) {
                ctx.say("preprocess: column '" + c.name + "': " + std::to_string(c.infinite)
                        + " infinite values (inf, -inf, Infinity) read as missing");
            }
        }
        ml::TransformOptions topt;
        topt.target = str(data, "target", "", "data.");
        if (topt.target.empty()) {
            throw UsageError("params.data.target: name the label column (columns: " + [&] {
                std::string s;
                for (const auto& n : table.names()) {
                    s += (s.empty() ? "" : ", ") + n;
                }
                return s;
            }() + ")");
        }
        topt.drop = names(data, "drop", "data.");
        topt.categorical = names(data, "categorical", "data.");
        topt.numeric = names(data, "numeric", "data.");
        topt.id_column = str(data, "id_column", "", "data.");
        topt.encoding = str(params, "encoding", "onehot", "");
        topt.missing_indicator = flag(impute, "missing_indicator", false, "impute.");
        topt.scale = flag(params, "scale", true, "");
        for (const std::string& c : topt.categorical) {
            ml::set_type(table, c, ml::ColumnType::categorical);
        }
        for (const std::string& c : topt.numeric) {
            ml::set_type(table, c, ml::ColumnType::numeric);
        }
        const ml::Column& target = table.column(topt.target, "target column");
        // Rows without a label cannot be trained or scored on.
        std::vector<std::size_t> labelled;
        for (std::size_t r = 0; r < table.rows(); ++r) {
            if (!target.missing[r]) {
                labelled.push_back(r);
            }
        }
        if (labelled.size() != table.rows()) {
            ctx.say("preprocess: dropped " + std::to_string(table.rows() - labelled.size()) + " rows with a missing '"
                    + topt.target + "'");
            table = table.select_rows(labelled);
        }
        if (table.rows() == 0) {
            throw UsageError(table.source + ": no rows with a value in target column '" + topt.target + "'");
        }
        const ml::Column& tcol = table.column(topt.target, "target column");
        const std::vector<std::string> sorted = ml::class_names_of(tcol);
        if (sorted.size() < 2) {
            throw UsageError(table.source + ": target column '" + topt.target + "' has only one class ('"
                             + sorted.front() + "'); a classifier needs at least two");
        }
        out.class_names = ml::with_positive_class(sorted, positive);
        // Split on the sorted encoding, so the choice of positive class never moves a row.
        const std::vector<int> y = ml::encode_labels(tcol, sorted);
        ml::check_stratifiable(y, sorted, fr_train, fr_valid, fr_test,
                               table.source + ": target column '" + topt.target + "'");
        ctx.check_cancel();
        ctx.stage("split", 1, 4);
        const ml::Splits splits = ml::stratified_split(y, fr_train, fr_valid, fr_test, seed);
        ctx.stage("fit", 2, 4);
        std::vector<std::string> notes;
        const ml::TabularTransform transform = ml::TabularTransform::fit(table, splits.train, topt, out.class_names,
                                                                         &notes);
        for (const std::string& n : notes) {
            ctx.say("preprocess: " + n);
        }
        const LabeledSet all = transform.apply(table);
        check_finite(all, table.source);
        out.train = subset(all, splits.train);
        out.valid = subset(all, splits.valid);
        out.test = subset(all, splits.test);
        out.transform = transform.to_json();
        out.describe = ml::describe_table(table, topt.target);
        out.describe["dropped"] = out.transform["dropped"];
        out.rows = table.rows();
        ml::InputReport test_report;
        (void)transform.apply(table.select_rows(splits.test), test_report);
        out.test_input_report = test_report.to_json();
    } else {
        const ml::ImageSet images = ml::load_image_source(src, data);
        ml::Column labels;
        labels.text = images.labels;
        labels.missing.assign(images.labels.size(), 0);
        const std::vector<std::string> sorted = ml::class_names_of(labels);
        if (sorted.size() < 2) {
            throw UsageError(src.path.string() + ": the images have only one class ('"
                             + (sorted.empty() ? std::string() : sorted.front())
                             + "'); a classifier needs at least two");
        }
        out.class_names = ml::with_positive_class(sorted, positive);
        // Split on the sorted encoding, so the choice of positive class never moves a row.
        const ml::Splits splits = [&] {
            const std::vector<int> y_sorted = ml::encode_labels(labels, sorted);
            ml::check_stratifiable(y_sorted, sorted, fr_train, fr_valid, fr_test, src.path.string());
            ctx.check_cancel();
            ctx.stage("split", 1, 4);
            return ml::stratified_split(y_sorted, fr_train, fr_valid, fr_test, seed);
        }();
        const std::vector<int> y = ml::encode_labels(labels, out.class_names);
        ctx.stage("fit", 2, 4);
        LabeledSet train = ml::take_rows(images, y, splits.train, out.class_names);
        const ml::ImageTransform transform = ml::ImageTransform::fit(train.x, images.shape, out.class_names);
        // Augment raw pixels (0 = background) after fitting, so the statistics describe
        // real images only; only the train split is augmented.
        const bool flip = flag(augment, "flip", false, "augment.");
        const int shift = static_cast<int>(num(augment, "shift", 0, "augment."));
        if (shift < 0 || shift > 4) {
            throw UsageError("params.augment.shift: expected 0..4 pixels (got " + std::to_string(shift) + ")");
        }
        if (flip || shift > 0) {
            const auto before = train.x.rows;
            train = ml::augment_images(train, flip, shift, seed);
            ctx.say("preprocess: augmented train from " + std::to_string(before) + " to " + std::to_string(train.x.rows)
                    + " images");
        }
        out.train = std::move(train);
        out.valid = ml::take_rows(images, y, splits.valid, out.class_names);
        out.test = ml::take_rows(images, y, splits.test, out.class_names);
        transform.apply(out.train.x);
        transform.apply(out.valid.x);
        transform.apply(out.test.x);
        out.transform = transform.to_json();
        out.rows = images.labels.size();
        out.describe = {{"source", src.path.string()},      {"rows", out.rows},
                        {"shape", out.transform["shape"]},  {"pixel_mean", transform.mean()},
                        {"pixel_std", transform.std_dev()}, {"class_balance", balance_of(y, out.class_names)}};
    }
    // Binary targets: the class precision, recall, F1 and PR AUC are computed for.
    out.describe["positive_class"] = out.class_names.size() == 2 ? Json(out.class_names[1]) : Json(nullptr);
    out.describe["classes"] = out.class_names;
    out.describe["splits"] = {
        {"seed", seed},
        {"train", {{"rows", out.train.x.rows}, {"class_balance", balance_of(out.train.y, out.class_names)}}},
        {"valid", {{"rows", out.valid.x.rows}, {"class_balance", balance_of(out.valid.y, out.class_names)}}},
        {"test", {{"rows", out.test.x.rows}, {"class_balance", balance_of(out.test.y, out.class_names)}}}};
    if (!out.test_input_report.is_null()) {
        out.describe["splits"]["test"]["input_report"] = out.test_input_report;
    }

    ctx.check_cancel();
    ctx.stage("write", 3, 4);
    const auto& dir = ctx.work_dir;
    ml::save_split(dir / "train.bin", out.train);
    ml::save_split(dir / "valid.bin", out.valid);
    ml::save_split(dir / "test.bin", out.test);
    write_file_atomic(dir / "transform.json", out.transform.dump(2) + "\n");
    write_file_atomic(dir / "describe.json", out.describe.dump(2) + "\n");
    for (const char* name : {"train.bin", "valid.bin", "test.bin", "transform.json", "describe.json"}) {
        ctx.report().log_artifact(name, dir / name);
    }
    Reporter& t = ctx.report();
    const Json balance = out.describe.contains("class_balance") ? out.describe["class_balance"]
                                                                : balance_of(out.train.y, out.class_names);
    t.log_value("rows", out.rows);
    t.log_value("features", out.train.x.cols);
    t.log_value("class_balance", balance);
    t.log_value("split_rows", {{"train", out.train.x.rows}, {"valid", out.valid.x.rows}, {"test", out.test.x.rows}});
    ctx.say("preprocess: " + std::to_string(out.rows) + " rows, " + std::to_string(out.train.x.cols) + " features, "
            + std::to_string(out.class_names.size()) + " classes " + balance.dump()
            + (out.class_names.size() == 2 ? " (positive class '" + out.class_names[1] + "')" : std::string())
            + "; split " + std::to_string(out.train.x.rows) + "/" + std::to_string(out.valid.x.rows) + "/"
            + std::to_string(out.test.x.rows) + " (seed " + std::to_string(seed) + ")");
    ctx.stage("write", 4, 4);
}

} // namespace mlrun::kinds
