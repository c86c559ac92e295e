// py_callable.h: a Python callable that C++ code may copy, keep and drop without the GIL.
//
// The core copies std::function callbacks freely (ImportCoupons takes its options by value,
// the worker keeps an order check), often with the GIL released. A lambda that captures a
// py::object would then change a Python reference count without the GIL, which corrupts
// memory under threads (pybind11 #4748). PyCallable holds the object behind a shared_ptr:
// copies touch only the shared_ptr's atomic count, the last owner's deleter takes the GIL
// to drop the object, and a call takes the GIL.
//
// Built with CARTRECOVERY_ASSERT_GIL (on in test builds), pybind11 checks every reference
// count change in the extension (PYBIND11_ASSERT_GIL_HELD_INCREF_DECREF), so a py::object
// copied or dropped without the GIL fails loudly in the tests instead of corrupting memory.
#ifndef CARTRECOVERY_BINDINGS_PY_CALLABLE_H_
#define CARTRECOVERY_BINDINGS_PY_CALLABLE_H_

#include <pybind11/pybind11.h>

#include <memory>
#include <type_traits>
#include <utility>

namespace cartrecovery {
namespace bindings {

class PyCallable {
 public:
  // Requires the GIL (it takes a reference to `fn`).
  explicit PyCallable(pybind11::object fn)
      : fn_(new pybind11::object(std::move(fn)), [](pybind11::object* p) {
          pybind11::gil_scoped_acquire gil;
          delete p;
        }) {}

  // Calls the function with the GIL held (taken here if the caller released it) and
  // converts its result to R (void: ignored) before the GIL is let go, so no Python object
  // outlives the call. What the function raises comes out as pybind11::error_already_set;
  // a result of the wrong type as pybind11::cast_error.
  template <typename R = void, typename... Args>
  R Call(Args&&... args) const {
    pybind11::gil_scoped_acquire gil;
    pybind11::object result = (*fn_)(std::forward<Args>(args)...);  // dropped before `gil`
    if constexpr (std::is_void_v<R>) {
      return;
    } else {
      return result.cast<R>();
    }
  }

 private:
  std::shared_ptr<pybind11::object> fn_;  // copies need no GIL; the deleter takes it
};

}  // namespace bindings
}  // namespace cartrecovery

#endif  // CARTRECOVERY_BINDINGS_PY_CALLABLE_H_
