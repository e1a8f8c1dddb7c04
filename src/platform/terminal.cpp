#include "platform/terminal.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

namespace mlrun {

int terminal_columns(int fd)
{
    if (::isatty(fd) == 0) {
        return 0;
    }
    struct winsize ws {};
    if (::ioctl(fd, TIOCGWINSZ, &ws) != 0) {
        return 0;
    }
    return ws.ws_col;
}

} // namespace mlrun
