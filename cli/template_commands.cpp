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
        auto* cmd = tmpl->add_subcommand("show", "Show a template: kind, default params, editable keys, param types");
        auto name = std::make_shared<std::string>();
        auto json = std::make_shared<bool>(false);
        cmd->add_option("name", *name, "Template name")->required();
        cmd->add_flag("--json", *json, "The template as JSON (params, editable, schema) for scripts");
        cmd->callback([&cli, name, json] {
            Template t = find_template(*name, cli.templates_dir);
            if (*json) {
                Json out = {{"name", t.name},
                            {"kind", t.kind},
                            {"type", t.type},
                            {"file", t.path.string()},
                            {"description", t.description},
                            {"params", t.params},
                            {"editable", t.editable},
                            {"schema", schema_to_json(t.schema, t.params)}};
                std::printf("%s\n", dump_json(out, 2).c_str());
                return;
            }
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
            if (t.schema.empty()) {
                std::printf("schema:      (none: values are not type-checked)\n");
                return;
            }
            std::printf("schema:\n");
            std::vector<std::vector<std::string>> rows;
            for (const ParamSpec& s : t.schema.params) {
                const Json* d = get_path(t.params, s.key);
                std::string def = !d ? "" : d->is_string() ? "\"" + d->get<std::string>() + "\"" : d->dump();
                rows.push_back({s.key, describe_spec(s), def, s.help});
            }
            print_table({"PARAM", "EXPECTED", "DEFAULT", "HELP"}, rows);
        });
    }
}

} // namespace mlrun::cli
