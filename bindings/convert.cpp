#include <pybind11/pybind11.h>

#include "bindings.h"
#include "cartrecovery/status.h"

namespace cartrecovery {
namespace bindings {

namespace {

py::handle DecimalType() {
  // Cached once: looking the class up per value would cost an import per call.
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> storage;
  return storage
      .call_once_and_store_result([] { return py::module_::import("decimal").attr("Decimal"); })
      .get_stored();
}

}  // namespace

std::string Utf8(py::handle obj, const std::string& path) {
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(obj.ptr(), &size);
  if (!data) {
    // A lone surrogate ("\ud800", e.g. from a JSON escape) has no UTF-8 form.
    PyErr_Clear();
    throw InvalidArgument(path, "is not valid text (it holds a lone surrogate)");
  }
  return std::string(data, static_cast<size_t>(size));
}

Value ToValue(py::handle obj, const std::string& path) {
  if (obj.is_none()) return Value();
  if (PyBool_Check(obj.ptr())) return Value::Bool(obj.ptr() == Py_True);
  if (PyLong_Check(obj.ptr())) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
    if (overflow) throw InvalidArgument(path, "integer out of range");
    return Value::Int(v);
  }
  if (PyUnicode_Check(obj.ptr())) return Value::String(Utf8(obj, path));
  if (PyFloat_Check(obj.ptr())) return Value::Float(PyFloat_AsDouble(obj.ptr()));
  if (PyDict_Check(obj.ptr())) {
    Value v = Value::MakeMap();
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(obj.ptr(), &pos, &key, &value)) {
      if (!PyUnicode_Check(key)) throw InvalidArgument(path, "dict keys must be str");
      std::string k = Utf8(key, path);
      v.Set(k, ToValue(value, path.empty() ? k : path + "." + k));
    }
    return v;
  }
  if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) {
    Value v = Value::MakeList();
    size_t i = 0;
    for (py::handle item : obj)
      v.as_list().push_back(ToValue(item, path + "[" + std::to_string(i++) + "]"));
    return v;
  }
  if (py::isinstance(obj, DecimalType())) {
    if (!obj.attr("is_finite")().cast<bool>()) throw InvalidArgument(path, "amount is not finite");
    // Fixed-point text: format(d, 'f') never uses an exponent.
    return Value::Decimal(py::str(py::module_::import("builtins").attr("format")(obj, "f")));
  }
  throw InvalidArgument(path, std::string("unsupported type ") +
                                  std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
}

}  // namespace bindings
}  // namespace cartrecovery
