#include "ports/log_stream.hpp"

#include "ports/task_store.hpp"

namespace mlrun {

LogPiece read_log_stream(TaskStore& store, const std::string& id, std::uint64_t from, std::size_t max_bytes)
{
    if (auto* reader = dynamic_cast<LogStreamReader*>(&store)) {
        return reader->read_log_stream(id, from, max_bytes);
    }
    LogPiece piece;
    piece.text = store.read_log_part(id, from, max_bytes);
    piece.next = from + piece.text.size();
    return piece;
}

} // namespace mlrun
