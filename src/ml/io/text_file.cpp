#include "ml/io/text_file.hpp"

#include "core/error.hpp"
#include "core/util.hpp"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

namespace mlrun::ml {

namespace {

// A gzFile closed on every path out.
struct GzCloser {
    void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzHandle = std::unique_ptr<gzFile_s, GzCloser>;

// "<path>: corrupt gzip data (<zlib's reason>)"; zlib names the path itself: dropped.
std::string corrupt(const std::filesystem::path& path, const char* what, const char* otherwise)
{
    std::string reason = what && *what ? what : otherwise;
    const std::string prefix = path.string() + ": ";
    if (reason.rfind(prefix, 0) == 0) {
        reason.erase(0, prefix.size());
    }
    return path.string() + ": corrupt gzip data (" + reason + ")";
}

std::string cannot_read(const std::filesystem::path& path)
{
    return "cannot read " + path.string() + ": " + std::strerror(errno);
}

// Inflates a gzip file piece by piece (gzread; concatenated members included). A read error
// or a stream that ends before its trailer is a corrupt file.
void inflate_chunks(const std::filesystem::path& path, const std::function<bool(std::string_view)>& on_chunk,
                    std::size_t chunk_size)
{
    GzHandle f(gzopen(path.c_str(), "rb"));
    if (!f) {
        throw UsageError(cannot_read(path));
    }
    gzbuffer(f.get(), 128 * 1024);
    std::vector<char> buf(std::min<std::size_t>(chunk_size, INT_MAX));
    for (;;) {
        const int n = gzread(f.get(), buf.data(), static_cast<unsigned>(buf.size()));
        if (n < 0) {
            int code = 0;
            const char* what = gzerror(f.get(), &code);
            throw UsageError(corrupt(path, what, "read error"));
        }
        if (n == 0) {
            // gzread reports a truncated stream as end of file; gzerror tells it apart.
            int code = 0;
            const char* what = gzerror(f.get(), &code);
            if (code != Z_OK) {
                throw UsageError(corrupt(path, what, "truncated"));
            }
            return;
        }
        if (!on_chunk(std::string_view(buf.data(), static_cast<std::size_t>(n)))) {
            return;
        }
    }
}

} // namespace

bool is_gzip_file(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw UsageError(cannot_read(path));
    }
    unsigned char magic[2] = {0, 0};
    in.read(reinterpret_cast<char*>(magic), 2);
    return in.gcount() == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

std::string read_text_file(const std::filesystem::path& path)
{
    if (!is_gzip_file(path)) {
        return read_file(path);
    }
    std::string text;
    inflate_chunks(
        path,
        [&](std::string_view chunk) {
            text.append(chunk);
            return true;
        },
        1024 * 1024);
    return text;
}

void read_text_chunks(const std::filesystem::path& path, const std::function<bool(std::string_view)>& on_chunk,
                      std::size_t chunk_size)
{
    chunk_size = std::max<std::size_t>(chunk_size, 1);
    if (is_gzip_file(path)) {
        inflate_chunks(path, on_chunk, chunk_size);
        return;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw UsageError(cannot_read(path));
    }
    std::vector<char> buf(chunk_size);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        const auto n = static_cast<std::size_t>(in.gcount());
        if (in.bad()) {
            throw UsageError(cannot_read(path));
        }
        if (n == 0 || !on_chunk(std::string_view(buf.data(), n))) {
            return;
        }
    }
}

std::string table_extension(const std::filesystem::path& path)
{
    const auto lower = [](std::string s) {
        std::transform(s.begin(), s.end(), s.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return s;
    };
    std::filesystem::path name = path.filename();
    if (lower(name.extension().string()) == ".gz") {
        name = name.stem();
    }
    return lower(name.extension().string());
}

} // namespace mlrun::ml
