#include "store/backends.hpp"

#include "core/error.hpp"
#include "queue/local_queue.hpp"
#include "store/local_store.hpp"
#include "tracking/local_tracker.hpp"

#include <cstdlib>
#include <filesystem>

namespace mlrun {

Backends::Backends() = default;
Backends::~Backends() = default;
Backends::Backends(Backends&&) noexcept = default;
Backends& Backends::operator=(Backends&&) noexcept = default;

std::string redact_uri(const std::string& uri)
{
    size_t scheme = uri.find("://");
    if (scheme == std::string::npos) {
        return uri;
    }
    size_t at = uri.find('@', scheme + 3);
    size_t slash = uri.find('/', scheme + 3);
    if (at == std::string::npos || (slash != std::string::npos && at > slash)) {
        return uri;
    }
    size_t colon = uri.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) {
        return uri.substr(0, colon + 1) + "***" + uri.substr(at);
    }
    return uri.substr(0, scheme + 3) + "***" + uri.substr(at);
}

std::string resolve_home(const std::string& home)
{
    std::string h = home;
    if (h.empty()) {
        const char* env = std::getenv("MLRUN_HOME");
        h = env && *env ? env : ".mlrun";
    }
    if (h.rfind("file://", 0) == 0) {
        h = h.substr(7);
    } else if (h.find("://") != std::string::npos) {
        throw UsageError("unsupported store URI \"" + redact_uri(h) + "\" (the task store is a local folder or file://PATH)");
    }
    if (h.empty()) {
        throw UsageError("empty store path");
    }
    return std::filesystem::absolute(h).lexically_normal().string();
}

Backends open_backends(const BackendOptions& options)
{
    Backends b;
    b.local = std::make_unique<LocalStore>(resolve_home(options.home));
    b.store = b.local.get();

    std::string tracking = options.tracking;
    if (tracking.empty()) {
        const char* env = std::getenv("MLRUN_TRACKING_URI");
        tracking = env ? env : "";
    }
    if (tracking.empty() || tracking == "local") {
        b.tracker = std::make_unique<LocalTracker>(*b.local);
    } else if (tracking.rfind("http://", 0) == 0 || tracking.rfind("https://", 0) == 0) {
        throw UsageError("tracking server " + redact_uri(tracking)
                         + ": the MLflow tracking backend is not implemented yet (use the local store)");
    } else {
        throw UsageError("unsupported tracking URI \"" + redact_uri(tracking) + "\" (expected http(s)://host:port)");
    }

    std::string queue = options.queue;
    if (queue.empty()) {
        const char* env = std::getenv("MLRUN_QUEUE_URI");
        queue = env ? env : "";
    }
    if (queue.empty() || queue == "local") {
        b.queue = std::make_unique<LocalQueue>(b.local->root() / "queues");
    } else if (queue.rfind("redis://", 0) == 0 || queue.rfind("rediss://", 0) == 0) {
        throw UsageError("queue " + redact_uri(queue) + ": the Redis queue adapter is not implemented yet");
    } else {
        throw UsageError("unsupported queue URI \"" + redact_uri(queue) + "\" (expected redis://host:port/db)");
    }
    return b;
}

} // namespace mlrun
