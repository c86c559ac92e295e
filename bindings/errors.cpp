// One translator maps the core's error codes to Python classes, created once:
//
//   Error(Exception)
//    ├── ValidationError(Error, ValueError)   kInvalidArgument   .field
//    ├── ConfigError(Error, ValueError)       kConfig            .field (document path)
//    ├── StoreError(Error)                    kStorage, kNotFound
//    │    └── QueueFullError(StoreError)      kQueueFull
//    └── DeliveryError(Error)                 kTransientDelivery / kPermanentDelivery /
//                                             kAccountDelivery (.code "account_delivery")
//                                             .transient (bool)
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "cartrecovery/status.h"

namespace cartrecovery {
namespace bindings {
namespace {

struct Classes {
  PyObject* error;
  PyObject* validation;
  PyObject* config;
  PyObject* store;
  PyObject* queue_full;
  PyObject* delivery;
};

Classes& Cls() {
  static Classes classes{};  // filled once in init_errors; the references are kept forever
  return classes;
}

PyObject* NewClass(py::module_& m, const char* name, PyObject* bases, const char* doc) {
  std::string qualified = std::string("cartrecovery.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases, nullptr);
  if (!cls) throw py::error_already_set();
  m.add_object(name, py::handle(cls));  // add_object steals nothing; Cls() keeps a reference
  Py_INCREF(cls);
  return cls;
}

}  // namespace

void init_errors(py::module_& m) {
  Classes& c = Cls();
  c.error = NewClass(m, "Error", PyExc_Exception, "Base class of every cartrecovery error.");
  py::tuple vb = py::make_tuple(py::handle(c.error), py::handle(PyExc_ValueError));
  c.validation = NewClass(m, "ValidationError", vb.ptr(),
                          "Bad input; .field names the culprit (e.g. 'items[1].price').");
  c.config = NewClass(m, "ConfigError", vb.ptr(),
                      "Bad configuration or flow; .field holds the path inside the document.");
  c.store = NewClass(m, "StoreError", c.error, "The store failed or is not usable.");
  c.queue_full = NewClass(m, "QueueFullError", c.store,
                          "The ingest queue is full; the event was not accepted.");
  c.delivery = NewClass(m, "DeliveryError", c.error,
                        "A channel refused a message; .transient tells whether to retry.");

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      Classes& c = Cls();
      PyObject* cls = c.error;
      switch (e.code()) {
        case ErrorCode::kInvalidArgument: cls = c.validation; break;
        case ErrorCode::kConfig: cls = c.config; break;
        case ErrorCode::kStorage:
        case ErrorCode::kNotFound: cls = c.store; break;
        case ErrorCode::kQueueFull: cls = c.queue_full; break;
        case ErrorCode::kTransientDelivery:
        case ErrorCode::kPermanentDelivery:
        case ErrorCode::kAccountDelivery: cls = c.delivery; break;
        case ErrorCode::kInternal: cls = c.error; break;
      }
      // Messages quote what was refused, which may be any bytes (a 0xFF from a broken flow
      // file): decode leniently, so the error raised is always this class, never a
      // UnicodeDecodeError.
      auto text = [](const std::string& s) {
        return py::reinterpret_steal<py::object>(
            PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "backslashreplace"));
      };
      py::object message = text(e.what());
      if (!message) return;
      py::object instance = py::reinterpret_steal<py::object>(
          PyObject_CallFunctionObjArgs(cls, message.ptr(), nullptr));
      if (!instance) return;  // the call set its own Python error
      instance.attr("field") = e.field().empty() ? py::object(py::none()) : text(e.field());
      instance.attr("code") = py::str(ErrorCodeName(e.code()));
      instance.attr("transient") = py::bool_(e.code() == ErrorCode::kTransientDelivery);
      PyErr_SetObject(cls, instance.ptr());
    }
  });
}

}  // namespace bindings
}  // namespace cartrecovery
