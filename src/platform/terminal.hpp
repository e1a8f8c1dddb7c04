#pragma once
// The width of a terminal, for output that fits it.

namespace mlrun {

// The columns of the terminal on `fd` (TIOCGWINSZ), or 0 when fd is not a terminal or the
// kernel does not say.
int terminal_columns(int fd);

} // namespace mlrun
