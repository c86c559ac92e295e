// Policies: the calendars behind quiet days, for shops and tests to look at (the policies
// themselves cross as JSON in the engine's settings).
#include <pybind11/stl.h>

#include <cstdio>

#include "bindings.h"
#include "cartrecovery/policy.h"

namespace cartrecovery {
namespace bindings {

void init_policies(py::module_& m) {
  m.def(
      "public_holidays",
      [](const std::string& country, int year) {
        std::vector<std::string> out;
        for (const CivilDate& d : PublicHolidays(country, year)) {
          char buf[16];
          std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", d.year, d.month, d.day);
          out.emplace_back(buf);
        }
        return out;
      },
      py::arg("country"), py::arg("year"),
      "The built-in public holidays of a country (DE, FR, IR, PL, RO) in a year, as ISO dates; "
      "raises ValidationError for another country.");
}

}  // namespace bindings
}  // namespace cartrecovery
