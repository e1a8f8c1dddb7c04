#include "ml/plots.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "ml/io/csv.hpp"
#include "ml/metrics.hpp"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace mlrun::ml {

using nlohmann::json;
namespace fs = std::filesystem;

bool Predictions::has_labels() const
{
    return std::any_of(label.begin(), label.end(), [](int l) { return l >= 0; });
}

namespace {

// ---------------------------------------------------------------- drawing helpers

struct Rgb {
    double r, g, b;
};

// Tableau 10: distinguishable lines for up to ten models, then it repeats.
const Rgb k_palette[] = {{0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16},
                         {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50},
                         {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81}};
const Rgb k_recommended{0.17, 0.63, 0.17};
const Rgb k_other{0.55, 0.67, 0.82};
const char* const k_font = "DejaVu Sans";

// Owns a cairo image surface; save() writes the PNG under a temp name, then renames it,
// so a reader never sees half a file.
class Canvas {
public:
    Canvas(int width, int height)
        : m_width(width), m_height(height), m_surface(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height)),
          m_cr(cairo_create(m_surface))
    {
        if (cairo_surface_status(m_surface) != CAIRO_STATUS_SUCCESS || cairo_status(m_cr) != CAIRO_STATUS_SUCCESS) {
            cairo_destroy(m_cr);
            cairo_surface_destroy(m_surface);
            throw std::runtime_error("cannot create a " + std::to_string(width) + "x" + std::to_string(height)
                                     + " image for a plot");
        }
        cairo_set_source_rgb(m_cr, 1, 1, 1);
        cairo_paint(m_cr);
        cairo_select_font_face(m_cr, k_font, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    }
    Canvas(const Canvas&) = delete;
    Canvas& operator=(const Canvas&) = delete;
    ~Canvas()
    {
        cairo_destroy(m_cr);
        cairo_surface_destroy(m_surface);
    }

    cairo_t* cr() const { return m_cr; }
    int width() const { return m_width; }
    int height() const { return m_height; }

    void save(const fs::path& png) const
    {
        cairo_surface_flush(m_surface);
        fs::path tmp = png;
        tmp += ".tmp." + new_id();
        cairo_status_t status = cairo_surface_write_to_png(m_surface, tmp.c_str());
        if (status != CAIRO_STATUS_SUCCESS) {
            std::error_code ec;
            fs::remove(tmp, ec);
            throw std::runtime_error("cannot write " + png.string() + ": " + cairo_status_to_string(status));
        }
        std::error_code ec;
        fs::rename(tmp, png, ec);
        if (ec) {
            fs::remove(tmp, ec);
            throw std::runtime_error("cannot write " + png.string() + ": " + ec.message());
        }
    }

private:
    int m_width;
    int m_height;
    cairo_surface_t* m_surface;
    cairo_t* m_cr;
};

void set_color(cairo_t* cr, const Rgb& c, double alpha = 1.0)
{
    cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

void set_font(cairo_t* cr, double size, bool bold = false)
{
    cairo_select_font_face(cr, k_font, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double text_width(cairo_t* cr, const std::string& text)
{
    cairo_text_extents_t ext;
    cairo_text_extents(cr, text.c_str(), &ext);
    return ext.x_advance;
}

// Draws text with its anchor at (x, y): ax 0 = left, 0.5 = centre, 1 = right; ay likewise
// from top (0) to bottom (1) of the font's cap height.
void draw_text(cairo_t* cr, double x, double y, const std::string& text, double ax = 0, double ay = 0.5)
{
    cairo_text_extents_t ext;
    cairo_text_extents(cr, text.c_str(), &ext);
    cairo_font_extents_t font;
    cairo_font_extents(cr, &font);
    double cap = font.ascent * 0.72; // close to the height of capitals and digits
    cairo_move_to(cr, x - ext.x_advance * ax, y + cap * (1 - ay));
    cairo_show_text(cr, text.c_str());
}

// Text rotated a quarter turn counter-clockwise, centred on (x, y): for y axis titles.
void draw_text_vertical(cairo_t* cr, double x, double y, const std::string& text)
{
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -M_PI / 2);
    draw_text(cr, 0, 0, text, 0.5, 0.5);
    cairo_restore(cr);
}

// Cuts text to fit max_width, marking the cut with "...".
std::string fit_text(cairo_t* cr, std::string text, double max_width)
{
    if (text_width(cr, text) <= max_width) {
        return text;
    }
    while (!text.empty() && text_width(cr, text + "...") > max_width) {
        text.pop_back();
    }
    return text + "...";
}

// A round tick step giving about `target` ticks over range.
double nice_step(double range, int target)
{
    double raw = range / std::max(target, 1);
    double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double f = raw / mag;
    double nice = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    return nice * mag;
}

std::string fixed(double v, int decimals)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

// Decimals that show a tick step exactly (0.2 -> 1, 0.05 -> 2, 10 -> 0).
int tick_decimals(double step)
{
    int d = 0;
    while (d < 6 && std::fabs(step * std::pow(10.0, d) - std::round(step * std::pow(10.0, d))) > 1e-9) {
        ++d;
    }
    return d;
}

void draw_title(cairo_t* cr, double width, const std::string& title, const std::string& note)
{
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    set_font(cr, 18, true);
    draw_text(cr, width / 2, 24, fit_text(cr, title, width - 20), 0.5, 0.5);
    if (!note.empty()) {
        set_font(cr, 12);
        cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
        draw_text(cr, width / 2, 46, fit_text(cr, note, width - 20), 0.5, 0.5);
    }
}

void line(cairo_t* cr, double x0, double y0, double x1, double y1)
{
    cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
    cairo_stroke(cr);
}

} // namespace

// ---------------------------------------------------------------- predictions

Predictions read_predictions_csv(const fs::path& path)
{
    const std::vector<CsvRow> records = read_csv_file(path);
    const std::string where = path.string();
    if (records.empty()) {
        throw UsageError(where + ": empty file, expected a header id,label,predicted,prob_<class>...");
    }
    std::vector<std::string> header;
    for (const CsvField& f : records[0].fields) {
        header.push_back(f.text);
    }
    int id_col = -1;
    int label_col = -1;
    int pred_col = -1;
    std::vector<int> prob_cols;
    Predictions p;
    for (size_t c = 0; c < header.size(); ++c) {
        const std::string& h = header[c];
        if (h == "id") {
            id_col = static_cast<int>(c);
        } else if (h == "label") {
            label_col = static_cast<int>(c);
        } else if (h == "predicted") {
            pred_col = static_cast<int>(c);
        } else if (h.rfind("prob_", 0) == 0) {
            prob_cols.push_back(static_cast<int>(c));
            p.class_names.push_back(h.substr(5));
        }
    }
    if (pred_col < 0 || prob_cols.empty()) {
        throw UsageError(where + ":1: expected columns id,label,predicted,prob_<class>... (missing "
                         + std::string(pred_col < 0 ? "predicted" : "prob_<class>") + ")");
    }
    const int n_classes = static_cast<int>(prob_cols.size());
    auto class_index = [&](const std::string& text, const CsvRow& rec, size_t col, bool allow_empty) {
        if (text.empty()) {
            if (allow_empty) {
                return -1;
            }
            throw UsageError(where + ":" + std::to_string(rec.line) + ": column " + header[col] + " is empty");
        }
        for (int k = 0; k < n_classes; ++k) {
            if (p.class_names[static_cast<size_t>(k)] == text) {
                return k;
            }
        }
        char* end = nullptr;
        long v = std::strtol(text.c_str(), &end, 10);
        if (end && *end == '\0' && v >= 0 && v < n_classes) {
            return static_cast<int>(v);
        }
        throw UsageError(where + ":" + std::to_string(rec.line) + ": column " + header[col] + ": '" + text
                         + "' is not one of the classes of the prob_ columns");
    };

    const size_t rows = records.size() - 1;
    p.proba = Matrix(static_cast<std::int64_t>(rows), n_classes);
    for (size_t r = 0; r < rows; ++r) {
        const CsvRow& rec = records[r + 1];
        if (rec.fields.size() != header.size()) {
            throw UsageError(where + ":" + std::to_string(rec.line) + ": expected " + std::to_string(header.size())
                             + " fields, found " + std::to_string(rec.fields.size()));
        }
        p.ids.push_back(id_col >= 0 ? rec.fields[static_cast<size_t>(id_col)].text : std::to_string(r));
        p.label.push_back(label_col >= 0 ? class_index(rec.fields[static_cast<size_t>(label_col)].text, rec,
                                                       static_cast<size_t>(label_col), true)
                                         : -1);
        p.predicted.push_back(
            class_index(rec.fields[static_cast<size_t>(pred_col)].text, rec, static_cast<size_t>(pred_col), false));
        for (int k = 0; k < n_classes; ++k) {
            const size_t col = static_cast<size_t>(prob_cols[static_cast<size_t>(k)]);
            const std::string& text = rec.fields[col].text;
            char* end = nullptr;
            double v = std::strtod(text.c_str(), &end);
            if (text.empty() || !end || *end != '\0' || !std::isfinite(v)) {
                throw UsageError(where + ":" + std::to_string(rec.line) + ": column " + header[col]
                                 + ": expected a probability, found '" + text + "'");
            }
            p.proba.at(static_cast<std::int64_t>(r), k) = static_cast<float>(v);
        }
    }
    return p;
}

std::optional<RocSeries> roc_series(const std::string& label, const Predictions& predictions)
{
    const int n = static_cast<int>(predictions.class_names.size());
    if (n < 2) {
        return std::nullopt;
    }
    std::vector<int> y;
    std::vector<double> score;
    for (size_t r = 0; r < predictions.label.size(); ++r) {
        const int l = predictions.label[r];
        if (l < 0) {
            continue;
        }
        const auto row = static_cast<std::int64_t>(r);
        if (n == 2) {
            y.push_back(l == n - 1 ? 1 : 0);
            score.push_back(predictions.proba.at(row, n - 1));
        } else {
            // Micro average: each (row, class) pair is one binary decision.
            for (int k = 0; k < n; ++k) {
                y.push_back(l == k ? 1 : 0);
                score.push_back(predictions.proba.at(row, k));
            }
        }
    }
    const bool has_pos = std::find(y.begin(), y.end(), 1) != y.end();
    const bool has_neg = std::find(y.begin(), y.end(), 0) != y.end();
    if (!has_pos || !has_neg) {
        return std::nullopt;
    }
    RocSeries s;
    s.label = label;
    roc_curve(y, score, s.fpr, s.tpr);
    s.auc = roc_auc_binary(y, score);
    return s;
}

// ---------------------------------------------------------------- charts

void plot_leaderboard_bars(const json& leaderboard, const fs::path& png)
{
    const json rows = leaderboard.is_object() ? leaderboard.value("models", json::array()) : leaderboard;
    const std::string metric = leaderboard.is_object() ? leaderboard.value("primary_metric", std::string("score"))
                                                       : std::string("score");
    const bool lower = lower_is_better(metric);
    const std::string recommended_id = leaderboard.is_object() && leaderboard.value("recommended", json()).is_object()
                                           ? leaderboard.at("recommended").value("task_id", std::string())
                                           : std::string();

    const int n = static_cast<int>(rows.size());
    const double band = 38;
    const int width = 900;
    const int height = static_cast<int>(std::max(300.0, 150 + band * n));
    Canvas canvas(width, height);
    cairo_t* cr = canvas.cr();
    draw_title(cr, width, "Leaderboard: test " + metric,
               std::string(lower ? "lower is better" : "higher is better") + "; " + std::to_string(n)
                   + (n == 1 ? " model" : " models"));

    // Left margin from the longest label, within bounds so the bars keep their room.
    set_font(cr, 13);
    std::vector<std::string> labels;
    double label_width = 60;
    for (const json& row : rows) {
        labels.push_back(std::to_string(row.value("rank", 0)) + ". " + row.value("model", std::string()));
        label_width = std::max(label_width, text_width(cr, labels.back()));
    }
    label_width = std::min(label_width, 300.0);
    const double x0 = 20 + label_width + 12;
    const double x1 = width - 90;
    const double y0 = 80;
    const double y1 = height - 60;

    if (n == 0) {
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
        set_font(cr, 16);
        draw_text(cr, width / 2.0, height / 2.0, "no model ranked", 0.5, 0.5);
        canvas.save(png);
        return;
    }

    double max_score = 0;
    for (const json& row : rows) {
        max_score = std::max(max_score, row.value("score", 0.0));
    }
    double xmax = 1.0;
    if (lower || max_score > 1.0) {
        // Unbounded metrics (log_loss): a round ceiling above the largest value.
        const double step = nice_step(std::max(max_score, 1e-9) * 1.1, 5);
        xmax = std::ceil(max_score * 1.1 / step) * step;
    }
    const double step = nice_step(xmax, 5);
    const int decimals = tick_decimals(step);
    auto x_of = [&](double v) { return x0 + (x1 - x0) * std::clamp(v / xmax, 0.0, 1.0); };

    // Grid and x axis ticks.
    set_font(cr, 11);
    for (double t = 0; t <= xmax + step * 1e-6; t += step) {
        const double x = x_of(t);
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_set_line_width(cr, 1);
        line(cr, x, y0, x, y1);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        line(cr, x, y1, x, y1 + 5);
        draw_text(cr, x, y1 + 15, fixed(t, decimals), 0.5, 0.5);
    }
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_set_line_width(cr, 1.2);
    line(cr, x0, y1, x1, y1);
    line(cr, x0, y0, x0, y1);
    set_font(cr, 13);
    draw_text(cr, (x0 + x1) / 2, y1 + 38, "test " + metric, 0.5, 0.5);

    // Bars, rank 1 on top.
    const double slot = (y1 - y0) / n;
    const double bar = std::min(slot * 0.7, 26.0);
    for (int i = 0; i < n; ++i) {
        const json& row = rows[static_cast<size_t>(i)];
        const double score = row.value("score", 0.0);
        const double yc = y0 + slot * (i + 0.5);
        const bool best = row.value("task_id", std::string()) == recommended_id;
        set_color(cr, best ? k_recommended : k_other);
        cairo_rectangle(cr, x0, yc - bar / 2, x_of(score) - x0, bar);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        set_font(cr, 13, best);
        draw_text(cr, x0 - 10, yc, fit_text(cr, labels[static_cast<size_t>(i)], label_width), 1, 0.5);
        set_font(cr, 12);
        draw_text(cr, x_of(score) + 6, yc, fixed(score, 4), 0, 0.5);
    }

    // Legend, top right above the plot.
    set_font(cr, 12);
    const double ly = 62;
    double lx = x1 - 230;
    set_color(cr, k_recommended);
    cairo_rectangle(cr, lx, ly - 6, 14, 12);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    draw_text(cr, lx + 20, ly, "recommended", 0, 0.5);
    lx += 120;
    set_color(cr, k_other);
    cairo_rectangle(cr, lx, ly - 6, 14, 12);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    draw_text(cr, lx + 20, ly, "other models", 0, 0.5);

    canvas.save(png);
}

// The dash of the diagonal, drawn in the plot and in its legend.
const double k_diagonal_dash[] = {6, 4};

// The frame of a plot over [0, 1] x [0, 1] in a square of `side` at (x0, y0): grid, ticks
// every 0.2, axis labels and the dashed diagonal (ROC curves and the reliability diagram).
void draw_unit_axes(cairo_t* cr, double x0, double y0, double side, const char* x_label, const char* y_label)
{
    const double x1 = x0 + side;
    const double y1 = y0 + side;
    auto px = [&](double v) { return x0 + side * v; };
    auto py = [&](double v) { return y1 - side * v; };
    set_font(cr, 11);
    for (int i = 0; i <= 5; ++i) {
        const double t = i * 0.2;
        cairo_set_line_width(cr, 1);
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        line(cr, px(t), y0, px(t), y1);
        line(cr, x0, py(t), x1, py(t));
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        line(cr, px(t), y1, px(t), y1 + 5);
        line(cr, x0 - 5, py(t), x0, py(t));
        draw_text(cr, px(t), y1 + 15, fixed(t, 1), 0.5, 0.5);
        draw_text(cr, x0 - 9, py(t), fixed(t, 1), 1, 0.5);
    }
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_set_line_width(cr, 1.2);
    cairo_rectangle(cr, x0, y0, side, side);
    cairo_stroke(cr);
    set_font(cr, 13);
    draw_text(cr, (x0 + x1) / 2, y1 + 38, x_label, 0.5, 0.5);
    draw_text_vertical(cr, x0 - 50, (y0 + y1) / 2, y_label);

    // The diagonal: chance (ROC), perfect calibration (reliability).
    cairo_set_dash(cr, k_diagonal_dash, 2, 0);
    cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
    cairo_set_line_width(cr, 1.2);
    line(cr, px(0), py(0), px(1), py(1));
    cairo_set_dash(cr, nullptr, 0, 0);
}

void plot_roc_curves(const std::vector<RocSeries>& series, const std::string& note, const fs::path& png)
{
    const int width = 680;
    const int height = 680;
    Canvas canvas(width, height);
    cairo_t* cr = canvas.cr();
    draw_title(cr, width, "ROC curves (test set)", note);

    const double x0 = 90;
    const double y0 = 70;
    const double side = 540;
    const double x1 = x0 + side;
    const double y1 = y0 + side;
    auto px = [&](double v) { return x0 + side * v; };
    auto py = [&](double v) { return y1 - side * v; };

    draw_unit_axes(cr, x0, y0, side, "false positive rate", "true positive rate");

    // Curves, clipped to the plot area.
    cairo_save(cr);
    cairo_rectangle(cr, x0, y0, side, side);
    cairo_clip(cr);
    cairo_set_line_width(cr, 2.2);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (size_t i = 0; i < series.size(); ++i) {
        const RocSeries& s = series[i];
        if (s.fpr.empty()) {
            continue;
        }
        set_color(cr, k_palette[i % 10]);
        cairo_move_to(cr, px(s.fpr[0]), py(s.tpr[0]));
        for (size_t k = 1; k < s.fpr.size() && k < s.tpr.size(); ++k) {
            cairo_line_to(cr, px(s.fpr[k]), py(s.tpr[k]));
        }
        cairo_stroke(cr);
    }
    cairo_restore(cr);

    if (series.empty()) {
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
        set_font(cr, 15);
        draw_text(cr, (x0 + x1) / 2, (y0 + y1) / 2 - 30, "no ROC curve to draw", 0.5, 0.5);
    }

    // Legend in the lower right, where ROC curves rarely pass.
    set_font(cr, 12);
    std::vector<std::string> entries;
    double entry_width = text_width(cr, "chance");
    for (const RocSeries& s : series) {
        entries.push_back(fit_text(cr, s.label, 220) + " (AUC " + fixed(s.auc, 4) + ")");
        entry_width = std::max(entry_width, text_width(cr, entries.back()));
    }
    const double row_h = 18;
    const double box_w = entry_width + 44;
    const double box_h = row_h * (entries.size() + 1) + 10;
    const double bx = x1 - box_w - 10;
    const double by = y1 - box_h - 10;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_rectangle(cr, bx, by, box_w, box_h);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (size_t i = 0; i <= entries.size(); ++i) {
        const double ly = by + 5 + row_h * (i + 0.5);
        const bool chance = i == entries.size();
        if (chance) {
            cairo_set_dash(cr, k_diagonal_dash, 2, 0);
            cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
            cairo_set_line_width(cr, 1.2);
        } else {
            set_color(cr, k_palette[i % 10]);
            cairo_set_line_width(cr, 2.5);
        }
        line(cr, bx + 8, ly, bx + 30, ly);
        cairo_set_dash(cr, nullptr, 0, 0);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        draw_text(cr, bx + 36, ly, chance ? std::string("chance") : entries[i], 0, 0.5);
    }

    canvas.save(png);
}

void plot_reliability(const std::vector<ReliabilitySeries>& series, const fs::path& png)
{
    const int width = 680;
    const int height = 680;
    Canvas canvas(width, height);
    cairo_t* cr = canvas.cr();
    draw_title(cr, width, "Reliability diagram (test set)", "top-label confidence, 10 equal-width bins");

    const double x0 = 90;
    const double y0 = 70;
    const double side = 540;
    const double x1 = x0 + side;
    const double y1 = y0 + side;
    auto px = [&](double v) { return x0 + side * v; };
    auto py = [&](double v) { return y1 - side * v; };

    draw_unit_axes(cr, x0, y0, side, "mean confidence", "fraction predicted right");

    cairo_save(cr);
    cairo_rectangle(cr, x0 - 8, y0 - 8, side + 16, side + 16);
    cairo_clip(cr);
    for (size_t i = 0; i < series.size(); ++i) {
        long total = 0;
        for (const ReliabilityBin& b : series[i].bins) {
            total += b.count;
        }
        set_color(cr, k_palette[i % 10]);
        cairo_set_line_width(cr, 2.0);
        bool first = true;
        for (const ReliabilityBin& b : series[i].bins) {
            if (b.count == 0) {
                continue;
            }
            if (first) {
                cairo_move_to(cr, px(b.confidence), py(b.accuracy));
                first = false;
            } else {
                cairo_line_to(cr, px(b.confidence), py(b.accuracy));
            }
        }
        cairo_stroke(cr);
        for (const ReliabilityBin& b : series[i].bins) {
            if (b.count == 0) {
                continue;
            }
            const double r = 3.0 + 7.0 * std::sqrt(static_cast<double>(b.count) / std::max<long>(total, 1));
            cairo_arc(cr, px(b.confidence), py(b.accuracy), r, 0, 2 * 3.14159265358979);
            cairo_fill(cr);
        }
    }
    cairo_restore(cr);

    if (series.empty()) {
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
        set_font(cr, 15);
        draw_text(cr, (x0 + x1) / 2, (y0 + y1) / 2 - 30, "no labelled predictions to draw", 0.5, 0.5);
    }

    // Legend in the upper left: over-confident models fall below the diagonal, on the right.
    set_font(cr, 12);
    std::vector<std::string> entries;
    double entry_width = text_width(cr, "perfect calibration");
    for (const ReliabilitySeries& s : series) {
        entries.push_back(fit_text(cr, s.label, 220) + " (ECE " + fixed(s.ece, 4) + ")");
        entry_width = std::max(entry_width, text_width(cr, entries.back()));
    }
    const double row_h = 18;
    const double box_w = entry_width + 44;
    const double box_h = row_h * (entries.size() + 1) + 10;
    const double bx = x0 + 10;
    const double by = y0 + 10;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_rectangle(cr, bx, by, box_w, box_h);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (size_t i = 0; i <= entries.size(); ++i) {
        const double ly = by + 5 + row_h * (i + 0.5);
        const bool diagonal = i == entries.size();
        if (diagonal) {
            cairo_set_dash(cr, k_diagonal_dash, 2, 0);
            cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
            cairo_set_line_width(cr, 1.2);
        } else {
            set_color(cr, k_palette[i % 10]);
            cairo_set_line_width(cr, 2.5);
        }
        line(cr, bx + 8, ly, bx + 30, ly);
        cairo_set_dash(cr, nullptr, 0, 0);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        draw_text(cr, bx + 36, ly, diagonal ? std::string("perfect calibration") : entries[i], 0, 0.5);
    }

    canvas.save(png);
}

void plot_confusion_matrix(const std::vector<std::vector<long>>& counts, const std::vector<std::string>& class_names,
                           const std::string& title, const fs::path& png)
{
    const size_t n = counts.size();
    std::vector<std::string> names = class_names;
    for (size_t k = names.size(); k < n; ++k) {
        names.push_back(std::to_string(k));
    }
    const double cell = std::clamp(480.0 / std::max<size_t>(n, 1), 30.0, 110.0);

    // Measure the class names first: they set the margins.
    double name_width = 0;
    {
        Canvas probe(10, 10);
        set_font(probe.cr(), 12);
        for (const std::string& s : names) {
            name_width = std::max(name_width, text_width(probe.cr(), fit_text(probe.cr(), s, 160)));
        }
    }
    const bool rotate_x = name_width > cell - 6;
    const double left = 70 + name_width + 10;
    const double top = 80;
    const double grid = cell * static_cast<double>(n);
    const double bottom = 60 + (rotate_x ? name_width : 14);
    const int width = static_cast<int>(std::max(left + grid + 130, 420.0));
    const int height = static_cast<int>(top + grid + bottom);
    Canvas canvas(width, height);
    cairo_t* cr = canvas.cr();
    draw_title(cr, width, title, "rows: true label; columns: predicted label");

    long max_count = 0;
    for (const auto& row : counts) {
        for (long c : row) {
            max_count = std::max(max_count, c);
        }
    }
    // White to dark blue, like matplotlib's Blues.
    auto shade = [&](double t) {
        return Rgb{0.97 + (0.03 - 0.97) * t, 0.98 + (0.19 - 0.98) * t, 1.0 + (0.42 - 1.0) * t};
    };
    for (size_t r = 0; r < n; ++r) {
        for (size_t c = 0; c < n && c < counts[r].size(); ++c) {
            const double t = max_count > 0 ? static_cast<double>(counts[r][c]) / static_cast<double>(max_count) : 0;
            const double x = left + cell * static_cast<double>(c);
            const double y = top + cell * static_cast<double>(r);
            set_color(cr, shade(t));
            cairo_rectangle(cr, x, y, cell, cell);
            cairo_fill(cr);
            if (t > 0.5) {
                cairo_set_source_rgb(cr, 1, 1, 1);
            } else {
                cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
            }
            set_font(cr, std::clamp(cell / 3.2, 9.0, 18.0), r == c);
            draw_text(cr, x + cell / 2, y + cell / 2, std::to_string(counts[r][c]), 0.5, 0.5);
        }
    }
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, left, top, grid, grid);
    cairo_stroke(cr);

    // Class names on both axes and the axis titles.
    set_font(cr, 12);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    for (size_t k = 0; k < n; ++k) {
        const std::string name = fit_text(cr, names[k], 160);
        const double centre = cell * (static_cast<double>(k) + 0.5);
        draw_text(cr, left - 8, top + centre, name, 1, 0.5);
        if (rotate_x) {
            cairo_save(cr);
            cairo_translate(cr, left + centre, top + grid + 8);
            cairo_rotate(cr, -M_PI / 2);
            draw_text(cr, 0, 0, name, 1, 0.5);
            cairo_restore(cr);
        } else {
            draw_text(cr, left + centre, top + grid + 14, name, 0.5, 0.5);
        }
    }
    set_font(cr, 13, true);
    draw_text(cr, left + grid / 2, height - 22, "predicted label", 0.5, 0.5);
    draw_text_vertical(cr, 30, top + grid / 2, "true label");

    // Colour scale: the legend of the heat map.
    const double sx = left + grid + 30;
    const double sw = 18;
    const int steps = 64;
    for (int i = 0; i < steps; ++i) {
        const double t = 1.0 - static_cast<double>(i) / (steps - 1);
        set_color(cr, shade(t));
        cairo_rectangle(cr, sx, top + grid * i / steps, sw, grid / steps + 1);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    cairo_rectangle(cr, sx, top, sw, grid);
    cairo_stroke(cr);
    set_font(cr, 11);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    draw_text(cr, sx + sw + 6, top + 4, std::to_string(max_count), 0, 0.5);
    draw_text(cr, sx + sw + 6, top + grid - 4, "0", 0, 0.5);
    draw_text_vertical(cr, sx + sw + 40, top + grid / 2, "count");

    canvas.save(png);
}

} // namespace mlrun::ml
