#pragma once
// Table files as text, plain or gzip-compressed: gzip is recognised by its magic bytes
// (1f 8b), whatever the file is called, and inflated by zlib. No zlib type appears here.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace mlrun::ml {

// True when the file starts with the gzip magic bytes. UsageError "cannot read <path>: ..."
// when it cannot be opened.
bool is_gzip_file(const std::filesystem::path& path);

// The whole text of the file, inflated when it is gzip. UsageError naming the path when it
// cannot be read or its gzip data is corrupt or truncated.
std::string read_text_file(const std::filesystem::path& path);

// Streams the text of the file (inflated when gzip) to on_chunk in pieces of at most
// chunk_size bytes, in order; on_chunk returns false to stop, and nothing past that piece is
// read or inflated. Errors as read_text_file (a corrupt stream only once it is reached).
void read_text_chunks(const std::filesystem::path& path, const std::function<bool(std::string_view)>& on_chunk,
                      std::size_t chunk_size = 64 * 1024);

// The file's extension in lower case, with one trailing ".gz" set aside: "t.ARFF.gz" ->
// ".arff", "t.csv" -> ".csv", "t.gz" -> "", "t" -> "".
std::string table_extension(const std::filesystem::path& path);

} // namespace mlrun::ml
