#pragma once
// Small helpers used across the library: ids, clocks, atomic file writes, hashing, names.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mlrun {

namespace fs = std::filesystem;

// Short, unique, sortable id: 9 base-36 digits of milliseconds + 5 random base-36 digits.
std::string new_id();
std::int64_t now_ms();
std::string format_time_ms(std::int64_t ms);     // "2026-11-22 11:46:03" in local time
std::string format_duration_ms(std::int64_t ms); // "850 ms", "12.4 s", "3 min 05 s"

// Writes via a temp file in the same folder + rename (+ fsync when MLRUN_FSYNC=1): a reader
// sees the old or the new content, never a part, even if the writer is killed.
// Throws std::runtime_error with the path on I/O failure.
void write_file_atomic(const fs::path& path, std::string_view content);
// Throws UsageError naming the path when it cannot be read.
std::string read_file(const fs::path& path);

// Lowercase hex SHA-256 (OpenSSL libcrypto).
std::string sha256_hex(std::string_view data);
std::string sha256_file(const fs::path& path);

// The longest name, id or path part accepted (bytes): well under a file name's 255.
constexpr std::size_t k_max_name_bytes = 200;
// The longest relative path (artifact, project) accepted, in bytes.
constexpr std::size_t k_max_path_bytes = 1000;

// Refuses (UsageError, one line) empty names, "/" , "..", leading dots, control characters,
// invalid UTF-8 and names over k_max_name_bytes. `what` names the thing in the message:
// "artifact name", "dataset name", ...
void check_name(std::string_view name, std::string_view what);
// Like check_name, but "/" is allowed between parts (artifact paths "model/weights.pt");
// each part at most k_max_name_bytes, the whole at most k_max_path_bytes.
void check_relative_path(std::string_view path, std::string_view what);
// A free-text label (a task's --name): valid UTF-8, no control characters, at most
// k_max_name_bytes; anything else printable is allowed ("/" and spaces too).
void check_label(std::string_view label, std::string_view what);

// Content type from the extension (.csv text/csv, .json application/json, .png image/png...).
std::string content_type_for(const fs::path& path);

// Nearest candidate by edit distance, or "" when none is close ("did you mean ...?").
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);
// `text` in ASCII lower case (other bytes as they are).
std::string ascii_lower(std::string_view text);
// `text` without leading and trailing spaces, tabs and carriage returns.
std::string_view trim_blanks(std::string_view text);

} // namespace mlrun
