#include "server/uploads.hpp"

#include "core/error.hpp"
#include "core/params.hpp"
#include "core/util.hpp"
#include "platform/subprocess.hpp"

#include <fstream>

namespace mlrun::server {

namespace {

constexpr std::size_t k_max_field = 4096;

bool ends_with(const std::string& s, const std::string& suffix)
{
    return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The archive's name without its extension.
std::string archive_stem(const std::string& name)
{
    for (const char* ext : {".tar.gz", ".tgz", ".tar"}) {
        if (ends_with(ascii_lower(name), ext)) {
            return name.substr(0, name.size() - std::string(ext).size());
        }
    }
    return name;
}

// Unpacks with GNU tar (which refuses absolute and ".." member names), then refuses links
// and special files so that nothing outside the folder can be reached through it.
std::optional<std::string> unpack(const fs::path& archive, const fs::path& into)
{
    fs::create_directories(into);
    SubprocessOptions o;
    o.argv = {"tar", "-xf", archive.string(), "-C", into.string(), "--no-same-owner", "--no-same-permissions"};
    std::string out;
    ExitStatus st = Subprocess::spawn(o).wait([&](std::string_view line) { out += std::string(line) + "\n"; }, 120'000);
    if (st.signaled || st.exit_code != 0) {
        return "the archive could not be unpacked";
    }
    std::size_t files = 0;
    for (auto it = fs::recursive_directory_iterator(into); it != fs::recursive_directory_iterator(); ++it) {
        const fs::file_status s = it->symlink_status();
        if (fs::is_symlink(s) || !(fs::is_regular_file(s) || fs::is_directory(s))) {
            return "the archive holds a link or a special file (only files and folders are accepted)";
        }
        files += fs::is_regular_file(s) ? 1 : 0;
    }
    if (files == 0) {
        return "the archive holds no file";
    }
    return std::nullopt;
}

} // namespace

StagingDir::~StagingDir()
{
    std::error_code ec;
    fs::remove_all(path, ec);
}

bool is_table_name(const std::string& name)
{
    const std::string n = ascii_lower(name);
    return ends_with(n, ".csv") || ends_with(n, ".arff") || ends_with(n, ".tsv");
}

bool is_archive_name(const std::string& name)
{
    const std::string n = ascii_lower(name);
    return ends_with(n, ".tar") || ends_with(n, ".tar.gz") || ends_with(n, ".tgz");
}

void check_upload_name(const std::string& name)
{
    check_utf8(name, "file name");
    if (name.size() > 200) {
        throw UsageError("file name: longer than 200 bytes");
    }
    if (name.find('\\') != std::string::npos) {
        throw UsageError("invalid file name \"" + name + "\": \"\\\" is not allowed");
    }
    check_name(name, "file name");
    if (name.front() == '.') {
        throw UsageError("invalid file name \"" + name + "\": a leading \".\" is not allowed");
    }
    if (!is_table_name(name) && !is_archive_name(name)) {
        throw UsageError("file name \"" + name
                         + "\": expected a .csv, .tsv or .arff table or a .tar/.tar.gz image archive");
    }
}

Upload receive_upload(BodyReader& body, const fs::path& staging_root, std::size_t max_bytes)
{
    Upload up;
    if (!body.is_multipart()) {
        up.error = error_response(415, "unsupported_media_type", "expected a multipart/form-data body");
        return up;
    }
    fs::create_directories(staging_root);
    up.staging = std::make_unique<StagingDir>();
    up.staging->path = staging_root / new_id();
    fs::create_directories(up.staging->path);

    std::ofstream out;
    std::string current;
    bool in_file = false;
    std::uint64_t total = 0;
    const bool ok = body.read_multipart(
        [&](const FormPart& part) {
            if (out.is_open()) {
                out.close();
            }
            in_file = false;
            current = part.name;
            if (!part.filename.empty() || part.name == "file") {
                if (part.name != "file") {
                    up.error = error_response(422, "invalid", "the file goes in the form field \"file\"");
                    return false;
                }
                if (!up.file_name.empty()) {
                    up.error = error_response(422, "invalid", "one file per submission");
                    return false;
                }
                try {
                    check_upload_name(part.filename);
                } catch (const UsageError& e) {
                    up.error = error_response(422, "bad_file_name", e.what());
                    return false;
                }
                up.file_name = part.filename;
                out.open(up.staging->path / up.file_name, std::ios::binary | std::ios::trunc);
                if (!out) {
                    up.error = error_response(500, "internal", "cannot stage the upload");
                    return false;
                }
                in_file = true;
                return true;
            }
            if (up.fields.count(current)) {
                up.error = error_response(422, "invalid", "field \"" + valid_utf8(current) + "\" given twice");
                return false;
            }
            up.fields[current] = "";
            return true;
        },
        [&](const char* data, std::size_t n) {
            total += n;
            if (total > max_bytes) {
                up.error = error_response(413, "too_large",
                                          "upload over the limit of " + std::to_string(max_bytes) + " bytes");
                return false;
            }
            if (in_file) {
                out.write(data, static_cast<std::streamsize>(n));
                up.size += n;
                return static_cast<bool>(out);
            }
            std::string& v = up.fields[current];
            if (v.size() + n > k_max_field) {
                up.error = error_response(422, "invalid", "field \"" + valid_utf8(current) + "\" is over 4 KiB");
                return false;
            }
            v.append(data, n);
            return true;
        });
    if (out.is_open()) {
        out.close();
    }
    if (up.error) {
        return up;
    }
    if (!ok) {
        up.error = error_response(400, "bad_request", "malformed multipart body");
        return up;
    }
    for (const auto& [k, v] : up.fields) {
        try {
            check_utf8(k, "field name");
            check_utf8(v, "field \"" + k + "\"");
        } catch (const UsageError& e) {
            up.error = error_response(400, "invalid_utf8", e.what());
            return up;
        }
        if (k != "name" && k != "target" && k != "task_type") {
            up.error = error_response(422, "unknown_field", "unknown field \"" + k + "\"");
            return up;
        }
    }
    if (up.file_name.empty()) {
        up.error = error_response(422, "missing_file", "no file: send the table or archive in the form field \"file\"");
        return up;
    }
    if (up.size == 0) {
        up.error = error_response(422, "invalid", "the file is empty");
        return up;
    }
    for (const char* f : {"name", "target"}) {
        if (up.fields[f].empty()) {
            up.error = error_response(422, "invalid", std::string("field \"") + f + "\" is required");
            return up;
        }
    }
    const fs::path file = up.staging->path / up.file_name;
    up.sha256 = sha256_file(file);
    up.data_path = file;
    if (is_archive_name(up.file_name)) {
        const std::string stem = archive_stem(up.file_name);
        try {
            check_name(stem, "archive name");
        } catch (const UsageError& e) {
            up.error = error_response(422, "bad_file_name", e.what());
            return up;
        }
        const fs::path folder = up.staging->path / "unpacked" / stem;
        if (std::optional<std::string> bad = unpack(file, folder)) {
            up.error = error_response(422, "bad_archive", *bad);
            return up;
        }
        up.data_path = folder;
        up.file_name = stem;
    }
    return up;
}

} // namespace mlrun::server
