// The mlrun binary end to end: exec tasks, clone, datasets, reset/publish/abort, and the
// contract for bad input (exit 2, one "mlrun: error: " line, nothing written).
#include "test_util.hpp"

#include "app/wiring.hpp"
#include "core/util.hpp"
#include "ports/inputs.hpp"
#include "store/local_store.hpp"

#include <doctest/doctest.h>

#include <map>
#include <regex>

using namespace mlrun;
using mlrun::test::create_task_cli;
using mlrun::test::run;
using mlrun::test::RunResult;
using mlrun::test::show_json;
using mlrun::test::TempDir;
using mlrun::test::trim;

namespace {

// Every file and folder under `root` with its content hash: compares "nothing written".
std::map<std::string, std::string> snapshot(const fs::path& root)
{
    std::map<std::string, std::string> out;
    std::error_code ec;
    if (!fs::exists(root, ec)) {
        return out;
    }
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        std::string rel = fs::relative(e.path(), root).generic_string();
        const std::string name = e.path().filename().string();
        if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".lock") == 0) {
            continue; // lock files are created on first use and hold no data
        }
        out[rel] = e.is_regular_file() ? sha256_file(e.path()) : std::string("dir");
    }
    return out;
}

// A bad-input failure: exit 2, exactly one line on stderr, no crash output.
void check_usage_error(const RunResult& r, const std::string& must_contain = "")
{
    CAPTURE(r.out);
    CAPTURE(r.err);
    CHECK(r.code == 2);
    std::vector<std::string> lines = mlrun::test::lines_of(r.err);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].rfind("mlrun: error: ", 0) == 0);
    for (const char* crash : {"terminate called", "what():", "Aborted", "Segmentation", "core dumped", "#0 "}) {
        CHECK(r.err.find(crash) == std::string::npos);
    }
    if (!must_contain.empty()) {
        CHECK(lines[0].find(must_contain) != std::string::npos);
    }
}

Backends open_in(const TempDir& dir)
{
    BackendOptions options;
    options.home = dir.home().string();
    return open_backends(options);
}

// Runs a task to its end with `mlrun task run -q`.
RunResult run_task_cli(const TempDir& dir, const std::string& id)
{
    return run(dir, {"task", "run", "-q", id});
}

} // namespace

TEST_CASE("cli: --help and --version work without a store")
{
    TempDir dir;
    RunResult help = run(dir, {"--help"});
    CHECK(help.code == 0);
    CHECK(help.out.find("task") != std::string::npos);
    RunResult version = run(dir, {"--version"});
    CHECK(version.code == 0);
    CHECK(version.out.find("mlrun") != std::string::npos);
    RunResult list = run(dir, {"task", "list"});
    CHECK(list.code == 0);
    CHECK_FALSE(fs::exists(dir.home() / "tasks")); // reading creates nothing
}

TEST_CASE("cli: an exec task captures its log, scalars, values and artifacts")
{
    TempDir dir;
    const std::string command =
        "echo out-line; echo err-line 1>&2; "
        "mlrun log scalar loss train 1 0.5 && mlrun log scalar loss train 2 0.25 && "
        "mlrun log value answer 42 && mlrun log value label hello && "
        "grep -q params-marker \"$MLRUN_PARAMS\" && echo \"greeting=$GREETING\" && "
        "printf '%s\\n' '{\"title\":\"acc\",\"series\":\"valid\",\"iteration\":3,\"value\":0.75}' "
        "'{\"name\":\"from_file\",\"value\":12}' > \"$MLRUN_OUTPUT_DIR/metrics.jsonl\" && "
        "printf 'a,b\\n1,2\\n' > \"$MLRUN_OUTPUT_DIR/table.csv\" && "
        "mkdir \"$MLRUN_OUTPUT_DIR/model\" && printf 'weights' > \"$MLRUN_OUTPUT_DIR/model/w.bin\"";
    const std::string id = create_task_cli(dir, {"exec", "--name", "reporter", "--set", "command=" + command, "--set",
                                                 "env={\"GREETING\":\"params-marker\"}"});
    REQUIRE_FALSE(id.empty());
    CHECK(show_json(dir, id)["status"] == "draft");

    RunResult r = run(dir, {"task", "run", id});
    CAPTURE(r.err);
    CAPTURE(r.out);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("out-line") != std::string::npos); // echoed while it runs

    Json t = show_json(dir, id);
    CHECK(t["status"] == "completed");
    CHECK(t["attempts"] == 1);
    CHECK(t["exit_code"] == 0);
    CHECK(t["started_ms"].get<std::int64_t>() > 0);
    CHECK(t["finished_ms"].get<std::int64_t>() >= t["started_ms"].get<std::int64_t>());
    CHECK(t["values"]["answer"] == 42);
    CHECK(t["values"]["answer"].is_number_integer());
    CHECK(t["values"]["label"] == "hello");
    CHECK(t["values"]["from_file"] == 12);

    // stdout and stderr lines both land in the log.
    RunResult logs = run(dir, {"task", "logs", id});
    CHECK(logs.code == 0);
    CHECK(logs.out.find("out-line\n") != std::string::npos);
    CHECK(logs.out.find("err-line\n") != std::string::npos);
    CHECK(logs.out.find("greeting=params-marker") != std::string::npos);

    // Scalars from `mlrun log scalar` and from metrics.jsonl.
    Backends b = open_in(dir);
    std::vector<Scalar> scalars = b.inputs->scalars(id);
    REQUIRE(scalars.size() == 3);
    std::map<std::tuple<std::string, std::string, std::int64_t>, double> by_key;
    for (const Scalar& s : scalars) {
        by_key[{s.title, s.series, s.iteration}] = s.value;
    }
    CHECK(by_key.at({"loss", "train", 1}) == doctest::Approx(0.5));
    CHECK(by_key.at({"loss", "train", 2}) == doctest::Approx(0.25));
    CHECK(by_key.at({"acc", "valid", 3}) == doctest::Approx(0.75));

    // Files left in MLRUN_OUTPUT_DIR are artifacts, with the right size and sha256.
    std::map<std::string, Json> arts;
    for (const Json& a : t["artifacts"]) {
        arts[a["name"].get<std::string>()] = a;
    }
    CHECK(arts.count("metrics.jsonl") == 0);
    REQUIRE(arts.count("table.csv") == 1);
    const fs::path table = b.local->task_dir(id) / "artifacts" / "table.csv";
    CHECK(mlrun::test::read_text(table) == "a,b\n1,2\n");
    CHECK(arts["table.csv"]["sha256"] == sha256_file(table));
    CHECK(arts["table.csv"]["sha256"] == sha256_hex("a,b\n1,2\n"));
    CHECK(arts["table.csv"]["size"] == 8);
    CHECK(arts["table.csv"]["content_type"] == "text/csv");
    REQUIRE(arts.count("model") == 1);
    CHECK(mlrun::test::read_text(b.local->task_dir(id) / "artifacts" / "model" / "w.bin") == "weights");
    CHECK(arts["model"]["size"] == 7);

    // The text view shows them too.
    RunResult show = run(dir, {"task", "show", id});
    CHECK(show.code == 0);
    CHECK(show.out.find("table.csv") != std::string::npos);
    CHECK(show.out.find("loss/train = 0.25") != std::string::npos);

    // A completed task cannot run again as it is.
    RunResult again = run_task_cli(dir, id);
    check_usage_error(again, "completed");
}

TEST_CASE("cli: exec with a list command, a failing command, a timeout, a missing program")
{
    TempDir dir;
    SUBCASE("a list of arguments runs without a shell")
    {
        std::string ok = create_task_cli(dir, {"exec", "--set", R"(command=["/bin/sh","-c","exit 0"])"});
        CHECK(run_task_cli(dir, ok).code == 0);
        CHECK(show_json(dir, ok)["status"] == "completed");

        std::string echo = create_task_cli(dir, {"exec", "--set", R"(command=["/bin/echo","a  b","$HOME;x"])"});
        CHECK(run_task_cli(dir, echo).code == 0);
        CHECK(run(dir, {"task", "logs", echo}).out.find("a  b $HOME;x\n") != std::string::npos);
    }
    SUBCASE("exit 7 fails the task with exit_code 7 and `task run` exits 1")
    {
        std::string id = create_task_cli(dir, {"exec", "--set", "command=echo before; exit 7"});
        RunResult r = run_task_cli(dir, id);
        CHECK(r.code == 1);
        CHECK(r.err.find("terminate called") == std::string::npos);
        Json t = show_json(dir, id);
        CHECK(t["status"] == "failed");
        CHECK(t["exit_code"] == 7);
        CHECK(t["error"].get<std::string>().find('7') != std::string::npos);
        CHECK(run(dir, {"task", "logs", id}).out.find("before") != std::string::npos);
    }
    SUBCASE("timeout_s=1 stops `sleep 10` after about a second with code 124")
    {
        std::string id = create_task_cli(dir, {"exec", "--set", "command=sleep 10", "--set", "timeout_s=1"});
        RunResult r = run_task_cli(dir, id);
        CHECK(r.code == 1);
        CHECK(r.seconds >= 0.9);
        CHECK(r.seconds < 4.0);
        Json t = show_json(dir, id);
        CHECK(t["status"] == "failed");
        CHECK(t["exit_code"] == 124);
        CHECK(t["error"].get<std::string>().find("timed out") != std::string::npos);
    }
    SUBCASE("a program that does not exist fails cleanly")
    {
        std::string id = create_task_cli(dir, {"exec", "--set", R"(command=["/nonexistent/prog","x"])"});
        RunResult r = run_task_cli(dir, id);
        CHECK(r.code == 1);
        CHECK(r.err.find("terminate called") == std::string::npos);
        Json t = show_json(dir, id);
        CHECK(t["status"] == "failed");
        CHECK(t["exit_code"] == 127);
        CHECK(t["error"].get<std::string>().find("/nonexistent/prog") != std::string::npos);

        std::string sh = create_task_cli(dir, {"exec", "--set", "command=no_such_command_mlrun_xyz"});
        CHECK(run_task_cli(dir, sh).code == 1);
        Json t2 = show_json(dir, sh);
        CHECK(t2["status"] == "failed");
        CHECK(t2["exit_code"] == 127);
    }
}

TEST_CASE("cli: task clone copies spec and params, not outputs")
{
    TempDir dir;
    std::string src = create_task_cli(
        dir, {"exec", "--name", "src", "--project", "p/q", "--tag", "keep", "--set",
              "command=mlrun log value v 1 && echo x > \"$MLRUN_OUTPUT_DIR/out.txt\" && exit 3"});
    CHECK(run_task_cli(dir, src).code == 1);
    Json s = show_json(dir, src);
    REQUIRE(s["status"] == "failed");
    REQUIRE(s["artifacts"].size() == 1);
    REQUIRE(s["values"].size() == 1);

    RunResult r = run(dir, {"task", "clone", src});
    REQUIRE(r.code == 0);
    const std::string clone = trim(r.out);
    CHECK(clone != src);
    Json c = show_json(dir, clone);
    CHECK(c["cloned_from"] == src);
    CHECK(c["status"] == "draft");
    CHECK(c["params"] == s["params"]);
    CHECK(c["name"] == "src");
    CHECK(c["project"] == "p/q");
    CHECK(c["kind"] == "exec");
    CHECK(c["template"] == s["template"]);
    CHECK(c["editable"] == s["editable"]);
    CHECK(c["tags"] == Json::array({"keep"}));
    CHECK(c["artifacts"].empty());
    CHECK(c["values"].empty());
    CHECK(c["error"] == "");
    CHECK(c["exit_code"] == 0);
    CHECK(c["attempts"] == 0);
    CHECK(c["run_id"] == "");
    CHECK(trim(run(dir, {"task", "logs", clone}).out).empty());

    // A clone with an override runs with it.
    RunResult r2 = run(dir, {"task", "clone", src, "--name", "fixed", "--set", "command=exit 0"});
    REQUIRE(r2.code == 0);
    const std::string fixed = trim(r2.out);
    CHECK(show_json(dir, fixed)["params"]["command"] == "exit 0");
    CHECK(run_task_cli(dir, fixed).code == 0);
    CHECK(show_json(dir, fixed)["status"] == "completed");
    CHECK(show_json(dir, src)["status"] == "failed"); // the source is untouched
}

TEST_CASE("cli: bad names and bad input exit 2 with one error line and write nothing")
{
    TempDir dir;
    // A finished task, a draft and a file to use below.
    const std::string done = create_task_cli(dir, {"exec", "--set", "command=exit 0"});
    REQUIRE(run_task_cli(dir, done).code == 0);
    const std::string draft = create_task_cli(dir, {"exec"});
    mlrun::test::write_text(dir / "file.txt", "data\n");
    mlrun::test::write_text(dir / "data" / "x.csv", "a\n1\n");
    mlrun::test::write_text(
        dir / "tpl" / "broken.yaml",
        "name: broken\nkind: exec\nparams:\n  command: \"echo\"\n  bad: [1, 2\neditable: [command]\n");
    mlrun::test::write_text(dir / "tpl" / "nokind.yaml", "name: nokind\nparams: {a: 1}\n");

    struct Case {
        const char* what;
        std::vector<std::string> args;
        std::map<std::string, std::string> env;
        std::string must_contain;
    };
    const std::vector<Case> cases{
        {"artifact name with ..", {"log", "artifact", "../x", "file.txt"}, {{"MLRUN_TASK_ID", draft}}, "../x"},
        {"artifact name with .. via --task", {"log", "--task", draft, "artifact", "a/../../x", "file.txt"}, {}, ".."},
        {"artifact name absolute", {"log", "artifact", "/etc/x", "file.txt"}, {{"MLRUN_TASK_ID", draft}}, "/etc/x"},
        {"log outside a task", {"log", "value", "x", "1"}, {}, "MLRUN_TASK_ID"},
        {"tag with a slash", {"task", "create", "exec", "--name", "ok", "--tag", "a/b"}, {}, "a/b"},
        {"project with ..", {"task", "create", "exec", "--project", "a/../b"}, {}, "a/../b"},
        {"template with a YAML syntax error", {"--templates", "tpl", "task", "create", "broken"}, {}, "broken.yaml:"},
        {"template without a kind", {"--templates", "tpl", "task", "create", "nokind"}, {}, "kind"},
        {"unknown template", {"task", "create", "exce"}, {}, "did you mean exec"},
        {"--set without =", {"task", "create", "exec", "--set", "command"}, {}, "key=value"},
        {"--set of a non-editable key", {"task", "create", "exec", "--set", "bogus=1"}, {}, "not editable"},
        {"--set through a value", {"task", "create", "exec", "--set", "command.x=1"}, {}, "command"},
        {"--set with malformed JSON", {"task", "create", "exec", "--set", "command=[1,2"}, {}, "[1,2"},
        {"edit of a completed task", {"task", "edit", done, "--set", "command=echo"}, {}, "completed"},
        {"edit of a non-editable key", {"task", "edit", draft, "--set", "nope=1"}, {}, "nope"},
        {"unknown status", {"task", "list", "--status", "bogus"}, {}, "bogus"},
        {"unknown task", {"task", "show", "zzzzzzzz"}, {}, "zzzzzzzz"},
        {"task id with a slash", {"task", "show", "../etc"}, {}, ""},
        {"publish of a draft", {"task", "publish", draft}, {}, "draft"},
        {"unknown queue", {"task", "enqueue", draft, "--queue", "nope"}, {}, "nope"},
        {"dataset name with a slash", {"dataset", "create", "--name", "a/b", "data"}, {}, "a/b"},
        {"dataset from a missing path", {"dataset", "create", "--name", "d", "missing"}, {}, "missing"},
        {"unknown command", {"task", "frobnicate"}, {}, ""},
        {"unknown option", {"task", "list", "--frob"}, {}, ""},
    };
    for (const Case& c : cases) {
        const std::string what = c.what;
        CAPTURE(what);
        const auto before = snapshot(dir.path());
        RunResult r = run(dir, c.args, c.env);
        check_usage_error(r, c.must_contain);
        CHECK(r.out.empty());
        const auto after = snapshot(dir.path());
        for (const auto& [path, hash] : after) {
            CAPTURE(path);
            CHECK((before.count(path) && before.at(path) == hash)); // nothing new or changed
        }
        CHECK(after.size() == before.size());
    }

    // The YAML error names file:line:col.
    RunResult yaml = run(dir, {"--templates", "tpl", "task", "create", "broken"});
    CHECK(std::regex_search(yaml.err, std::regex(R"(broken\.yaml:[0-9]+:[0-9]+: )")));

    // A corrupt task.json of the folder store (folder:): exit 2, naming the file.
    TempDir fdir;
    const std::map<std::string, std::string> folder{{"MLRUN_HOME", "folder:" + fdir.home().string()}};
    auto frun = [&](const std::vector<std::string>& args) { return run(fdir, args, folder); };
    const std::string fdone = trim(frun({"task", "create", "exec", "--set", "command=exit 0"}).out);
    REQUIRE(frun({"task", "run", "-q", fdone}).code == 0);
    const std::string fdraft = trim(frun({"task", "create", "exec"}).out);
    const fs::path record = fdir.home() / "tasks" / fdraft / "task.json";
    REQUIRE(fs::exists(record));
    mlrun::test::write_text(record, "{\"id\": \"" + fdraft + "\", \"kind\": ");
    const auto before = snapshot(fdir.path());
    RunResult corrupt = frun({"task", "show", fdraft});
    check_usage_error(corrupt, "not valid JSON");
    CHECK(corrupt.err.find(record.string()) != std::string::npos);
    check_usage_error(frun({"task", "edit", fdraft, "--set", "command=x"}), "task.json");
    check_usage_error(frun({"task", "run", fdraft}), "task.json");
    CHECK(snapshot(fdir.path()) == before);
    // The rest of the store still lists.
    RunResult list = frun({"task", "list"});
    CHECK(list.code == 0);
    CHECK(list.out.find(fdone) != std::string::npos);
    CHECK(run(dir, {"task", "list"}).out.find(done) != std::string::npos);
}

TEST_CASE("cli: datasets store changed bytes only and `dataset get` gives the files back")
{
    TempDir dir;
    const fs::path data = dir / "data";
    mlrun::test::write_text(data / "train.csv", std::string(4000, 't'));
    mlrun::test::write_text(data / "test.csv", std::string(3000, 'e'));
    mlrun::test::write_text(data / "img" / "1.bin", std::string(2000, 'i'));

    RunResult c1 = run(dir, {"dataset", "create", "--name", "titanic", "data"});
    REQUIRE(c1.code == 0);
    const std::string v1 = trim(c1.out);
    mlrun::test::write_text(data / "test.csv", std::string(3500, 'E'));
    RunResult c2 = run(dir, {"dataset", "create", "--name", "titanic", "--parent", v1, "data"});
    REQUIRE(c2.code == 0);
    const std::string v2 = trim(c2.out);
    CHECK(v2 != v1);

    RunResult show = run(dir, {"dataset", "show", v2, "--json"});
    REQUIRE(show.code == 0);
    Json rec = Json::parse(show.out);
    CHECK(rec["parent"] == v1);
    CHECK(rec["stored_bytes"] == 3500);
    CHECK(rec["total_size"] == 4000 + 3500 + 2000);
    CHECK(rec["files"].size() == 3);
    CHECK(Json::parse(run(dir, {"dataset", "show", v1, "--json"}).out)["stored_bytes"] == 9000);
    // Without --json, for people: the version among its name's, the parent, each file.
    RunResult human = run(dir, {"dataset", "show", v2});
    REQUIRE(human.code == 0);
    CHECK(human.out.find("(version 2 of 2)") != std::string::npos);
    CHECK(human.out.find("parent   " + v1) != std::string::npos);
    CHECK(human.out.find("test.csv") != std::string::npos);
    CHECK(human.out.find("{") == std::string::npos);

    RunResult list = run(dir, {"dataset", "list"});
    CHECK(list.code == 0);
    CHECK(list.out.find("VERSION") != std::string::npos);
    CHECK(list.out.find(v1) != std::string::npos);
    CHECK(list.out.find(v2) != std::string::npos);

    // `dataset get` prints a folder with the same files and content as the source.
    for (const std::string& v : {v1, v2}) {
        RunResult get = run(dir, {"dataset", "get", v});
        REQUIRE(get.code == 0);
        const fs::path folder = trim(get.out);
        REQUIRE(fs::is_directory(folder));
        std::map<std::string, std::string> got;
        for (const auto& e : fs::recursive_directory_iterator(folder)) {
            if (e.is_regular_file()) {
                got[fs::relative(e.path(), folder).generic_string()] = mlrun::test::read_text(e.path());
            }
        }
        CHECK(got.size() == 3);
        std::map<std::string, std::string> expected{
            {"train.csv", std::string(4000, 't')},
            {"test.csv", v == v1 ? std::string(3000, 'e') : std::string(3500, 'E')},
            {"img/1.bin", std::string(2000, 'i')}};
        for (const auto& [rel, content] : expected) {
            CAPTURE(rel);
            // Files sit at their path relative to the given folder, with or without its name.
            auto it = got.count(rel) ? got.find(rel) : got.find("data/" + rel);
            REQUIRE(it != got.end());
            CHECK(it->second == content);
        }
    }
    check_usage_error(run(dir, {"dataset", "get", "nosuchdataset"}), "nosuchdataset");
}

TEST_CASE("cli: reset clears outputs, publish freezes, abort of a queued task")
{
    TempDir dir;
    const std::string id = create_task_cli(dir,
                                           {"exec", "--set",
                                            "command=echo hi && mlrun log value v 2 && mlrun log scalar s a 0 1 && "
                                            "echo x > \"$MLRUN_OUTPUT_DIR/o.txt\" && exit 5"});
    CHECK(run_task_cli(dir, id).code == 1);
    Json failed = show_json(dir, id);
    REQUIRE(failed["status"] == "failed");
    REQUIRE(failed["artifacts"].size() == 1);
    const fs::path task_dir = dir.home() / "tasks" / id;
    REQUIRE(fs::exists(task_dir / "artifacts" / "o.txt"));

    RunResult reset = run(dir, {"task", "reset", id});
    CHECK(reset.code == 0);
    Json t = show_json(dir, id);
    CHECK(t["status"] == "draft");
    CHECK(t["artifacts"].empty());
    CHECK(t["values"].empty());
    CHECK(t["error"] == "");
    CHECK(t["exit_code"] == 0);
    CHECK(t["params"] == failed["params"]);
    CHECK_FALSE(fs::exists(task_dir / "artifacts"));
    CHECK_FALSE(fs::exists(task_dir / "scalars.jsonl"));
    CHECK(run(dir, {"task", "logs", id}).out.empty());

    // Fix it, run it, publish it: then it is frozen.
    CHECK(run(dir, {"task", "edit", id, "--set", "command=echo fixed"}).code == 0);
    CHECK(run_task_cli(dir, id).code == 0);
    Json completed = show_json(dir, id);
    CHECK(completed["status"] == "completed");
    CHECK(run(dir, {"task", "publish", id}).code == 0);
    CHECK(show_json(dir, id)["status"] == "published");
    check_usage_error(run(dir, {"task", "edit", id, "--set", "command=echo no"}), "published");
    check_usage_error(run(dir, {"task", "reset", id}), "published");
    check_usage_error(run(dir, {"task", "abort", id}), "published");
    check_usage_error(run(dir, {"task", "run", id}), "published");
    Json frozen = show_json(dir, id);
    CHECK(frozen["status"] == "published");
    CHECK(frozen["params"]["command"] == "echo fixed");

    // Abort of a queued task takes it off the queue.
    const std::string q = create_task_cli(dir, {"exec"});
    CHECK(run(dir, {"queue", "create", "cpu"}).code == 0);
    CHECK(run(dir, {"task", "enqueue", q, "--queue", "cpu"}).code == 0);
    CHECK(show_json(dir, q)["status"] == "queued");
    CHECK(run(dir, {"queue", "list"}).out.find("cpu") != std::string::npos);
    CHECK(mlrun::test::count_entries(dir.home() / "queues" / "cpu" / "pending") == 1);
    RunResult abort = run(dir, {"task", "abort", q});
    CHECK(abort.code == 0);
    CHECK(show_json(dir, q)["status"] == "aborted");
    CHECK(mlrun::test::count_entries(dir.home() / "queues" / "cpu" / "pending") == 0);
    // Aborted -> draft by reset.
    CHECK(run(dir, {"task", "reset", q}).code == 0);
    CHECK(show_json(dir, q)["status"] == "draft");
}

TEST_CASE("cli: task list filters and prints every task")
{
    TempDir dir;
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        ids.push_back(create_task_cli(dir, {"exec", "--name", "t" + std::to_string(i), "--project",
                                            i % 2 ? "odd" : "even/sub", "--tag", "n" + std::to_string(i)}));
    }
    REQUIRE(run_task_cli(dir, ids[0]).code == 0);
    RunResult all = run(dir, {"task", "list", "--json"});
    REQUIRE(all.code == 0);
    Json arr = Json::parse(all.out);
    REQUIRE(arr.size() == 5);
    for (size_t i = 0; i < ids.size(); ++i) {
        CHECK(arr[i]["id"] == ids[ids.size() - 1 - i]); // newest first (creation order reversed)
    }
    CHECK(Json::parse(run(dir, {"task", "list", "--json", "--project", "even"}).out).size() == 3);
    CHECK(Json::parse(run(dir, {"task", "list", "--json", "--project", "odd"}).out).size() == 2);
    CHECK(Json::parse(run(dir, {"task", "list", "--json", "--status", "completed"}).out).size() == 1);
    CHECK(Json::parse(run(dir, {"task", "list", "--json", "--tag", "n3"}).out)[0]["id"] == ids[3]);
    RunResult table = run(dir, {"task", "list"});
    CHECK(table.code == 0);
    for (const std::string& id : ids) {
        CHECK(table.out.find(id) != std::string::npos);
    }
    // A unique id prefix works as an id.
    RunResult prefix = run(dir, {"task", "show", "--json", ids[4].substr(0, 13)});
    if (prefix.code == 0) {
        CHECK(Json::parse(prefix.out)["id"] == ids[4]);
    }
}
