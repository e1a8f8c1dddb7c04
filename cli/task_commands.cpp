// mlrun task create|clone|edit|run|list|show|logs|reset|abort|publish|enqueue|dequeue
#include "cli.hpp"

#include "app/sync.hpp"
#include "app/task_ops.hpp"
#include "core/error.hpp"
#include "core/results.hpp"
#include "core/template.hpp"
#include "core/util.hpp"
#include "engine/environment.hpp"
#include "engine/task_runner.hpp"
#include "ports/queue.hpp"
#include "ports/task_store.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

namespace mlrun::cli {

namespace {

// `task list` shows this many of the newest tasks unless --limit or --all.
constexpr std::size_t k_default_list_limit = 50;

std::string short_json(const Json& v)
{
    return v.is_string() ? v.get<std::string>() : v.dump();
}

void print_task(Backends& b, const Task& t)
{
    auto row = [](const std::string& k, const std::string& v) {
        if (!v.empty()) {
            std::printf("%-12s %s\n", (k + ":").c_str(), v.c_str());
        }
    };
    row("id", t.id);
    row("name", t.name);
    row("project", t.project);
    row("kind", t.kind + " (" + t.type + ")");
    row("template", t.template_name);
    row("status", std::string(to_string(t.status)));
    row("run", t.run_id);
    row("step", t.step);
    row("parent", t.parent);
    row("cloned from", t.cloned_from);
    row("queue", t.queue);
    std::string tags;
    for (const std::string& tag : t.tags) {
        tags += (tags.empty() ? "" : ", ") + tag;
    }
    row("tags", tags);
    row("created", format_time_ms(t.created_ms));
    if (t.started_ms) {
        row("started", format_time_ms(t.started_ms));
    }
    if (t.finished_ms && t.started_ms) {
        row("finished", format_time_ms(t.finished_ms) + " (" + format_duration_ms(t.finished_ms - t.started_ms) + ")");
    }
    row("attempts", t.attempts ? std::to_string(t.attempts) : "");
    row("mlflow", mirror_line(task_mirror_state(*b.store, t)));
    if (!t.error.empty()) {
        row("error", t.error + (t.exit_code ? " [exit code " + std::to_string(t.exit_code) + "]" : ""));
    }
    if (const Json env = stored_environment(*b.store, t.id); !env.empty()) {
        // One line per entry of the environment record ("git.commit = ...").
        std::printf("environment:\n");
        const Json flat_env = flatten(env);
        for (auto& [k, v] : flat_env.items()) {
            std::printf("  %s = %s\n", k.c_str(), short_json(v).c_str());
        }
    }
    std::printf("params:\n");
    const Json flat_params = flatten(redact_secrets(t.params));
    for (auto& [k, v] : flat_params.items()) {
        std::printf("  %s = %s\n", k.c_str(), short_json(v).c_str());
    }
    if (!t.values.empty()) {
        std::printf("values:\n");
        const Json flat_values = flatten(t.values);
        for (auto& [k, v] : flat_values.items()) {
            std::printf("  %s = %s\n", k.c_str(), short_json(v).c_str());
        }
    }
    if (!t.artifacts.empty()) {
        std::printf("artifacts:\n");
        for (const ArtifactRecord& a : t.artifacts) {
            std::printf("  %-28s %10llu B  %-22s sha256:%s\n", a.name.c_str(), static_cast<unsigned long long>(a.size),
                        a.content_type.c_str(), a.sha256.substr(0, 12).c_str());
        }
    }
    std::vector<Scalar> scalars = task_scalars(b, t.id);
    if (!scalars.empty()) {
        std::map<std::pair<std::string, std::string>, Scalar> last;
        for (const Scalar& s : scalars) {
            last[{s.title, s.series}] = s;
        }
        std::printf("last scalars:\n");
        for (const auto& [key, s] : last) {
            std::printf("  %s/%s = %g (iteration %lld)\n", s.title.c_str(), s.series.c_str(), s.value,
                        static_cast<long long>(s.iteration));
        }
    }
}

} // namespace

void add_task_commands(CLI::App& app, Cli& cli)
{
    CLI::App* task = app.add_subcommand("task", "Create, clone, edit, run and inspect tasks");
    task->require_subcommand(1);

    // create
    {
        auto* cmd = task->add_subcommand("create", "Create a draft task from a template; prints its id");
        auto req = std::make_shared<CreateRequest>();
        auto tmpl = std::make_shared<std::string>();
        cmd->add_option("template", *tmpl, "Template name (see `mlrun template list`)")->required();
        cmd->add_option("--name", req->name, "Task name (default: the template's)");
        cmd->add_option("--project", req->project, "Project, a/b for a subproject");
        cmd->add_option("--set", req->sets, "Override a param: key=value (typed: 1, 0.5, true, [1,2], text)");
        cmd->add_option("--tag", req->tags, "Add a tag (repeatable)");
        cmd->callback([&cli, req, tmpl] {
            Template t = find_template(*tmpl, cli.templates_dir);
            Task created = create_task(cli.backends(), t, *req);
            std::printf("%s\n", created.id.c_str());
        });
    }
    // clone
    {
        auto* cmd = task->add_subcommand("clone", "Copy a task's spec and params (not its outputs) into a new draft");
        auto req = std::make_shared<CreateRequest>();
        auto id = std::make_shared<std::string>();
        auto queue = std::make_shared<std::string>();
        auto priority = std::make_shared<int>(0);
        auto require_agent = std::make_shared<bool>(false);
        cmd->add_option("id", *id, "Task id (or a unique prefix)")->required();
        cmd->add_option("--name", req->name, "Name of the clone");
        cmd->add_option("--project", req->project, "Project of the clone");
        cmd->add_option("--set", req->sets, "Override a param: key=value");
        cmd->add_option("--tag", req->tags, "Add a tag (repeatable)");
        cmd->add_option("--queue", *queue, "Enqueue the clone on this queue for an agent");
        cmd->add_option("--priority", *priority, "With --queue: 0..999, higher first")->check(CLI::Range(0, 999));
        cmd->add_flag("--require-agent", *require_agent,
                      "With --queue: refuse (exit 2) when no live agent serves the queue");
        cmd->callback([&cli, req, id, queue, priority, require_agent] {
            std::string warning;
            if (!queue->empty()) {
                require_queue(cli.backends(), *queue);
                warning = check_agent(cli.backends(), *queue, *require_agent);
            }
            req->templates_dir = cli.templates_dir;
            Task t = clone_task(cli.backends(), *id, *req, *queue, *priority);
            std::printf("%s\n", t.id.c_str());
            if (!warning.empty()) {
                std::fprintf(stderr, "mlrun: warning: %s\n", warning.c_str());
            }
        });
    }
    // edit
    {
        auto* cmd = task->add_subcommand("edit",
                                         "Change params of a draft task (keys in the template's editable list)");
        auto id = std::make_shared<std::string>();
        auto sets = std::make_shared<std::vector<std::string>>();
        cmd->add_option("id", *id, "Task id")->required();
        cmd->add_option("--set", *sets, "key=value")->required();
        cmd->callback([&cli, id, sets] {
            Task t = edit_task(cli.backends(), *id, *sets, cli.templates_dir);
            std::printf("%s edited\n", t.id.c_str());
        });
    }
    // run
    {
        auto* cmd = task->add_subcommand("run",
                                         "Run a draft task here and now (exit 1 if it fails, 130 if interrupted)");
        auto id = std::make_shared<std::string>();
        auto quiet = std::make_shared<bool>(false);
        auto threads = std::make_shared<int>(0);
        cmd->add_option("id", *id, "Task id")->required();
        cmd->add_flag("--quiet,-q", *quiet, "Do not echo the task log");
        cmd->add_option("--threads", *threads, "Threads for the task (default: all cores)")
            ->check(whole_number_at_least(0));
        auto lease_epoch = std::make_shared<std::int64_t>(0);
        // Set by an agent for its child: every write is fenced by this epoch (hidden).
        cmd->add_option("--lease-epoch", *lease_epoch, "Queue lease epoch of the agent's delivery")->group("");
        auto from_fifo = std::make_shared<std::string>();
        // An agent's warm child (hidden): started ahead, it reads "ID EPOCH" from this FIFO.
        cmd->add_option("--from-fifo", *from_fifo, "Read the task id and lease epoch from this FIFO")->group("");
        cmd->callback([&cli, id, quiet, threads, lease_epoch, from_fifo] {
            install_signal_handlers();
            if (!from_fifo->empty()) {
                // The store, broker and mirror are opened while idle, not after the hand-over.
                cli.running_backends().store->ensure_created();
                std::ifstream in(*from_fifo); // blocks until the agent hands a task over
                if (!(in >> *id >> *lease_epoch)) {
                    throw UsageError("--from-fifo " + *from_fifo + ": no task id and lease epoch came");
                }
                in.close(); // the agent's next warm child opens it next
            }
            RunOptions options;
            options.threads = *threads > 0 ? *threads
                                           : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
            options.cancel = &interrupted();
            if (!*quiet) {
                options.on_log = [](const std::string& line) {
                    std::printf("%s\n", line.c_str());
                    std::fflush(stdout);
                };
            }
            TaskRunResult run = run_task_here(cli.running_backends(), *id, options, *lease_epoch);
            const Task& t = run.task;
            for (const std::string& w : run.warnings) {
                std::fprintf(stderr, "mlrun: warning: %s\n", w.c_str());
            }
            std::fprintf(stderr, "task %s %s in %s%s\n", t.id.c_str(), std::string(to_string(t.status)).c_str(),
                         format_duration_ms(t.finished_ms - t.started_ms).c_str(),
                         t.error.empty() ? "" : (": " + t.error).c_str());
            cli.exit_code = run.exit_status;
        });
    }
    // list
    {
        auto* cmd = task->add_subcommand("list", "List tasks, newest first (the latest 50 unless --limit or --all)");
        auto filter = std::make_shared<TaskFilter>();
        auto status = std::make_shared<std::string>();
        auto json = std::make_shared<bool>(false);
        auto all = std::make_shared<bool>(false);
        auto limit = std::make_shared<std::size_t>(k_default_list_limit);
        cmd->add_option("--project", filter->project, "Only this project (and its subprojects)");
        cmd->add_option("--status", *status,
                        "Only this status (draft, queued, in_progress, completed, failed, aborted, published)");
        cmd->add_option("--tag", filter->tag, "Only tasks with this tag");
        cmd->add_option("--run", filter->run_id, "Only tasks of this pipeline run");
        cmd->add_option("--kind", filter->kind, "Only this kind");
        cmd->add_option("--limit", *limit, "At most this many tasks, the newest (default 50)")
            ->check(CLI::PositiveNumber);
        cmd->add_flag("--all", *all, "Every matching task");
        cmd->add_flag("--json", *json, "One JSON array of task records (written as they are read)");
        cmd->callback([&cli, filter, status, json, all, limit] {
            if (!status->empty()) {
                filter->status = parse_status(*status);
            }
            filter->light = !*json;
            filter->newest_first = true;
            filter->limit = *all ? 0 : *limit;
            filter->include_corrupt = true; // shown as corrupt, not hidden (see `mlrun store check`)
            std::size_t shown = 0;
            if (*json) {
                std::fputs("[", stdout);
                each_task(cli.backends(), *filter, [&](const Task& t) {
                    if (!t.corrupt.empty()) {
                        std::string out = std::string(shown++ ? ",\n  " : "\n  ")
                                          + Json{{"id", t.id}, {"status", "corrupt"}, {"error", t.corrupt}}.dump();
                        std::fwrite(out.data(), 1, out.size(), stdout);
                        return;
                    }
                    Json j = t.to_json();
                    j["params"] = redact_secrets(j["params"]);
                    // Indented as an element of the array (the text of arr.dump(2) of old).
                    std::string out = shown++ ? ",\n  " : "\n  ";
                    for (char c : j.dump(2)) {
                        out += c;
                        if (c == '\n') {
                            out += "  ";
                        }
                    }
                    std::fwrite(out.data(), 1, out.size(), stdout);
                });
                std::fputs(shown ? "\n]\n" : "]\n", stdout);
            } else {
                std::vector<std::vector<std::string>> rows;
                each_task(cli.backends(), *filter, [&](const Task& t) {
                    ++shown;
                    if (!t.corrupt.empty()) {
                        rows.push_back({t.id, "(unreadable: " + t.corrupt + ")", "?", "corrupt", "", "", ""});
                        return;
                    }
                    rows.push_back({t.id, t.name, t.kind, std::string(to_string(t.status)), t.project,
                                    t.run_id.substr(0, 14), age(t.updated_ms)});
                });
                print_table({"ID", "NAME", "KIND", "STATUS", "PROJECT", "RUN", "UPDATED"}, rows);
            }
            if (filter->limit != 0 && shown == filter->limit) {
                // Counted only when the page is full: an indexed count, no records read.
                const std::size_t total = count_tasks(cli.backends(), *filter);
                if (total > shown) {
                    std::fflush(stdout);
                    std::fprintf(stderr, "%zu more task%s not shown (--limit N or --all)\n", total - shown,
                                 total - shown == 1 ? "" : "s");
                }
            }
        });
    }
    // show
    {
        auto* cmd = task->add_subcommand("show", "Show a task: params, status, times, artifacts, last scalars");
        auto id = std::make_shared<std::string>();
        auto json = std::make_shared<bool>(false);
        cmd->add_option("id", *id, "Task id")->required();
        cmd->add_flag("--json", *json, "The task record as JSON");
        cmd->callback([&cli, id, json] {
            Task t = get_task(cli.backends(), *id);
            if (*json) {
                Json j = t.to_json();
                j["params"] = redact_secrets(j["params"]);
                if (Json env = stored_environment(*cli.backends().store, t.id); !env.empty()) {
                    j["environment"] = std::move(env); // kept beside the record, shown with it
                }
                std::printf("%s\n", dump_json(j, 2).c_str());
            } else {
                print_task(cli.backends(), t);
            }
        });
    }
    // logs
    {
        auto* cmd = task->add_subcommand("logs", "Print a task's log; -f follows it until the task ends");
        auto id = std::make_shared<std::string>();
        auto follow = std::make_shared<bool>(false);
        cmd->add_option("id", *id, "Task id")->required();
        cmd->add_flag("--follow,-f", *follow, "Keep printing new lines until the task ends");
        cmd->callback([&cli, id, follow] {
            install_signal_handlers();
            stream_log(cli.backends(), *id, *follow, &interrupted(), [](std::string_view chunk) {
                std::fwrite(chunk.data(), 1, chunk.size(), stdout);
                std::fflush(stdout);
            });
        });
    }
    // reset / abort / publish
    struct Simple {
        const char* name;
        const char* help;
        Task (*fn)(Backends&, const std::string&);
        const char* done;
    };
    for (const Simple& s :
         {Simple{"reset", "Return a failed, aborted or completed task to draft (clears its outputs)", reset_task,
                 "reset to draft"},
          Simple{"abort", "Abort a queued or running task", abort_task, "aborted"},
          Simple{"publish", "Freeze a completed task (published tasks cannot change)", publish_task, "published"}}) {
        auto* cmd = task->add_subcommand(s.name, s.help);
        auto id = std::make_shared<std::string>();
        cmd->add_option("id", *id, "Task id")->required();
        auto fn = s.fn;
        std::string done = s.done;
        cmd->callback([&cli, id, fn, done] {
            Task t = fn(cli.backends(), *id);
            std::printf("%s %s\n", t.id.c_str(), done.c_str());
        });
    }
    // enqueue
    {
        auto* cmd = task->add_subcommand("enqueue", "Put a draft task on a queue for an agent.\n"
                                                    "Exit codes: 0 queued, 2 unknown queue, a task that is not a "
                                                    "draft, or --require-agent with no live agent.");
        auto id = std::make_shared<std::string>();
        auto queue = std::make_shared<std::string>();
        auto priority = std::make_shared<int>(0);
        auto require_agent = std::make_shared<bool>(false);
        cmd->add_option("id", *id, "Task id")->required();
        cmd->add_option("--queue", *queue, "Queue name")->required();
        cmd->add_option("--priority", *priority, "0..999, higher first")->check(CLI::Range(0, 999));
        cmd->add_flag("--require-agent", *require_agent, "Refuse (exit 2) when no live agent serves the queue");
        cmd->callback([&cli, id, queue, priority, require_agent] {
            require_queue(cli.backends(), *queue);
            std::string warning = check_agent(cli.backends(), *queue, *require_agent);
            Task t = enqueue_task(cli.backends(), *id, *queue, *priority);
            std::printf("%s queued on %s\n", t.id.c_str(), queue->c_str());
            if (!warning.empty()) {
                std::fprintf(stderr, "mlrun: warning: %s\n", warning.c_str());
            }
        });
    }
    // dequeue
    {
        auto* cmd = task->add_subcommand("dequeue", "Take a queued task off its queue, back to draft.\n"
                                                    "Exit codes: 0 ok, 2 not queued or already claimed by an agent.");
        auto id = std::make_shared<std::string>();
        cmd->add_option("id", *id, "Task id")->required();
        cmd->callback([&cli, id] {
            Task t = dequeue_task(cli.backends(), *id);
            std::printf("%s dequeued (draft)\n", t.id.c_str());
        });
    }
}

} // namespace mlrun::cli
