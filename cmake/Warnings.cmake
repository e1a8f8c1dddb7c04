# Warnings for our own targets only (linked PRIVATE), never for third-party headers.
add_library(mlrun_warnings INTERFACE)
target_compile_options(mlrun_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter
  # GCC 12 false positives inside nlohmann::json instantiations.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>
  # Events are built with partial aggregate initialisation on purpose.
  -Wno-missing-field-initializers)
