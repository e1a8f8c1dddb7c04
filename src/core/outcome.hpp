#pragma once
// A failure returned as a value (ports whose failures may degrade instead of abort:
// a tracking mirror that is down must not stop a run).
#include <optional>
#include <string>
#include <utility>

namespace mlrun {

struct Failure {
    std::string message;    // one line, secrets redacted
    bool retryable = false; // a later try may succeed (server down, 5xx, 429)
};

// Empty when it went well.
using Outcome = std::optional<Failure>;

inline Outcome ok()
{
    return std::nullopt;
}
inline Outcome failure(std::string message, bool retryable = false)
{
    return Failure{std::move(message), retryable};
}

} // namespace mlrun
