// mlrun template list|show
#include "cli.hpp"

#include "core/template.hpp"

#include <cstdio>

namespace mlrun::cli {

void add_template_commands(CLI::App& app, Cli& cli)
{
    CLI::App* tmpl = app.add_subcommand("template", "List and show task templates");
    tmpl->require_subcommand(1);
    {
        auto* cmd = tmpl->add_subcommand("list", "List templates (./templates, --templates DIR, installed ones)");
        cmd->callback([&cli] {
            std::vector<std::vector<std::string>> rows;
            for (const Template& t : list_templates(cli.templates_dir)) {
                rows.push_back({t.name, t.kind, t.type, t.description});
            }
            print_table({"NAME", "KIND", "TYPE", "DESCRIPTION"}, rows);
        });
    }
    {
        auto* cmd = tmpl->add_subcommand("show", "Show a template: kind, default params, editable keys");
        auto name = std::make_shared<std::string>();
        cmd->add_option("name", *name, "Template name")->required();
        cmd->callback([&cli, name] {
            Template t = find_template(*name, cli.templates_dir);
            std::printf("name:        %s\nkind:        %s\ntype:        %s\nfile:        %s\n", t.name.c_str(),
                        t.kind.c_str(), t.type.c_str(), t.path.string().c_str());
            if (!t.description.empty()) {
                std::printf("description: %s\n", t.description.c_str());
            }
            std::string editable;
            for (const std::string& e : t.editable) {
                editable += (editable.empty() ? "" : ", ") + e;
            }
            std::printf("editable:    %s\nparams:\n", editable.empty() ? "(none)" : editable.c_str());
            const Json flat = flatten(t.params);
            for (auto& [k, v] : flat.items()) {
                std::printf("  %s = %s\n", k.c_str(), v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
            }
        });
    }
}

} // namespace mlrun::cli
