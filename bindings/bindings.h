// bindings.h: the init_* functions that module.cpp calls, and the conversion helpers they
// share. Nothing here decides anything: Python objects become core values and back.
#ifndef CARTRECOVERY_BINDINGS_BINDINGS_H_
#define CARTRECOVERY_BINDINGS_BINDINGS_H_

#include <pybind11/pybind11.h>

#include <string>

#include "cartrecovery/offer.h"
#include "cartrecovery/value.h"

namespace cartrecovery {
namespace bindings {

namespace py = pybind11;

void init_errors(py::module_& m);
void init_flows(py::module_& m);
void init_policies(py::module_& m);
void init_channels(py::module_& m);
void init_engine(py::module_& m);
void init_worker_config(py::module_& m);

// A Python value (dict, list, str, int, bool, None, Decimal, float) as a core Value.
// Anything else throws InvalidArgument naming `path`. Requires the GIL.
Value ToValue(py::handle obj, const std::string& path);

// A Python str as UTF-8; a str that has none (lone surrogates) throws InvalidArgument
// naming `path`. Requires the GIL.
std::string Utf8(py::handle obj, const std::string& path);

// offers.cpp: settings dicts to offer.h values (ConfigError naming the key), and back.
CouponPool PoolFromDict(const py::dict& d, const std::string& path);
// `shop_currency`: the currency its incentive's valuable_min_lifetime_value is in.
ExitIntentPolicy ExitPolicyFromDict(const py::dict& d, std::string* pool,
                                    const std::string& shop_currency);
// settings["incentive"] (and exit_intent.incentive): the R4.4 budget; errors name `path`.
// valuable_min_lifetime_value is an amount in the shop's currency, as lifetime values are.
IncentivePolicy IncentiveFromDict(const py::dict& d, const std::string& path,
                                  const std::string& shop_currency);
py::object CouponDict(const std::optional<Coupon>& coupon);

}  // namespace bindings
}  // namespace cartrecovery

#endif  // CARTRECOVERY_BINDINGS_BINDINGS_H_
