#pragma once
// POST /submissions bodies: multipart/form-data streamed to a staging folder (never whole in
// memory), with the file name checked before anything is written and the size limit
// enforced as the bytes arrive. Archives (.tar, .tar.gz, .tgz) are unpacked into a folder
// that may hold only plain files and folders.
#include "server/http.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace mlrun::server {

// Removes its folder (and everything in it) when destroyed.
struct StagingDir {
    std::filesystem::path path;
    ~StagingDir();
};

struct Upload {
    std::map<std::string, std::string> fields; // the plain form fields
    std::unique_ptr<StagingDir> staging;       // removed with the upload
    std::filesystem::path data_path;           // the file, or the unpacked archive's folder
    std::string file_name;                     // the checked name of data_path
    std::uint64_t size = 0;                    // bytes of the uploaded file
    std::string sha256;                        // of those bytes
    std::optional<HttpResponse> error;         // 400/413/415/422 answer: nothing was kept
};

// Table files and archives a submission may be.
bool is_table_name(const std::string& name);
bool is_archive_name(const std::string& name);
// Throws UsageError unless `name` is a plain file name (no path, "..", leading dot, control
// character or invalid UTF-8) with a table or archive extension.
void check_upload_name(const std::string& name);

// Reads the form: the file part "file" and fields (each at most 4 KiB). The total body is
// limited to max_bytes (413).
Upload receive_upload(BodyReader& body, const std::filesystem::path& staging_root, std::size_t max_bytes);

} // namespace mlrun::server
