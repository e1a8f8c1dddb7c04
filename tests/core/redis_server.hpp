#pragma once
// A real redis-server for tests, started as a child process on a free loopback port with
// its own temp folder (--appendonly yes --save ''), so nothing depends on a server the tests
// did not start. It dies with the thread that started it (PR_SET_PDEATHSIG, so a crashed
// test leaves no server behind): construct it and call start() from the test's own thread.
// kill() and start() let fault tests take it down and bring it back on the same port with
// the same data.
#include "test_util.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <thread>

namespace mlrun::test {

class RedisServer {
public:
    // Starts the server (with `password` as requirepass when given); throws when
    // redis-server is missing or does not answer PING within 10 s.
    explicit RedisServer(std::string password = "") : m_password(std::move(password))
    {
        for (int tries = 0; tries < 5; ++tries) {
            m_port = free_port();
            if (start_on_port()) {
                return;
            }
        }
        throw std::runtime_error("redis-server did not start (is it installed? scripts/setup.sh installs it); log: "
                                 + read_log());
    }
    ~RedisServer() { stop(SIGTERM); }
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    int port() const { return m_port; }
    // redis://[:password@]127.0.0.1:PORT/0
    std::string uri() const
    {
        return "redis://" + (m_password.empty() ? "" : ":" + m_password + "@") + "127.0.0.1:" + std::to_string(m_port)
               + "/0";
    }
    const fs::path& dir() const { return m_dir.path(); }

    // SIGKILL, as a crash: what the append-only file holds survives.
    void kill() { stop(SIGKILL); }
    // SIGSTOP / SIGCONT: a server that hangs (connections accepted, nothing answered).
    void pause() { ::kill(m_pid, SIGSTOP); }
    void resume() { ::kill(m_pid, SIGCONT); }
    // Starts it again on the same port and folder (after kill()).
    void start()
    {
        if (m_pid <= 0 && !start_on_port()) {
            throw std::runtime_error("redis-server did not restart on port " + std::to_string(m_port)
                                     + "; log: " + read_log());
        }
    }

private:
    static int free_port()
    {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        socklen_t len = sizeof addr;
        if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
            || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            if (fd >= 0) {
                ::close(fd);
            }
            throw std::runtime_error(std::string("no free port: ") + std::strerror(errno));
        }
        int port = ntohs(addr.sin_port);
        ::close(fd);
        return port;
    }

    // True when the server answers on m_port (PONG, or NOAUTH when it has a password).
    bool answers() const
    {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            return false;
        }
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<uint16_t>(m_port));
        bool ok = false;
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
            const char ping[] = "PING\r\n";
            char buf[64] = {};
            timeval tv{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            if (::write(fd, ping, sizeof ping - 1) == static_cast<ssize_t>(sizeof ping - 1)) {
                ssize_t n = ::read(fd, buf, sizeof buf - 1);
                ok = n > 0 && (std::strncmp(buf, "+PONG", 5) == 0 || std::strncmp(buf, "-NOAUTH", 7) == 0);
            }
        }
        ::close(fd);
        return ok;
    }

    bool start_on_port()
    {
        std::vector<std::string> args{"redis-server",
                                      "--port",
                                      std::to_string(m_port),
                                      "--bind",
                                      "127.0.0.1",
                                      "--appendonly",
                                      "yes",
                                      "--dir",
                                      m_dir.path().string(),
                                      "--save",
                                      "",
                                      "--logfile",
                                      (m_dir.path() / "redis.log").string(),
                                      "--daemonize",
                                      "no"};
        if (!m_password.empty()) {
            args.insert(args.end(), {"--requirepass", m_password});
        }
        pid_t pid = ::fork();
        if (pid < 0) {
            throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
        }
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            std::vector<char*> argv;
            for (std::string& a : args) {
                argv.push_back(a.data());
            }
            argv.push_back(nullptr);
            ::execvp("redis-server", argv.data());
            ::_exit(127);
        }
        m_pid = pid;
        for (int i = 0; i < 1000; ++i) {
            if (answers()) {
                return true;
            }
            int status = 0;
            if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
                m_pid = -1; // exited: the port was taken, or no redis-server
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        stop(SIGKILL);
        return false;
    }

    void stop(int signal)
    {
        if (m_pid > 0) {
            ::kill(m_pid, signal);
            ::kill(m_pid, SIGCONT); // a paused server acts on the signal only once resumed
            int status = 0;
            while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
            }
            m_pid = -1;
        }
    }

    std::string read_log() const
    {
        std::ifstream in(m_dir.path() / "redis.log");
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

    std::string m_password;
    TempDir m_dir;
    int m_port = 0;
    pid_t m_pid = -1;
};

} // namespace mlrun::test
