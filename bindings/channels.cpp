// Channels: the SMTP and outbox channels of the core, and CallbackChannel, which hands each
// rendered message to a Python function (e.g. a Django shop's own e-mail backend).
#include <pybind11/stl.h>

#include "bindings.h"
#include "cartrecovery/delivery.h"
#include "cartrecovery/status.h"

namespace cartrecovery {
namespace bindings {
namespace {

class CallbackChannel final : public Channel {
 public:
  explicit CallbackChannel(py::function fn) : fn_(std::move(fn)) {}
  ~CallbackChannel() override {
    // The function is a Python object: drop it with the GIL held, from whatever thread
    // drops the last reference to the channel.
    py::gil_scoped_acquire gil;
    fn_ = py::function();
  }

  void Send(const OutgoingMessage& m) override {
    py::gil_scoped_acquire gil;  // called from the worker thread
    try {
      py::dict d;
      d["message_id"] = m.message_id;
      d["channel"] = m.channel;
      d["to"] = m.to;
      d["to_name"] = m.to_name;
      d["subject"] = m.subject;
      d["text"] = m.text;
      d["html"] = m.html;
      py::list headers;
      for (const auto& h : m.headers) headers.append(py::make_tuple(h.first, h.second));
      d["headers"] = headers;
      d["data"] = m.data_json.empty() ? py::object(py::none())
                                      : py::module_::import("json").attr("loads")(m.data_json);
      fn_(d);
    } catch (py::error_already_set& e) {
      // A DeliveryError raised by the callback keeps its verdict; anything else is
      // treated as transient (the shop's backend may be down for a moment).
      bool transient = true;
      if (py::hasattr(e.value(), "transient")) transient = py::bool_(e.value().attr("transient"));
      std::string what = e.what();
      throw Error(transient ? ErrorCode::kTransientDelivery : ErrorCode::kPermanentDelivery,
                  "callback: " + what);
    }
  }

  std::string Describe() const override { return "callback"; }

 private:
  py::function fn_;
};

}  // namespace

void init_channels(py::module_& m) {
  py::class_<Channel, std::shared_ptr<Channel>>(m, "Channel")
      .def("describe", &Channel::Describe)
      .def("__repr__", [](const Channel& c) { return "<Channel " + c.Describe() + ">"; });

  m.def(
      "smtp_channel",
      [](const std::string& host, int port, const std::string& username,
         const std::string& password, bool starttls, bool ssl, bool verify_certificate,
         const std::string& sender, const std::string& reply_to, double timeout) {
        SmtpSettings s;
        s.host = host;
        s.port = port;
        s.username = username;
        s.password = password;
        s.starttls = starttls;
        s.ssl = ssl;
        s.verify_certificate = verify_certificate;
        s.sender = sender;
        s.reply_to = reply_to;
        s.timeout_ms = static_cast<int>(timeout * 1000);
        return std::shared_ptr<Channel>(MakeSmtpChannel(s));
      },
      py::arg("host"), py::arg("port"), py::arg("username"), py::arg("password"),
      py::arg("starttls"), py::arg("ssl"), py::arg("verify_certificate"), py::arg("sender"),
      py::arg("reply_to"), py::arg("timeout"));
  m.def(
      "outbox_channel",
      [](const std::string& directory) { return std::shared_ptr<Channel>(MakeOutboxChannel(directory)); },
      py::arg("directory"));
  m.def(
      "callback_channel",
      [](py::function fn) { return std::shared_ptr<Channel>(std::make_shared<CallbackChannel>(std::move(fn))); },
      py::arg("fn"));
  m.def(
      "channel_send",
      [](Channel& channel, const py::dict& message) {
        OutgoingMessage out;
        auto get = [&](const char* k) {
          return message.contains(k) ? message[k].cast<std::string>() : std::string();
        };
        out.message_id = get("message_id");
        out.channel = get("channel");
        out.to = get("to");
        out.to_name = get("to_name");
        out.subject = get("subject");
        out.text = get("text");
        out.html = get("html");
        out.date_ms = message.contains("date_ms") ? message["date_ms"].cast<int64_t>() : 0;
        py::gil_scoped_release release;
        channel.Send(out);
        channel.Close();
      },
      py::arg("channel"), py::arg("message"), "Sends one message now (for a test message).");
}

}  // namespace bindings
}  // namespace cartrecovery
