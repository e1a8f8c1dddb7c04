#pragma once
// The task status machine of DESIGN §3.
#include <string>
#include <string_view>
#include <vector>

namespace mlrun {

enum class Status { draft, queued, in_progress, completed, failed, aborted, published };

std::string_view to_string(Status s);
// Throws UsageError naming the valid statuses.
Status parse_status(std::string_view s);
const std::vector<Status>& all_statuses();
bool can_transition(Status from, Status to);
// Throws UsageError "cannot move task from X to Y" for an illegal transition.
void check_transition(Status from, Status to);
// completed, failed, aborted and published: the task will not run again as it is.
bool is_final(Status s);

} // namespace mlrun
