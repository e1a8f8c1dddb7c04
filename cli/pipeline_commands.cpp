// mlrun pipeline run|show|list|explain
#include "cli.hpp"

namespace mlrun::cli {

void add_pipeline_commands(CLI::App& app, Cli& cli)
{
    (void)app;
    (void)cli;
}

} // namespace mlrun::cli
