// Channels: the SMTP and outbox channels of the core, and CallbackChannel, which hands each
// rendered message to a Python function (e.g. a Django shop's own e-mail backend).
#include <pybind11/stl.h>

#include "bindings.h"
// After Python.h (through pybind11): the datetime C API for the callback's message date.
#include <datetime.h>
#include "cartrecovery/delivery.h"
#include "cartrecovery/push.h"
#include "cartrecovery/sms.h"
#include "cartrecovery/status.h"

namespace cartrecovery {
namespace bindings {
namespace {

// What every callback message needs from Python's standard library, looked up once: an
// import and attribute lookups per message cost as much as the rest of the dict.
struct CallbackTypes {
  py::object epoch;       // datetime(1970, 1, 1, tzinfo=timezone.utc)
  py::object json_loads;  // json.loads
};

const CallbackTypes& Types() {
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<CallbackTypes> storage;
  return storage
      .call_once_and_store_result([] {
        PyDateTime_IMPORT;
        if (!PyDateTimeAPI) throw py::error_already_set();
        py::module_ dt = py::module_::import("datetime");
        py::object utc = dt.attr("timezone").attr("utc");
        return CallbackTypes{dt.attr("datetime")(1970, 1, 1, py::arg("tzinfo") = utc),
                             py::module_::import("json").attr("loads")};
      })
      .get_stored();
}

// datetime(1970, 1, 1, tzinfo=utc) + timedelta(milliseconds=ms), without the keyword call:
// the same days/seconds/microseconds timedelta normalises to (floor division).
py::object UtcDatetime(int64_t ms) {
  const CallbackTypes& types = Types();  // imports the datetime C API first
  constexpr int64_t kMsPerDay = 86400000;
  int64_t days = ms / kMsPerDay;
  int64_t rest = ms % kMsPerDay;
  if (rest < 0) {
    rest += kMsPerDay;
    days -= 1;
  }
  py::object delta = py::reinterpret_steal<py::object>(PyDelta_FromDSU(
      static_cast<int>(days), static_cast<int>(rest / 1000), static_cast<int>(rest % 1000) * 1000));
  if (!delta) throw py::error_already_set();
  return types.epoch + delta;
}

// A str from the core's UTF-8 text (strict, as pybind11 converts), set under a key of the
// message dict.
void SetText(py::dict& d, const char* key, const std::string& text) {
  py::object value = py::reinterpret_steal<py::object>(
      PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), nullptr));
  if (!value) throw py::error_already_set();
  if (PyDict_SetItemString(d.ptr(), key, value.ptr()) != 0) throw py::error_already_set();
}

class CallbackChannel final : public Channel {
 public:
  // `concurrency` > 1 only when the shop asks: the calls then interleave under the GIL.
  CallbackChannel(py::function fn, int concurrency) : fn_(std::move(fn)), concurrency_(concurrency) {}
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
      SetText(d, "message_id", m.message_id);
      SetText(d, "channel", m.channel);
      SetText(d, "to", m.to);
      SetText(d, "to_name", m.to_name);
      SetText(d, "subject", m.subject);
      SetText(d, "text", m.text);
      SetText(d, "html", m.html);
      py::list headers(m.headers.size());
      for (size_t i = 0; i < m.headers.size(); ++i)
        headers[i] = py::make_tuple(m.headers[i].first, m.headers[i].second);
      d["headers"] = headers;
      // The message's own time (the engine's clock when it was sent), for the shop's Date
      // header: an aware UTC datetime and the same instant in milliseconds.
      d["date_ms"] = m.date_ms;
      d["date"] = UtcDatetime(m.date_ms);
      d["data"] = m.data_json.empty() ? py::object(py::none()) : Types().json_loads(m.data_json);
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
  int Concurrency() const override { return concurrency_; }

 private:
  py::function fn_;
  int concurrency_;
};

}  // namespace

void init_channels(py::module_& m) {
  py::class_<Channel, std::shared_ptr<Channel>>(m, "Channel")
      .def("describe", &Channel::Describe)
      .def("concurrency", &Channel::Concurrency)
      .def("__repr__", [](const Channel& c) { return "<Channel " + c.Describe() + ">"; });

  m.def(
      "smtp_channel",
      [](const std::string& host, int port, const std::string& username,
         const std::string& password, bool starttls, bool ssl, bool verify_certificate,
         const std::string& sender, const std::string& reply_to, double timeout,
         int connections) {
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
        s.connections = connections;
        return std::shared_ptr<Channel>(MakeSmtpChannel(s));
      },
      py::arg("host"), py::arg("port"), py::arg("username"), py::arg("password"),
      py::arg("starttls"), py::arg("ssl"), py::arg("verify_certificate"), py::arg("sender"),
      py::arg("reply_to"), py::arg("timeout"), py::arg("connections") = 4);
  m.def(
      "sms_channel",
      [](const std::string& url, const std::string& method, const std::string& auth,
         const std::string& username, const std::string& password, const std::string& token,
         const std::vector<std::pair<std::string, std::string>>& headers,
         const std::string& body_format, const std::vector<std::pair<std::string, std::string>>& body,
         const std::string& from, int max_segments, double timeout, bool verify_certificate,
         const std::string& ca_file, int connections) {
        SmsSettings s;
        s.url = url;
        s.method = method;
        if (auth == "basic") s.auth = SmsSettings::Auth::kBasic;
        else if (auth == "bearer") s.auth = SmsSettings::Auth::kBearer;
        else if (auth != "none") throw ConfigError("auth", "'" + auth + "' is not none, basic or bearer");
        s.username = username;
        s.password = password;
        s.token = token;
        s.headers = headers;
        if (body_format == "json") s.body_format = SmsSettings::BodyFormat::kJson;
        else if (body_format != "form") throw ConfigError("body_format", "'" + body_format + "' is not form or json");
        if (!body.empty()) s.body = body;
        s.from = from;
        s.max_segments = max_segments;
        s.timeout_ms = static_cast<int>(timeout * 1000);
        s.verify_certificate = verify_certificate;
        s.ca_file = ca_file;
        s.connections = connections;
        return std::shared_ptr<Channel>(MakeSmsChannel(s));
      },
      py::arg("url"), py::arg("method"), py::arg("auth"), py::arg("username"),
      py::arg("password"), py::arg("token"), py::arg("headers"), py::arg("body_format"),
      py::arg("body"), py::arg("sender"), py::arg("max_segments"), py::arg("timeout"),
      py::arg("verify_certificate"), py::arg("ca_file"), py::arg("connections") = 4);
  m.def(
      "twilio_sms_channel",
      [](const std::string& sid, const std::string& token, const std::string& from,
         const std::string& base_url, double timeout, bool verify_certificate,
         const std::string& ca_file, int connections) {
        SmsSettings s = TwilioSms(sid, token, from, base_url);
        s.timeout_ms = static_cast<int>(timeout * 1000);
        s.verify_certificate = verify_certificate;
        s.ca_file = ca_file;
        s.connections = connections;
        return std::shared_ptr<Channel>(MakeSmsChannel(s));
      },
      py::arg("account_sid"), py::arg("auth_token"), py::arg("sender"), py::arg("base_url"),
      py::arg("timeout"), py::arg("verify_certificate"), py::arg("ca_file"),
      py::arg("connections") = 4);
  m.def(
      "webhook_channel",
      [](const std::string& url, const std::string& secret,
         const std::vector<std::pair<std::string, std::string>>& headers, double timeout,
         bool verify_certificate, const std::string& ca_file, int connections) {
        WebhookSettings s;
        s.url = url;
        s.secret = secret;
        s.headers = headers;
        s.timeout_ms = static_cast<int>(timeout * 1000);
        s.verify_certificate = verify_certificate;
        s.ca_file = ca_file;
        s.connections = connections;
        return std::shared_ptr<Channel>(MakeWebhookChannel(s));
      },
      py::arg("url"), py::arg("secret"), py::arg("headers"), py::arg("timeout"),
      py::arg("verify_certificate"), py::arg("ca_file"), py::arg("connections") = 4);
  m.def(
      "push_channel",
      [](const std::string& vapid_private_key, const std::string& vapid_subject, int ttl,
         const std::string& urgency, const std::string& topic, double timeout,
         bool verify_certificate, const std::string& ca_file) {
        PushSettings s;
        s.vapid_private_key = vapid_private_key;
        s.vapid_subject = vapid_subject;
        s.ttl_seconds = ttl;
        s.urgency = urgency;
        s.topic = topic;
        s.timeout_ms = static_cast<int>(timeout * 1000);
        s.verify_certificate = verify_certificate;
        s.ca_file = ca_file;
        return std::shared_ptr<Channel>(MakePushChannel(s));
      },
      py::arg("vapid_private_key"), py::arg("vapid_subject"), py::arg("ttl"),
      py::arg("urgency"), py::arg("topic"), py::arg("timeout"), py::arg("verify_certificate"),
      py::arg("ca_file"));
  m.def(
      "sms_info",
      [](const std::string& text) {
        SmsInfo info = DescribeSms(text);
        py::dict d;
        d["encoding"] = SmsEncodingName(info.encoding);
        d["units"] = info.units;
        d["segments"] = info.segments;
        d["chars"] = info.chars;
        return d;
      },
      py::arg("text"), "How a text travels as SMS: encoding gsm7|ucs2, units, segments.");
  m.def(
      "generate_vapid_keys",
      [] {
        VapidKeys k = GenerateVapidKeys();
        return py::make_tuple(k.private_b64url, k.public_b64url);
      },
      "A new VAPID key pair (private, public), base64url.");
  m.def("vapid_public_key", &VapidPublicKey, py::arg("private_key"));
  m.def(
      "encrypt_web_push",
      [](const std::string& plaintext, const std::string& p256dh, const std::string& auth) {
        return py::bytes(EncryptWebPush(plaintext, p256dh, auth));
      },
      py::arg("plaintext"), py::arg("p256dh"), py::arg("auth"));
  m.def(
      "verify_webhook_signature",
      [](const std::string& secret, const std::string& header, const py::bytes& body,
         int64_t now_seconds, int64_t tolerance) {
        return VerifyWebhookSignature(secret, header, std::string(body), now_seconds, tolerance);
      },
      py::arg("secret"), py::arg("header"), py::arg("body"), py::arg("now_seconds"),
      py::arg("tolerance_seconds") = 300);
  m.def(
      "outbox_channel",
      [](const std::string& directory) { return std::shared_ptr<Channel>(MakeOutboxChannel(directory)); },
      py::arg("directory"));
  m.def(
      "callback_channel",
      [](py::function fn, int concurrency) {
        if (concurrency < 1 || concurrency > kMaxSmtpConnections)
          throw ConfigError("concurrency", "must be 1.." + std::to_string(kMaxSmtpConnections));
        return std::shared_ptr<Channel>(std::make_shared<CallbackChannel>(std::move(fn), concurrency));
      },
      py::arg("fn"), py::arg("concurrency") = 1);
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
        // Channel._send always fills date_ms (from `date` or the wall clock): a message
        // without one would be dated 1970.
        if (!message.contains("date_ms") || message["date_ms"].is_none())
          throw InvalidArgument("date_ms", "is required (milliseconds since the epoch)");
        out.date_ms = message["date_ms"].cast<int64_t>();
        if (out.date_ms <= 0) throw InvalidArgument("date_ms", "must be after 1970");
        py::gil_scoped_release release;
        channel.Send(out);
        channel.Close();
      },
      py::arg("channel"), py::arg("message"), "Sends one message now (for a test message).");
}

}  // namespace bindings
}  // namespace cartrecovery
