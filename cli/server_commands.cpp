// mlrun server [--listen HOST:PORT] [--templates ALLOW-LIST] ... and mlrun server token create|list|revoke
#include "cli.hpp"

#include "app/adapter_plugin.hpp"
#include "core/util.hpp"
#include "server/server.hpp"
#include "server/server_plugin.hpp"

#include <cstdio>

namespace mlrun::cli {

namespace {

server::TokenBook token_book(Cli& cli, const std::string& file)
{
    return server::TokenBook(*cli.backends().store, file);
}

} // namespace

void add_server_commands(CLI::App& app, Cli& cli)
{
    auto* cmd = app.add_subcommand(
        "server",
        "The submission server: an HTTP API (and a web page at /) for uploads, jobs on agents, status, logs,\n"
        "results and a leaderboard. It only enqueues: run `mlrun agent daemon --queue server` beside it.\n"
        "SIGTERM/Ctrl-C: in-flight requests finish, then exit 0. Exit codes: 0 stopped, 2 bad input.");
    struct Args {
        server::ServerOptions options;
        std::string tokens;
        std::string allow = "train_model";
        int max_upload_mb = 64;
        double header_timeout_s = 10;
        double read_timeout_s = 10;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("--listen", a->options.listen, "HOST:PORT to listen on (port 0: any free port)")
        ->capture_default_str();
    cmd->add_option("--tokens", a->tokens, "Token file (JSON, hashes only; default: the store's records)");
    cmd->add_option("--templates", a->allow,
                    "Allow-list: comma-separated template names or pipeline files (a path or .yaml) jobs may use")
        ->capture_default_str();
    cmd->add_option("--queue", a->options.queue, "Queue jobs are pushed on (created when missing)")
        ->capture_default_str();
    cmd->add_option("--threads", a->options.http.threads, "Worker threads (connections served at once)")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    cmd->add_option("--max-upload-mb", a->max_upload_mb, "Largest upload in MiB (413 beyond)")
        ->check(CLI::Range(1, 1 << 20))
        ->capture_default_str();
    cmd->add_option("--header-timeout", a->header_timeout_s, "Seconds a request's line and headers may take in total")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    cmd->add_option("--read-timeout", a->read_timeout_s, "Seconds a single read or write may wait")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    cmd->callback([&cli, cmd, a] {
        if (!cmd->get_subcommands().empty()) {
            return; // a token command ran
        }
        install_signal_handlers();
        server::ServerOptions o = a->options;
        o.backend = cli.backend_options;
        o.tokens_file = a->tokens;
        o.allow_list = a->allow;
        o.templates_dir = cli.templates_dir;
        o.http.max_upload = static_cast<std::size_t>(a->max_upload_mb) << 20;
        o.http.header_timeout_ms = static_cast<int>(a->header_timeout_s * 1000);
        o.http.read_timeout_ms = static_cast<int>(a->read_timeout_s * 1000);
        o.http.write_timeout_ms = o.http.read_timeout_ms;
        o.stop = &interrupted();
        o.on_listening = [](const std::string& url) {
            std::printf("mlrun server: listening on %s\n", url.c_str());
            std::fflush(stdout);
        };
        // libmlrun_server.so (cpp-httplib, OpenSSL) is loaded only now: every other command,
        // `server --help` and the token commands included, starts without it.
        adapter_entry<server::ServerEntry>({"libmlrun_server.so", "mlrun_server_entry", "server"}).run_server(o);
        std::printf("mlrun server: stopped\n");
        cli.exit_code = 0;
    });

    CLI::App* token = cmd->add_subcommand("token", "Bearer tokens of the server (stored as sha256 hashes only)");
    token->require_subcommand(1);
    {
        auto* c = token->add_subcommand("create", "Create a token and print it once. Exit codes: 0 ok, 2 bad input.");
        struct TArgs {
            std::string name;
            std::string role = "submitter";
            server::Quota quota;
        };
        auto t = std::make_shared<TArgs>();
        c->add_option("name", t->name, "Token name (who it is for)")->required();
        c->add_option("--role", t->role, "submitter (own submissions and jobs) or admin (all)")
            ->check(CLI::IsMember({"submitter", "admin"}))
            ->capture_default_str();
        c->add_option("--rate", t->quota.requests_per_minute, "Requests per minute (429 beyond; 0: no limit)")
            ->check(CLI::NonNegativeNumber)
            ->capture_default_str();
        c->add_option("--submissions-per-day", t->quota.submissions_per_day, "Uploads per 24 h")
            ->check(CLI::NonNegativeNumber)
            ->capture_default_str();
        c->add_option("--concurrent-jobs", t->quota.concurrent_jobs, "Jobs queued or running at once")
            ->check(CLI::NonNegativeNumber)
            ->capture_default_str();
        c->callback([&cli, a, t] {
            const std::string secret = token_book(cli, a->tokens).create(t->name, t->role, t->quota);
            std::printf("%s\n", secret.c_str());
            std::fprintf(stderr, "token \"%s\" (%s) created: shown once, only its hash is kept\n", t->name.c_str(),
                         t->role.c_str());
        });
    }
    {
        auto* c = token->add_subcommand("list", "Tokens: name, role, created, revoked, quotas (never the secret).");
        auto json = std::make_shared<bool>(false);
        c->add_flag("--json", *json, "As JSON");
        c->callback([&cli, a, json] {
            std::vector<server::TokenInfo> all = token_book(cli, a->tokens).list();
            if (*json) {
                Json out = Json::array();
                for (const auto& t : all) {
                    out.push_back(t.to_json());
                }
                std::printf("%s\n", out.dump(2).c_str());
                return;
            }
            std::vector<std::vector<std::string>> rows;
            for (const auto& t : all) {
                rows.push_back({t.name, t.role, format_time_ms(t.created_ms),
                                t.revoked_ms ? "revoked " + format_time_ms(t.revoked_ms) : "valid",
                                std::to_string(t.quota.requests_per_minute) + "/min, "
                                    + std::to_string(t.quota.submissions_per_day) + "/day, "
                                    + std::to_string(t.quota.concurrent_jobs) + " jobs"});
            }
            print_table({"NAME", "ROLE", "CREATED", "STATE", "QUOTA"}, rows);
        });
    }
    {
        auto* c = token->add_subcommand("revoke", "Revoke the valid token of that name. Exit codes: 0 ok, 2 none.");
        auto name = std::make_shared<std::string>();
        c->add_option("name", *name, "Token name")->required();
        c->callback([&cli, a, name] {
            token_book(cli, a->tokens).revoke(*name);
            std::printf("token \"%s\" revoked\n", name->c_str());
        });
    }
}

} // namespace mlrun::cli
