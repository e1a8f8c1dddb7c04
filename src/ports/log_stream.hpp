#pragma once
// A task's log read as a stream, through the cut a log cap makes: offsets count every byte
// ever appended (the cut middle included), so a follower (`task logs -f`) neither repeats
// nor misses anything the cut kept. A store adapter that cuts logs offers LogStreamReader
// besides its TaskStore; read_log_stream() falls back to byte offsets for one that does not.
#include <cstddef>
#include <cstdint>
#include <string>

namespace mlrun {

class TaskStore;

// A piece of a task's log read as a stream.
struct LogPiece {
    std::string text;       // at most max_bytes of the log
    std::uint64_t next = 0; // the stream offset after text: the next call's `from`
    std::uint64_t cut = 0;  // bytes from `from` on that the log cap removed (the reader never gets them)
};

class LogStreamReader {
public:
    virtual ~LogStreamReader() = default;
    // At most max_bytes (0: all) of the log from stream offset `from`; where the cap cut out
    // bytes from `from` on, LogPiece::cut says how many and the text goes on after them.
    virtual LogPiece read_log_stream(const std::string& id, std::uint64_t from, std::size_t max_bytes) = 0;
};

// store's LogStreamReader when it is one, else TaskStore::read_log_part on byte offsets (a
// store that never cuts a log).
LogPiece read_log_stream(TaskStore& store, const std::string& id, std::uint64_t from, std::size_t max_bytes);

} // namespace mlrun
