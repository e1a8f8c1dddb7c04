#include "core/status.hpp"

#include "core/error.hpp"

namespace mlrun {

std::string_view to_string(Status s)
{
    switch (s) {
    case Status::draft: return "draft";
    case Status::queued: return "queued";
    case Status::in_progress: return "in_progress";
    case Status::completed: return "completed";
    case Status::failed: return "failed";
    case Status::aborted: return "aborted";
    case Status::published: return "published";
    }
    return "unknown";
}

const std::vector<Status>& all_statuses()
{
    static const std::vector<Status> all{Status::draft,  Status::queued,  Status::in_progress, Status::completed,
                                         Status::failed, Status::aborted, Status::published};
    return all;
}

Status parse_status(std::string_view s)
{
    for (Status st : all_statuses()) {
        if (to_string(st) == s) {
            return st;
        }
    }
    throw UsageError("unknown status \"" + std::string(s)
                     + "\" (expected draft, queued, in_progress, completed, failed, aborted or published)");
}

bool can_transition(Status from, Status to)
{
    switch (from) {
    case Status::draft: return to == Status::queued || to == Status::in_progress;
    case Status::queued: return to == Status::in_progress || to == Status::aborted || to == Status::draft;
    case Status::in_progress:
        return to == Status::completed || to == Status::failed || to == Status::aborted || to == Status::queued;
    case Status::completed: return to == Status::published || to == Status::draft;
    case Status::failed: return to == Status::draft;
    case Status::aborted: return to == Status::draft;
    case Status::published: return false;
    }
    return false;
}

void check_transition(Status from, Status to)
{
    if (!can_transition(from, to)) {
        std::string why = from == Status::published ? " (published tasks are frozen)" : "";
        throw UsageError("cannot move task from " + std::string(to_string(from)) + " to " + std::string(to_string(to))
                         + why);
    }
}

bool is_final(Status s)
{
    return s == Status::completed || s == Status::failed || s == Status::aborted || s == Status::published;
}

} // namespace mlrun
