// The networked adapters as on-demand plugins (src/app/adapter_plugin.hpp): a build without
// them still runs every local command and refuses the others in one line (exit 2); with them,
// errors from inside a plugin reach the CLI as before; redact_uri's own split of ordinary
// URIs gives what libcurl's gives.
#include "app/uri.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <sys/wait.h>

using namespace mlrun;
using namespace mlrun::test;

namespace {

// MLRUN_BIN's folder holds the plugins; a copy of mlrun and libmlrun_core.so alone has none.
fs::path bare_build(const TempDir& dir)
{
    const fs::path bin = dir / "bin";
    fs::create_directories(bin);
    const fs::path built = fs::path(MLRUN_BIN).parent_path();
    fs::copy_file(MLRUN_BIN, bin / "mlrun");
    fs::copy_file(built / "libmlrun_core.so", bin / "libmlrun_core.so");
    fs::copy(built / "templates", bin / "templates", fs::copy_options::recursive);
    return bin / "mlrun";
}

// Runs `exe args` (a shell line) in `dir` with the store in it: exit code, stderr.
RunResult sh(const TempDir& dir, const fs::path& exe, const std::string& args)
{
    const fs::path err = dir / "stderr.txt";
    const std::string line = "cd '" + dir.path().string() + "' && MLRUN_HOME='" + dir.home().string() + "' '"
                             + exe.string() + "' " + args + " >'" + (dir / "stdout.txt").string() + "' 2>'"
                             + err.string() + "'";
    const int status = std::system(line.c_str());
    RunResult r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_text(dir / "stdout.txt");
    r.err = read_text(err);
    return r;
}

} // namespace

TEST_CASE("adapter plugins: without them, local commands work and networked ones fail in one line, exit 2")
{
    TempDir dir;
    const fs::path mlrun = bare_build(dir);
    RunResult ok = sh(dir, mlrun, "task create exec --name hello --set command=true");
    REQUIRE(ok.code == 0);
    CHECK(sh(dir, mlrun, "task list").code == 0);
    CHECK(sh(dir, mlrun, "server --help").code == 0);

    struct Case {
        const char* args;
        const char* expected;
    };
    for (const Case& c : {Case{"--broker redis://:s3cret@127.0.0.1:1/0 queue list",
                               "this mlrun has no Redis adapter: libmlrun_redis.so not found next to "},
                          Case{"--home postgresql://u:s3cret@127.0.0.1:1/db task list",
                               "this mlrun has no PostgreSQL adapter: libmlrun_postgres.so not found next to "},
                          Case{"--tracking http://127.0.0.1:1 sync",
                               "this mlrun has no MLflow adapter: libmlrun_mlflow.so not found next to "},
                          Case{"server --listen 127.0.0.1:0",
                               "this mlrun has no server adapter: libmlrun_server.so not found next to "}}) {
        CAPTURE(c.args);
        RunResult r = sh(dir, mlrun, c.args);
        CHECK(r.code == 2);
        CHECK(r.err.find(c.expected) != std::string::npos);
        CHECK(r.err.find("or in ../lib/mlrun") != std::string::npos);
        CHECK(r.err.find("s3cret") == std::string::npos);
        CHECK(lines_of(r.err).size() == 1);
    }
}

TEST_CASE("adapter plugins: errors from inside a plugin reach the CLI as one line, exit 2, secrets masked")
{
    TempDir dir;
    const std::string id = create_task_cli(dir, {"exec", "--name", "noop", "--set", "command=true"});
    struct Case {
        std::vector<std::string> args;
        const char* expected;
    };
    for (const Case& c :
         {Case{{"--broker", "redis://:s3cret@127.0.0.1:1/0", "queue", "list"}, "127.0.0.1:1"},
          Case{{"--broker", "rediss://:s3cret@127.0.0.1:1/0", "queue", "list"}, "TLS"},
          Case{{"--home", "postgresql://u:s3cret@127.0.0.1:1/db", "task", "list"}, "127.0.0.1"},
          Case{{"--home", "postgresql://u:s3cret@127.0.0.1:1/db?artifacts=" + (dir / "a").string(), "task", "list"},
               "Connection refused"},
          Case{{"--tracking", "http://u:s3cret@127.0.0.1:1", "task", "run", id}, "127.0.0.1:1"}}) {
        CAPTURE(c.args[1]);
        RunResult r = run(dir, c.args);
        CHECK(r.code == 2);
        CHECK(r.err.find(c.expected) != std::string::npos);
        CHECK(r.err.find("s3cret") == std::string::npos);
        CHECK(r.err.find("no ") != 0); // not "this mlrun has no ... adapter": the plugin ran
        CHECK(r.err.find("adapter:") == std::string::npos);
        CHECK(lines_of(r.err).size() == 1);
    }
}

TEST_CASE("redact_uri: its own split of ordinary URIs matches libcurl's parse")
{
    for (const char* uri :
         {"https://user:secret@host/x", "https://ghp_TOKEN@host:8443/api", "redis://:pw@cache:6379/0",
          "http://127.0.0.1:5000", "http://127.0.0.1:5000/", "HTTPS://Host.Example:443/a/b?x=1&token=t#frag",
          "postgresql://alice:p%40ss@db.example:5432/mlrun?artifacts=/srv/a&sslmode=require", "redis://localhost",
          "https://mlflow.example/api?token=abc123&experiment=7&API_KEY=k9&sig=zz&access_token=t0", "s3://bucket/key",
          "ftp://host/x?token=s3cr3t-tok", "http://u@h:1/p;q=1?a=b"}) {
        CAPTURE(uri);
        CHECK(redact_uri(uri) == redact_uri(parse_uri(uri)));
    }
}
