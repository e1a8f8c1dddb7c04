// The SQLite store as the default, the folder store behind folder:, the detection of an
// unmigrated folder store and `mlrun store migrate`; `task list` newest first, cut at 50.
#include "test_util.hpp"

#include "app/wiring.hpp"
#include "core/error.hpp"
#include "core/results.hpp"
#include "store/datasets.hpp"
#include "store/local_store.hpp"
#include "store/sqlite_store.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <regex>
#include <thread>
#include <utility>

using namespace mlrun;
namespace fs = std::filesystem;
using mlrun::test::run;
using mlrun::test::RunResult;
using mlrun::test::TempDir;

namespace {

const std::string k_templates = std::string(MLRUN_SOURCE_DIR) + "/templates";

// Every path under `root` with its size: "nothing of it was touched".
std::map<std::string, std::uintmax_t> listing(const fs::path& root)
{
    std::map<std::string, std::uintmax_t> out;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        out[fs::relative(e.path(), root).generic_string()] = e.is_regular_file() ? e.file_size() : 0;
    }
    return out;
}

std::map<std::string, std::string> folder_env(const TempDir& dir)
{
    return {{"MLRUN_HOME", "folder:" + dir.home().string()}};
}

// A folder store of an older mlrun: `n` tasks made through the port, a few with scalars,
// a log and an artifact, a model, a dataset, a queue and a pipeline run (made by the CLI).
void make_folder_store(const TempDir& dir, int n)
{
    {
        LocalStore store(dir.home());
        for (int i = 0; i < n; ++i) {
            Task t;
            t.name = "t" + std::to_string(i);
            t.kind = "noop";
            t.project = i % 3 ? "proj/a" : "other";
            t.tags = {"n" + std::to_string(i % 7)};
            t.params["i"] = i;
            store.create(t);
            if (i % 250 == 0) {
                store.append_scalars(t.id, {{"loss", "train", 1, 0.5, 11}, {"loss", "train", 2, 0.25, 12}});
                store.append_log(t.id, "log of " + t.name + "\n");
                mlrun::test::write_text(dir / "art.txt", "artifact " + t.name);
                ArtifactRecord a = store.put_artifact(t.id, "out.txt", dir / "art.txt");
                store.update(t.id, [&](Task& rec) { rec.artifacts.push_back(a); });
            }
        }
        ModelRecord m;
        m.name = "clf";
        m.kind = "logreg";
        m.task_id = "x";
        m.metrics = Json{{"roc_auc", 0.9}};
        store.update_record("models", m.name, [&](Json& j) {
            j = Json{{"name", m.name}, {"versions", Json::array({[&] {
                                            ModelRecord v = m;
                                            v.version = 1;
                                            return v.to_json();
                                        }()})}};
        });
        mlrun::test::write_text(dir / "data" / "a.csv", "x,y\n1,2\n");
        DatasetRequest req;
        req.name = "ds";
        req.paths = {dir / "data"};
        create_dataset(store, req);
    }
    mlrun::test::write_text(dir / "p.yaml", "name: mig\nsteps:\n  - {name: a, template: noop}\n"
                                            "  - {name: b, template: noop, parents: [a]}\n");
    RunResult r = run(dir, {"--templates", k_templates, "pipeline", "run", "-q", (dir / "p.yaml").string()},
                      folder_env(dir));
    REQUIRE_MESSAGE(r.code == 0, r.err);
    REQUIRE(run(dir, {"queue", "create", "cpu"}, folder_env(dir)).code == 0);
}

// "found -> imported" of `what` in the report of `store migrate`; {-1, -1} when absent.
std::pair<long, long> counted(const std::string& out, const std::string& what)
{
    for (const std::string& line : mlrun::test::lines_of(out)) {
        char name[64];
        long found = -1;
        long imported = -1;
        if (std::sscanf(line.c_str(), " %63s %ld -> %ld", name, &found, &imported) == 3 && name == what) {
            return {found, imported};
        }
    }
    return {-1, -1};
}

// A listing without its "3 s ago" columns, which move with the clock.
std::string without_ages(const std::string& text)
{
    return std::regex_replace(text, std::regex(R"([0-9]+ (s|min|h) ago)"), "AGE");
}

std::string only_run_id(const TempDir& dir, const std::map<std::string, std::string>& env = {})
{
    RunResult r = run(dir, {"pipeline", "list"}, env);
    REQUIRE(r.code == 0);
    std::vector<std::string> lines = mlrun::test::lines_of(r.out);
    REQUIRE(lines.size() >= 2);
    return lines[1].substr(0, lines[1].find(' '));
}

} // namespace

TEST_CASE("wiring: a path opens the SQLite store, folder:PATH the folder store; both travel to a child as uri()")
{
    TempDir dir;
    Backends sqlite = open_backends(BackendOptions{dir.home().string(), "local", "local"});
    REQUIRE(dynamic_cast<SqliteStore*>(sqlite.store));
    Backends folder = open_backends(BackendOptions{"folder:" + dir.path().string() + "/old", "local", "local"});
    REQUIRE(dynamic_cast<LocalStore*>(folder.store));
    CHECK(folder.store->uri() == "folder:" + (dir.path() / "old").string());
    Backends again = open_backends(BackendOptions{folder.store->uri(), "local", "local"});
    CHECK(dynamic_cast<LocalStore*>(again.store));
    CHECK(resolve_store("folder:rel").kind == StoreLocation::Kind::folder);
    CHECK(resolve_store("file:///x/y").root == "/x/y");
    CHECK_THROWS_AS(resolve_store("folder:"), UsageError);
}

TEST_CASE("cli: a new store is SQLite (store.db, WAL); an old folder store is refused with the migrate hint")
{
    TempDir dir;
    std::string id = mlrun::test::create_task_cli(dir, {"noop"});
    CHECK(fs::exists(dir.home() / "store.db"));
    CHECK_FALSE(fs::exists(dir.home() / "store.json"));
    CHECK_FALSE(fs::exists(dir.home() / "tasks" / id / "task.json"));
    // journal_mode=WAL is kept in the file: header bytes 18 and 19 (read/write versions) are 2.
    const std::string header = mlrun::test::read_text(dir.home() / "store.db").substr(0, 20);
    REQUIRE(header.size() == 20);
    CHECK(header[18] == 2);
    CHECK(header[19] == 2);

    TempDir old;
    {
        LocalStore store(old.home());
        Task t;
        t.kind = "noop";
        store.create(t);
    }
    const auto before = listing(old.home());
    for (const std::vector<std::string>& args : {std::vector<std::string>{"task", "list"},
                                                 {"pipeline", "list"},
                                                 {"model", "list"},
                                                 {"task", "create", "noop"}}) {
        RunResult r = run(old, args);
        CAPTURE(r.err);
        CHECK(r.code == 2);
        REQUIRE(mlrun::test::lines_of(r.err).size() == 1);
        CHECK(r.err.find("mlrun store migrate") != std::string::npos);
    }
    CHECK(listing(old.home()) == before); // nothing of it touched
    CHECK(run(old, {"task", "list"}, folder_env(old)).code == 0);
}

TEST_CASE("cli: store migrate of 1,000 tasks, runs, models and datasets gives identical listings before and after")
{
    TempDir dir;
    make_folder_store(dir, 1000);
    const auto env = folder_env(dir);
    const std::string run_id = only_run_id(dir, env);
    RunResult list_before = run(dir, {"task", "list", "--json", "--all"}, env);
    RunResult show_before = run(dir, {"pipeline", "show", run_id}, env);
    RunResult models_before = run(dir, {"model", "list"}, env);
    RunResult datasets_before = run(dir, {"dataset", "list"}, env);
    REQUIRE(list_before.code == 0);
    REQUIRE(show_before.code == 0);
    REQUIRE(models_before.code == 0);
    REQUIRE(Json::parse(list_before.out).size() == 1002);
    CHECK(models_before.out.find("clf") != std::string::npos);

    RunResult m = run(dir, {"store", "migrate"});
    CAPTURE(m.out);
    CAPTURE(m.err);
    REQUIRE(m.code == 0);
    CHECK(counted(m.out, "tasks") == std::pair<long, long>{1002, 1002});
    CHECK(counted(m.out, "scalars") == std::pair<long, long>{8, 8});
    CHECK(counted(m.out, "models") == std::pair<long, long>{1, 1});
    CHECK(counted(m.out, "datasets") == std::pair<long, long>{1, 1});
    CHECK(counted(m.out, "runs") == std::pair<long, long>{1, 1});
    CHECK(counted(m.out, "queues") == std::pair<long, long>{1, 1});
    CHECK(fs::exists(dir.home() / "store.db"));
    CHECK_FALSE(fs::exists(dir.home() / "store.json"));
    CHECK(fs::exists(dir.home() / "folder-store.bak" / "store.json")); // moved aside, not deleted
    CHECK(mlrun::test::count_entries(dir.home() / "folder-store.bak" / "tasks") == 1002);

    CHECK(run(dir, {"task", "list", "--json", "--all"}).out == list_before.out);
    CHECK(run(dir, {"pipeline", "show", run_id}).out == show_before.out);
    CHECK(run(dir, {"model", "list"}).out == models_before.out);
    CHECK(without_ages(run(dir, {"dataset", "list"}).out) == without_ages(datasets_before.out));
    // Files stayed where they were and are found through the new store.
    Json all = Json::parse(list_before.out);
    std::string with_log;
    for (const Json& t : all) {
        if (t["name"] == "t250") {
            with_log = t["id"].get<std::string>();
        }
    }
    REQUIRE_FALSE(with_log.empty());
    CHECK(run(dir, {"task", "logs", with_log}).out == "log of t250\n");
    CHECK(run(dir, {"queue", "list"}).out.find("cpu") != std::string::npos);
    // A migrated store is not migrated twice.
    CHECK(run(dir, {"store", "migrate"}).code == 2);
}

TEST_CASE("cli: store migrate --to another folder copies the files and leaves the source as it was")
{
    TempDir dir;
    make_folder_store(dir, 20);
    const auto before = listing(dir.home());
    const std::string to = (dir.path() / "new").string();
    RunResult m = run(dir, {"store", "migrate", "--to", "sqlite:" + to});
    CAPTURE(m.err);
    REQUIRE(m.code == 0);
    CHECK(listing(dir.home()) == before);
    const std::map<std::string, std::string> new_env{{"MLRUN_HOME", to}};
    // The same records, artifact URIs pointing into the new folder.
    const std::string old_listing = run(dir, {"task", "list", "--json", "--all"}, folder_env(dir)).out;
    const std::string new_listing = run(dir, {"task", "list", "--json", "--all"}, new_env).out;
    CHECK(std::regex_replace(old_listing, std::regex("file://" + dir.home().string() + "/"), "file://" + to + "/")
          == new_listing);
    Json all = Json::parse(run(dir, {"task", "list", "--json", "--all"}, new_env).out);
    for (const Json& t : all) {
        if (t["name"] == "t0") {
            CHECK(run(dir, {"task", "logs", t["id"].get<std::string>()}, new_env).out == "log of t0\n");
            const std::string uri = t["artifacts"][0]["uri"].get<std::string>();
            CHECK(uri.find(to) != std::string::npos); // points into the new folder
            CHECK(fs::exists(uri.substr(7)));
        }
    }
    CHECK(run(dir, {"store", "migrate", "--from", dir.home().string()}).code == 2); // not folder:
    CHECK(run(dir, {"store", "migrate", "--from", "folder:" + (dir.path() / "none").string()}).code == 2);
}

TEST_CASE("cli: task list shows the newest 50 first, says how many more, --limit and --all")
{
    TempDir dir;
    std::vector<std::string> ids;
    {
        Backends b = open_backends(BackendOptions{dir.home().string(), "local", "local"});
        for (int i = 0; i < 60; ++i) {
            Task t;
            t.kind = "noop";
            t.name = "t" + std::to_string(i);
            t.tags = {i % 2 ? "odd" : "even"};
            b.store->create(t);
            ids.push_back(t.id);
            // Ids sort by their millisecond: one task per millisecond keeps creation order.
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }
    RunResult table = run(dir, {"task", "list"});
    REQUIRE(table.code == 0);
    std::vector<std::string> rows = mlrun::test::lines_of(table.out);
    REQUIRE(rows.size() == 51); // header + 50
    CHECK(rows[1].rfind(ids[59], 0) == 0);
    CHECK(rows[50].rfind(ids[10], 0) == 0);
    CHECK(table.err.find("10 more tasks not shown") != std::string::npos);
    CHECK(table.err.find("--all") != std::string::npos);

    Json limited = Json::parse(run(dir, {"task", "list", "--json", "--limit", "3"}).out);
    REQUIRE(limited.size() == 3);
    CHECK(limited[0]["id"] == ids[59]);
    CHECK(limited[2]["id"] == ids[57]);
    RunResult all = run(dir, {"task", "list", "--json", "--all"});
    CHECK(Json::parse(all.out).size() == 60);
    CHECK(all.err.empty());
    RunResult odd = run(dir, {"task", "list", "--tag", "odd", "--limit", "25"});
    CHECK(mlrun::test::lines_of(odd.out).size() == 26);
    CHECK(odd.err.find("5 more tasks") != std::string::npos);
    CHECK(run(dir, {"task", "list", "--json", "--tag", "none"}).out == "[]\n");
    CHECK(run(dir, {"task", "list", "--limit", "0"}).code == 2);
}
