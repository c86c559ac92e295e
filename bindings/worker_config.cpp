// The worker service's layered configuration (cartrecovery/worker_config.h): values come
// back typed by their key's kind, with where each came from.
#include <pybind11/stl.h>

#include <cstdlib>

#include "bindings.h"
#include "cartrecovery/worker_config.h"

namespace cartrecovery {
namespace bindings {

void init_worker_config(py::module_& m) {
  m.def(
      "load_worker_config",
      [](const std::string& file, const std::map<std::string, std::string>& environment,
         const std::vector<std::string>& overrides) {
        std::map<std::string, ConfigValue> values;
        {
          py::gil_scoped_release release;  // reads a file
          values = LoadWorkerConfig(file, environment, overrides);
        }
        py::dict out;
        for (const auto& [key, v] : values) {
          py::object value;
          if (v.kind == ConfigKind::kInteger) value = py::int_(std::strtoll(v.text.c_str(), nullptr, 10));
          else if (v.kind == ConfigKind::kNumber) value = py::float_(std::strtod(v.text.c_str(), nullptr));
          else value = py::str(v.text);
          out[py::str(key)] = py::make_tuple(value, v.origin);
        }
        return out;
      },
      py::arg("file"), py::arg("environment"), py::arg("overrides"),
      "Layered service configuration: {key: (value, origin)}; command line > environment "
      "CARTRECOVERY_* > file > defaults. ConfigError names the key and its source.");
  m.def("worker_config_keys", [] {
    py::list out;
    for (const auto& k : WorkerConfigKeys()) out.append(py::make_tuple(k.name, k.default_value, k.help));
    return out;
  });
}

}  // namespace bindings
}  // namespace cartrecovery
