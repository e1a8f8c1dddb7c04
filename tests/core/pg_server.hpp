#pragma once
// A throwaway PostgreSQL cluster for tests: `initdb` + `pg_ctl start` in a temp folder, on a
// free loopback port, its unix socket in that folder too, so nothing depends on a server the
// tests did not start. Binaries from /usr/lib/postgresql/*/bin (else `pg_config --bindir`);
// run as the `postgres` user when the tests run as root (initdb refuses root). One cluster per
// test binary run, started on first use and shared (`PgServer::shared()`), stopped with
// `pg_ctl stop -m immediate` and removed when the binary exits. A PgDatabase is a fresh
// database in it (CREATE DATABASE) plus an artifact root folder, dropped when destroyed.
// Password authentication over TCP (scram-sha-256) as user `postgres`, trust on the socket
// (the store suite connects there: many short-lived handles).
#include "test_util.hpp"

#include "store/postgres_db.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <csignal>
#include <glob.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>

namespace mlrun::test {

class PgServer {
public:
    static constexpr const char* k_user = "postgres";
    static constexpr const char* k_password = "pg-t3st-s3cret";

    // The cluster of this test binary; throws (the test fails) with a line naming
    // scripts/setup.sh when the PostgreSQL binaries are missing, or with the server's log
    // when it does not start.
    static PgServer& shared()
    {
        static PgServer server;
        return server;
    }
    PgServer(const PgServer&) = delete;
    PgServer& operator=(const PgServer&) = delete;

    int port() const { return m_port; }
    // postgresql://postgres:PASSWORD@127.0.0.1:PORT/DB (the password given, or the right one).
    std::string uri(const std::string& db, const std::string& password = k_password) const
    {
        return std::string("postgresql://") + k_user + ":" + password + "@127.0.0.1:" + std::to_string(m_port) + "/"
               + db;
    }
    // postgresql://postgres@/DB?host=SOCKET_DIR&port=PORT: the unix socket, trusted (no password round
    // trips: the quickest connection, for tests that open many).
    std::string socket_uri(const std::string& db) const
    {
        return std::string("postgresql://") + k_user + "@/" + db + "?host=" + (m_dir / "sock").string()
               + "&port=" + std::to_string(m_port);
    }
    // Runs one statement on the maintenance database (CREATE / DROP DATABASE).
    void admin(const std::string& sql) const
    {
        PostgresDb db(parse_postgres_uri(uri("postgres")));
        db.exec(sql);
    }

private:
    PgServer()
    {
        m_bin = find_bindir();
        if (m_bin.empty()) {
            throw std::runtime_error("PostgreSQL server binaries (initdb, pg_ctl) not found in "
                                     "/usr/lib/postgresql/*/bin nor by pg_config --bindir: run scripts/setup.sh "
                                     "(it installs postgresql)");
        }
        m_as_postgres = ::geteuid() == 0;
        if (m_as_postgres) {
            passwd* pw = ::getpwnam("postgres");
            if (!pw || ::chown(m_dir.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
                throw std::runtime_error("running as root, but there is no postgres user to run the cluster as: "
                                         "run scripts/setup.sh (it installs postgresql)");
            }
            write_text(m_dir / "pwfile", std::string(k_password) + "\n");
            if (::chown((m_dir / "pwfile").c_str(), pw->pw_uid, pw->pw_gid) != 0) {
                throw std::runtime_error("cannot chown the password file");
            }
        } else {
            write_text(m_dir / "pwfile", std::string(k_password) + "\n");
        }
        fs::create_directories(m_dir / "sock");
        if (m_as_postgres) {
            passwd* pw = ::getpwnam("postgres");
            if (::chown((m_dir / "sock").c_str(), pw->pw_uid, pw->pw_gid) != 0) {
                throw std::runtime_error("cannot chown the socket folder");
            }
        }
        if (command({"initdb", "-D", data().string(), "-U", k_user, "--pwfile", (m_dir / "pwfile").string(),
                     "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"})
            != 0) {
            throw std::runtime_error("initdb failed: " + read_text(m_dir / "cmd.log"));
        }
        // Throwaway: no fsync (a killed client, never a killed server, is what the tests do).
        std::ofstream conf(data() / "postgresql.conf", std::ios::app);
        conf << "listen_addresses = '127.0.0.1'\nunix_socket_directories = '" << (m_dir / "sock").string()
             << "'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 300\n"
             << "shared_buffers = 32MB\n";
        conf.close();
        for (int tries = 0; tries < 5; ++tries) {
            m_port = free_port();
            {
                std::ofstream port(data() / "postgresql.conf", std::ios::app);
                port << "port = " << m_port << "\n"; // the last setting wins
            }
            if (command(
                    {"pg_ctl", "-D", data().string(), "-l", (m_dir / "server.log").string(), "-w", "-t", "60", "start"})
                == 0) {
                m_running = true;
                start_watcher();
                return;
            }
        }
        throw std::runtime_error("the PostgreSQL test cluster did not start; log: " + read_text(m_dir / "server.log"));
    }

    ~PgServer()
    {
        if (m_watcher > 0) {
            ::kill(m_watcher, SIGKILL);
            while (::waitpid(m_watcher, nullptr, 0) < 0 && errno == EINTR) {
            }
            ::close(m_watch_fd);
        }
        if (m_running) {
            command({"pg_ctl", "-D", data().string(), "-m", "immediate", "-w", "stop"});
        }
    }

    fs::path data() const { return m_dir / "data"; }

    // A process of its own session that stops and removes the cluster when this test binary
    // dies without running destructors (a crash, SIGKILL): it waits for EOF on a pipe only
    // this process holds open (close-on-exec, so children that exec never keep it).
    void start_watcher()
    {
        std::string cleanup = std::string(m_as_postgres ? "runuser -u postgres -- " : "") + "'" + m_bin
                              + "/pg_ctl' -D '" + data().string() + "' -m immediate stop >/dev/null 2>&1; rm -rf '"
                              + m_dir.path().string() + "'";
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            return; // no watcher: a crash would leave the cluster behind, nothing worse
        }
        pid_t pid = ::fork();
        if (pid == 0) {
            ::setsid();
            ::close(fds[1]);
            char c;
            while (::read(fds[0], &c, 1) < 0 && errno == EINTR) {
            }
            ::execl("/bin/sh", "sh", "-c", cleanup.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::close(fds[0]);
        if (pid < 0) {
            ::close(fds[1]);
            return;
        }
        m_watcher = pid;
        m_watch_fd = fds[1];
    }

    static std::string find_bindir()
    {
        glob_t g{};
        std::string found;
        if (::glob("/usr/lib/postgresql/*/bin/initdb", 0, nullptr, &g) == 0 && g.gl_pathc > 0) {
            // The highest version: glob sorts, so the last one (for equal digit counts).
            found = fs::path(g.gl_pathv[g.gl_pathc - 1]).parent_path().string();
        }
        ::globfree(&g);
        if (!found.empty()) {
            return found;
        }
        if (FILE* p = ::popen("pg_config --bindir 2>/dev/null", "r")) {
            char buf[4096] = {};
            if (std::fgets(buf, sizeof buf, p)) {
                found = trim(buf);
            }
            ::pclose(p);
        }
        return !found.empty() && fs::exists(fs::path(found) / "initdb") && fs::exists(fs::path(found) / "pg_ctl")
                   ? found
                   : "";
    }

    static int free_port()
    {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
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

    // Runs bin/<tool> ARGS (as postgres when root), output to cmd.log; the exit status.
    int command(const std::vector<std::string>& args) const
    {
        std::vector<std::string> argv;
        if (m_as_postgres) {
            argv = {"runuser", "-u", "postgres", "--"};
        }
        argv.push_back((fs::path(m_bin) / args[0]).string());
        argv.insert(argv.end(), args.begin() + 1, args.end());
        std::vector<char*> cargv;
        for (std::string& a : argv) {
            cargv.push_back(a.data());
        }
        cargv.push_back(nullptr);
        const std::string log = (m_dir / "cmd.log").string();
        pid_t pid = ::fork();
        if (pid < 0) {
            return -1;
        }
        if (pid == 0) {
            int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
            }
            int devnull = ::open("/dev/null", O_RDONLY);
            ::dup2(devnull, 0);
            // The server must not inherit a working folder postgres may not enter.
            if (::chdir(m_dir.path().c_str()) != 0) {
                ::_exit(126);
            }
            ::execvp(cargv[0], cargv.data());
            ::_exit(127);
        }
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

    TempDir m_dir;
    std::string m_bin;
    bool m_as_postgres = false;
    bool m_running = false;
    int m_port = 0;
    pid_t m_watcher = -1;
    int m_watch_fd = -1;
};

// A fresh database in the shared cluster and an artifact root folder beside it; both go
// away with this object (the database with FORCE: sessions left by killed children too).
class PgDatabase {
public:
    PgDatabase() : m_server(PgServer::shared())
    {
        static std::atomic<int> counter{0};
        m_name = "mlrun_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
        m_server.admin("CREATE DATABASE " + m_name);
        fs::create_directories(artifacts());
    }
    ~PgDatabase()
    {
        try {
            m_server.admin("DROP DATABASE IF EXISTS " + m_name + " WITH (FORCE)");
        } catch (...) { // a test that failed mid-way must not also abort the run
        }
    }
    PgDatabase(const PgDatabase&) = delete;
    PgDatabase& operator=(const PgDatabase&) = delete;

    const std::string& name() const { return m_name; }
    // The database's URI without an artifact root.
    std::string plain_uri(const std::string& password = PgServer::k_password) const
    {
        return m_server.uri(m_name, password);
    }
    // The database's URI with ?artifacts=<artifacts()>: what MLRUN_HOME names.
    std::string uri() const { return plain_uri() + "?artifacts=" + artifacts().string(); }
    // The same over the unix socket, with ?artifacts= too.
    std::string socket_uri() const { return m_server.socket_uri(m_name) + "&artifacts=" + artifacts().string(); }
    fs::path artifacts() const { return m_dir / "artifacts"; }
    // Scratch space beside the artifact root (not inside it).
    const TempDir& dir() const { return m_dir; }
    const PgServer& server() const { return m_server; }

private:
    PgServer& m_server;
    TempDir m_dir;
    std::string m_name;
};

} // namespace mlrun::test
