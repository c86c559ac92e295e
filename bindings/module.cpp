// The extension module. Order matters: errors first, so that every later init_* can rely
// on the translator; channels before the engine, whose constructor takes them.
#include "bindings.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "cartrecovery's C++ recovery core (private; import cartrecovery instead)";
  using namespace cartrecovery::bindings;
  init_errors(m);
  init_flows(m);
  init_policies(m);
  init_channels(m);
  init_engine(m);
  init_worker_config(m);
}
