// Layout: one JSON header line, then rows*cols float32, rows int32 labels (when
// has_labels), then for each id a uint32 length and its bytes. All little-endian.
#include "ml/split_io.hpp"

#include "core/error.hpp"
#include "core/util.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>

namespace mlrun::ml {

namespace {

constexpr const char* k_format = "mlrun-split";
constexpr int k_version = 1;

static_assert(sizeof(float) == 4, "float32 payload");

bool host_is_little_endian()
{
    const std::uint16_t probe = 1;
    unsigned char first = 0;
    std::memcpy(&first, &probe, 1);
    return first == 1;
}

template <typename T>
void append_raw(std::string& out, const T* values, std::size_t count)
{
    const std::size_t bytes = count * sizeof(T);
    const std::size_t at = out.size();
    out.resize(at + bytes);
    if (bytes > 0) {
        std::memcpy(&out[at], values, bytes);
    }
}

} // namespace

void save_split(const std::filesystem::path& path, const LabeledSet& set)
{
    if (!host_is_little_endian()) {
        throw std::runtime_error("split files are little-endian; this host is not");
    }
    if (set.x.data.size() != static_cast<std::size_t>(set.x.rows * set.x.cols)) {
        throw std::invalid_argument("save_split: matrix size does not match rows x cols");
    }
    if (!set.y.empty() && set.y.size() != static_cast<std::size_t>(set.x.rows)) {
        throw std::invalid_argument("save_split: labels do not match the rows");
    }
    if (set.ids.size() != static_cast<std::size_t>(set.x.rows)) {
        throw std::invalid_argument("save_split: ids do not match the rows");
    }
    nlohmann::json header;
    header["format"] = k_format;
    header["version"] = k_version;
    header["rows"] = set.x.rows;
    header["cols"] = set.x.cols;
    header["has_labels"] = !set.y.empty();
    header["feature_names"] = set.feature_names;
    header["class_names"] = set.class_names;
    header["shape"] = {{"channels", set.shape.channels}, {"height", set.shape.height}, {"width", set.shape.width}};
    std::string out = header.dump();
    out += '\n';
    append_raw(out, set.x.data.data(), set.x.data.size());
    if (!set.y.empty()) {
        std::vector<std::int32_t> labels(set.y.begin(), set.y.end());
        append_raw(out, labels.data(), labels.size());
    }
    for (const std::string& id : set.ids) {
        const auto len = static_cast<std::uint32_t>(id.size());
        append_raw(out, &len, 1);
        out += id;
    }
    write_file_atomic(path, out);
}

LabeledSet load_split(const std::filesystem::path& path)
{
    if (!std::filesystem::is_regular_file(path)) {
        throw UsageError(path.string() + ": no such split file");
    }
    const std::string data = read_file(path);
    const std::string name = path.string();
    const std::size_t nl = data.find('\n');
    if (nl == std::string::npos) {
        throw UsageError(name + ": not a split file (no header line)");
    }
    nlohmann::json header = nlohmann::json::parse(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(nl), nullptr,
                                                  false);
    if (header.is_discarded() || !header.is_object() || header.value("format", "") != k_format) {
        throw UsageError(name + ": not a split file (bad header)");
    }
    if (header.value("version", 0) != k_version) {
        throw UsageError(name + ": split format version " + std::to_string(header.value("version", 0))
                         + " is not supported (expected " + std::to_string(k_version) + ")");
    }
    LabeledSet set;
    try {
        set.x.rows = header.at("rows").get<std::int64_t>();
        set.x.cols = header.at("cols").get<std::int64_t>();
        set.feature_names = header.at("feature_names").get<std::vector<std::string>>();
        set.class_names = header.at("class_names").get<std::vector<std::string>>();
        const auto& shape = header.at("shape");
        set.shape = ImageShape{shape.at("channels").get<int>(), shape.at("height").get<int>(),
                               shape.at("width").get<int>()};
    } catch (const nlohmann::json::exception& e) {
        throw UsageError(name + ": bad split header (" + e.what() + ")");
    }
    if (set.x.rows < 0 || set.x.cols < 0) {
        throw UsageError(name + ": bad split header (negative size)");
    }
    const bool has_labels = header.value("has_labels", false);
    const auto rows = static_cast<std::size_t>(set.x.rows);
    const auto cells = rows * static_cast<std::size_t>(set.x.cols);
    std::size_t pos = nl + 1;
    auto need = [&](std::size_t bytes) {
        if (data.size() < pos || data.size() - pos < bytes) {
            throw UsageError(name + ": truncated split file (" + std::to_string(data.size()) + " bytes)");
        }
    };
    need(cells * sizeof(float));
    set.x.data.resize(cells);
    if (cells > 0) {
        std::memcpy(set.x.data.data(), data.data() + pos, cells * sizeof(float));
    }
    pos += cells * sizeof(float);
    if (has_labels) {
        need(rows * sizeof(std::int32_t));
        std::vector<std::int32_t> labels(rows);
        if (rows > 0) {
            std::memcpy(labels.data(), data.data() + pos, rows * sizeof(std::int32_t));
        }
        pos += rows * sizeof(std::int32_t);
        set.y.assign(labels.begin(), labels.end());
    }
    set.ids.reserve(rows);
    for (std::size_t r = 0; r < rows; ++r) {
        std::uint32_t len = 0;
        need(sizeof(len));
        std::memcpy(&len, data.data() + pos, sizeof(len));
        pos += sizeof(len);
        need(len);
        set.ids.emplace_back(data.data() + pos, len);
        pos += len;
    }
    if (pos != data.size()) {
        throw UsageError(name + ": corrupt split file (" + std::to_string(data.size() - pos) + " trailing bytes)");
    }
    return set;
}

} // namespace mlrun::ml
