// Flows cross the boundary as canonical JSON text: the Python Flow class keeps the text,
// the core validates and canonicalizes it.
#include <pybind11/stl.h>

#include "bindings.h"
#include "cartrecovery/flow.h"
#include "cartrecovery/render.h"

namespace cartrecovery {
namespace bindings {

void init_flows(py::module_& m) {
  m.def(
      "canonical_flow_json",
      // Template names are only checked for form here: a shop's own template may have any
      // name, and the engine checks each against its templates when it starts.
      [](const std::string& text) { return FlowToJson(ParseFlow(text)); },
      py::arg("text"),
      "Validates a flow document and returns its canonical JSON; raises ConfigError naming "
      "the path of the first problem.");
  m.def("default_flow_json", [] { return DefaultFlowJson(); },
        "The playbook flow (API.md) as canonical JSON.");
  m.def("parse_duration", [](const std::string& text) { return ParseDuration(text, "duration"); },
        py::arg("text"), "'1d12h' -> milliseconds; raises ConfigError.");
  m.def("format_duration", &FormatDuration, py::arg("ms"));
  m.def("shipped_templates", &ShippedTemplateNames);
}

}  // namespace bindings
}  // namespace cartrecovery
