#include "core/util.hpp"

#include "core/error.hpp"
#include "core/params.hpp"

#include <nettle/sha2.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

namespace mlrun {

std::int64_t now_ms()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string new_id()
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    thread_local std::mt19937_64 rng{std::random_device{}() ^ static_cast<std::uint64_t>(getpid())};
    std::uint64_t t = static_cast<std::uint64_t>(now_ms());
    std::string id(14, '0');
    for (int i = 8; i >= 0; --i) {
        id[i] = digits[t % 36];
        t /= 36;
    }
    std::uint64_t r = rng();
    for (int i = 9; i < 14; ++i) {
        id[i] = digits[r % 36];
        r /= 36;
    }
    return id;
}

std::string format_time_ms(std::int64_t ms)
{
    if (ms <= 0) {
        return "-";
    }
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    localtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

std::string format_duration_ms(std::int64_t ms)
{
    char buf[48];
    if (ms < 1000) {
        std::snprintf(buf, sizeof buf, "%lld ms", static_cast<long long>(ms));
    } else if (ms < 60'000) {
        std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
    } else {
        std::snprintf(buf, sizeof buf, "%lld min %02lld s", static_cast<long long>(ms / 60'000),
                      static_cast<long long>((ms / 1000) % 60));
    }
    return buf;
}

namespace {
// IoError for a storage errno (full, read-only, failing disk), else std::runtime_error.
[[noreturn]] void throw_write_error(const fs::path& path, int err)
{
    std::string what = "cannot write " + path.string() + ": " + std::strerror(err);
    if (is_io_errno(err)) {
        throw IoError(what);
    }
    throw std::runtime_error(what);
}
} // namespace

void write_file_atomic(const fs::path& path, std::string_view content)
{
    fs::path tmp = path;
    tmp += ".tmp." + std::to_string(getpid()) + "." + new_id();
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw_write_error(path, errno);
    }
    const char* p = content.data();
    size_t left = content.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            int err = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            throw_write_error(path, err);
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
    // rename() alone makes the replace atomic for readers and against a crash of mlrun; ext4
    // (auto_da_alloc) also flushes a file renamed over another. fsync adds power-loss
    // durability of new files at ~8 ms a write on a VM disk, so it is opt-in (MLRUN_FSYNC=1).
    static const bool do_fsync = [] {
        const char* env = std::getenv("MLRUN_FSYNC");
        return env && *env && std::string(env) != "0";
    }();
    if ((do_fsync && ::fsync(fd) != 0) || ::close(fd) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw_write_error(path, err);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw_write_error(path, err);
    }
}

std::string read_file(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw UsageError("cannot read " + path.string() + ": " + std::strerror(errno));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

namespace {
std::string to_hex(const unsigned char* md, unsigned int len)
{
    static const char hex[] = "0123456789abcdef";
    std::string out(len * 2, '0');
    for (unsigned int i = 0; i < len; ++i) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    return out;
}

// SHA-256 through libnettle (small, few relocations: it is mapped by every start of mlrun,
// where OpenSSL's libcrypto cost ~0.7 ms of loader time).
struct DigestCtx {
    sha256_ctx ctx;
    DigestCtx() { sha256_init(&ctx); }
    void update(const void* p, size_t n) { sha256_update(&ctx, n, static_cast<const uint8_t*>(p)); }
    std::string hex()
    {
        unsigned char md[SHA256_DIGEST_SIZE];
        sha256_digest(&ctx, SHA256_DIGEST_SIZE, md);
        return to_hex(md, SHA256_DIGEST_SIZE);
    }
};
} // namespace

std::string sha256_hex(std::string_view data)
{
    DigestCtx d;
    d.update(data.data(), data.size());
    return d.hex();
}

std::string sha256_file(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw UsageError("cannot read " + path.string() + ": " + std::strerror(errno));
    }
    DigestCtx d;
    std::array<char, 1 << 16> buf;
    while (in) {
        in.read(buf.data(), buf.size());
        d.update(buf.data(), static_cast<size_t>(in.gcount()));
    }
    return d.hex();
}

namespace {
// The name as a message shows it: quoted, cut after 60 bytes (a 10 kB id stays one line).
std::string quote_cut(std::string_view whole)
{
    return "\"" + std::string(whole.substr(0, 60)) + (whole.size() > 60 ? "...\"" : "\"");
}

void check_length(std::string_view part, std::string_view whole, std::string_view what, std::size_t max)
{
    if (part.size() > max) {
        throw UsageError("invalid " + std::string(what) + " " + quote_cut(whole) + ": too long ("
                         + std::to_string(part.size()) + " bytes; at most " + std::to_string(max) + ")");
    }
}

void check_part(std::string_view part, std::string_view whole, std::string_view what)
{
    check_length(part, whole, what, k_max_name_bytes);
    check_utf8(part, "invalid " + std::string(what) + " " + quote_cut(valid_utf8(whole)));
    std::string quoted = quote_cut(whole);
    if (part.empty()) {
        throw UsageError("invalid " + std::string(what) + " " + quoted + ": empty name or part");
    }
    if (part == "." || part == "..") {
        throw UsageError("invalid " + std::string(what) + " " + quoted + ": \"..\" and \".\" are not allowed");
    }
    for (char c : part) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            throw UsageError("invalid " + std::string(what) + " " + quoted + ": control characters are not allowed");
        }
        if (c == '\\') {
            throw UsageError("invalid " + std::string(what) + " " + quoted + ": \"\\\" is not allowed");
        }
    }
}
} // namespace

void check_name(std::string_view name, std::string_view what)
{
    if (name.find('/') != std::string_view::npos) {
        throw UsageError("invalid " + std::string(what) + " \"" + std::string(name) + "\": \"/\" is not allowed");
    }
    check_part(name, name, what);
}

void check_label(std::string_view label, std::string_view what)
{
    check_length(label, label, what, k_max_name_bytes);
    check_utf8(label, "invalid " + std::string(what) + " " + quote_cut(valid_utf8(label)));
    for (char c : label) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            throw UsageError("invalid " + std::string(what) + " " + quote_cut(label)
                             + ": control characters are not allowed");
        }
    }
}

void check_relative_path(std::string_view path, std::string_view what)
{
    check_length(path, path, what, k_max_path_bytes);
    if (path.empty() || path.front() == '/') {
        throw UsageError("invalid " + std::string(what) + " \"" + std::string(path)
                         + "\": must be a non-empty relative path");
    }
    size_t start = 0;
    while (true) {
        size_t slash = path.find('/', start);
        check_part(path.substr(start, slash - start), path, what);
        if (slash == std::string_view::npos) {
            break;
        }
        start = slash + 1;
    }
}

std::string content_type_for(const fs::path& path)
{
    std::string ext = path.extension().string();
    if (ext == ".csv") return "text/csv";
    if (ext == ".json") return "application/json";
    if (ext == ".jsonl") return "application/x-ndjson";
    if (ext == ".png") return "image/png";
    if (ext == ".html") return "text/html";
    if (ext == ".txt" || ext == ".log") return "text/plain";
    if (ext == ".yaml" || ext == ".yml") return "application/yaml";
    if (ext == ".pt") return "application/x-pytorch";
    if (ext == ".xml") return "application/xml";
    return "application/octet-stream";
}

std::string nearest(std::string_view word, const std::vector<std::string>& candidates)
{
    std::string best;
    size_t best_distance = word.size() / 3 + 2; // farther than this is no suggestion
    for (const std::string& c : candidates) {
        std::vector<size_t> prev(c.size() + 1), cur(c.size() + 1);
        for (size_t j = 0; j <= c.size(); ++j) {
            prev[j] = j;
        }
        for (size_t i = 1; i <= word.size(); ++i) {
            cur[0] = i;
            for (size_t j = 1; j <= c.size(); ++j) {
                cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (word[i - 1] == c[j - 1] ? 0 : 1)});
            }
            std::swap(prev, cur);
        }
        if (prev[c.size()] < best_distance) {
            best_distance = prev[c.size()];
            best = c;
        }
    }
    return best;
}

std::string ascii_lower(std::string_view text)
{
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

std::string_view trim_blanks(std::string_view text)
{
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (!text.empty() && blank(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && blank(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

} // namespace mlrun
