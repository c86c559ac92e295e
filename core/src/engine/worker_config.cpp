// The worker service's layered configuration (worker_config.h). Poco's configurations are
// built here and never leave this file; the caller gets plain strings checked by kind.
#include "cartrecovery/worker_config.h"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/AbstractConfiguration.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <Poco/Util/LayeredConfiguration.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/PropertyFileConfiguration.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>

#include "cartrecovery/status.h"

namespace cartrecovery {
namespace {

using Poco::AutoPtr;
using Poco::Util::AbstractConfiguration;
using Poco::Util::MapConfiguration;

// Lower priority numbers are searched first (Poco LayeredConfiguration).
constexpr int kCommandLinePriority = 0;
constexpr int kEnvironmentPriority = 10;
constexpr int kFilePriority = 20;
constexpr int kDefaultsPriority = 30;

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string Normalize(std::string key) {
  std::replace(key.begin(), key.end(), '.', '_');
  std::replace(key.begin(), key.end(), '-', '_');
  for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

const WorkerConfigKey* FindKey(const std::string& name) {
  for (const auto& k : WorkerConfigKeys())
    if (k.name == name) return &k;
  return nullptr;
}

std::string KnownKeys() {
  std::string out;
  for (const auto& k : WorkerConfigKeys()) out += (out.empty() ? "" : ", ") + k.name;
  return out;
}

// Every leaf key of a Poco configuration ("a.b" for a file's "a.b = v" or [a] b = v).
void Leaves(const AbstractConfiguration& config, const std::string& root,
            std::vector<std::string>& out) {
  AbstractConfiguration::Keys keys;
  config.keys(root, keys);
  for (const auto& k : keys) {
    std::string full = root.empty() ? k : root + "." + k;
    if (config.has(full)) out.push_back(full);
    Leaves(config, full, out);
  }
}

void CheckKind(const WorkerConfigKey& key, const std::string& text, const std::string& origin) {
  auto fail = [&](const std::string& why) {
    std::string shown = key.kind == ConfigKind::kSecret ? std::string() : " '" + text + "'";
    throw Error(ErrorCode::kConfig, key.name + " (" + origin + "):" + shown + " " + why, key.name);
  };
  if (key.kind == ConfigKind::kInteger) {
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE || v < 0)
      fail("is not a whole number >= 0");
  } else if (key.kind == ConfigKind::kNumber) {
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(v) || v < 0 || v > 1e10)
      fail("is not a number >= 0");
  }
}

}  // namespace

const std::vector<WorkerConfigKey>& WorkerConfigKeys() {
  using K = ConfigKind;
  static const std::vector<WorkerConfigKey> kKeys = {
      {"store", K::kText, "sqlite:///recovery.db", "the store URL"},
      {"flows", K::kText, "", "flow JSON files, comma-separated (none: the default flow)"},
      {"smtp_host", K::kText, "", "send e-mail through this SMTP server (none: the outbox)"},
      {"smtp_port", K::kInteger, "587", "the SMTP server's port"},
      {"smtp_security", K::kText, "starttls", "starttls, ssl or plain"},
      {"smtp_username", K::kText, "", "SMTP login"},
      {"smtp_password", K::kSecret, "", "SMTP password (better in CARTRECOVERY_SMTP_PASSWORD)"},
      {"smtp_sender", K::kText, "Our shop <shop@example.com>", "the From of reminders"},
      {"smtp_timeout_seconds", K::kNumber, "10", "SMTP connect and reply timeout"},
      {"smtp_connections", K::kInteger, "4", "SMTP sessions sending at once (1..64)"},
      {"shop_name", K::kText, "Our shop", ""},
      {"base_url", K::kText, "", "where the shop serves tracking links"},
      {"secret", K::kSecret, "", "signs tracking links"},
      {"timezone", K::kText, "", ""},
      {"currency", K::kText, "", ""},
      {"contact_email", K::kText, "", ""},
      {"contact_phone", K::kText, "", ""},
      {"chat_url", K::kText, "", ""},
      {"default_language", K::kText, "", ""},
      {"templates", K::kText, "", "the shop's template directory"},
      {"unsubscribe_mailto", K::kText, "", ""},
      {"outbox_directory", K::kText, "", ""},
      {"worker_id", K::kText, "", "default: host:pid"},
      {"queue_capacity", K::kInteger, "", ""},
      {"max_batch", K::kInteger, "", ""},
      {"lease_seconds", K::kNumber, "", ""},
      {"max_attempts", K::kInteger, "", ""},
      {"retry_base_seconds", K::kNumber, "", ""},
      {"attribution_window_seconds", K::kNumber, "", ""},
      {"worker_idle_seconds", K::kNumber, "", ""},
      {"link_ttl_seconds", K::kNumber, "", ""},
      {"policies", K::kJson, "", "JSON, as settings['policies']"},
      {"sales_alert", K::kJson, "", "JSON"},
      {"coupon_pools", K::kJson, "", "JSON"},
      {"exit_intent", K::kJson, "", "JSON"},
      // The worker decides reminder coupons: it must know the budget the web decides by.
      {"incentive", K::kJson, "", "JSON: the incentive budget, true or false"},
      {"retention_events_days", K::kNumber, "", "0: keep for ever"},
      {"retention_bodies_days", K::kNumber, "", ""},
      {"retention_carts_days", K::kNumber, "", ""},
      {"retention_offers_days", K::kNumber, "", ""},
      {"retention_reports_days", K::kNumber, "", ""},
      {"retention_batch", K::kInteger, "", "rows per kind per prune round"},
      {"render_threads", K::kInteger, "", "threads rendering ahead of the worker (default: spare cores, at most 2)"},
  };
  return kKeys;
}

std::map<std::string, ConfigValue> LoadWorkerConfig(
    const std::string& file, const std::map<std::string, std::string>& environment,
    const std::vector<std::string>& overrides) {
  AutoPtr<MapConfiguration> defaults(new MapConfiguration), from_file(new MapConfiguration),
      from_env(new MapConfiguration), from_cli(new MapConfiguration);
  for (const auto& k : WorkerConfigKeys())
    if (!k.default_value.empty()) defaults->setString(k.name, k.default_value);

  if (!file.empty()) {
    if (!std::ifstream(file).good())
      throw Error(ErrorCode::kConfig, "config file " + file + ": cannot be read", "config");
    AutoPtr<AbstractConfiguration> parsed;
    const bool ini = file.size() > 4 && file.compare(file.size() - 4, 4, ".ini") == 0;
    try {
      if (ini) parsed = new Poco::Util::IniFileConfiguration(file);
      else parsed = new Poco::Util::PropertyFileConfiguration(file);
    } catch (const Poco::Exception& e) {
      throw Error(ErrorCode::kConfig, "config file " + file + ": " + e.displayText(), "config");
    }
    std::vector<std::string> leaves;
    Leaves(*parsed, "", leaves);
    for (const auto& raw : leaves) {
      std::string key = Normalize(raw);
      if (!FindKey(key))
        throw Error(ErrorCode::kConfig,
                    "config file " + file + ": unknown key '" + raw + "' (known: " + KnownKeys() + ")",
                    key);
      from_file->setString(key, Trim(parsed->getRawString(raw)));
    }
  }
  for (const auto& [name, value] : environment) {
    if (name.rfind("CARTRECOVERY_", 0) != 0) continue;
    std::string key = Normalize(name.substr(13));
    if (FindKey(key)) from_env->setString(key, Trim(value));
  }
  for (const auto& item : overrides) {
    auto eq = item.find('=');
    std::string key = Normalize(Trim(item.substr(0, eq)));
    if (eq == std::string::npos || key.empty())
      throw Error(ErrorCode::kConfig, "--set: expected key=value, got '" + item.substr(0, 60) + "'",
                  "set");
    if (!FindKey(key))
      throw Error(ErrorCode::kConfig,
                  "--set: unknown key '" + key + "' (known: " + KnownKeys() + ")", key);
    from_cli->setString(key, Trim(item.substr(eq + 1)));
  }

  // Reference-counted, like every Poco configuration (its destructor is protected).
  AutoPtr<Poco::Util::LayeredConfiguration> layered(new Poco::Util::LayeredConfiguration);
  layered->add(AutoPtr<AbstractConfiguration>(from_cli), "command line", kCommandLinePriority, false);
  layered->add(AutoPtr<AbstractConfiguration>(from_env), "environment", kEnvironmentPriority, false);
  layered->add(AutoPtr<AbstractConfiguration>(from_file), "file", kFilePriority, false);
  layered->add(AutoPtr<AbstractConfiguration>(defaults), "defaults", kDefaultsPriority, false);

  std::map<std::string, ConfigValue> out;
  for (const auto& k : WorkerConfigKeys()) {
    if (!layered->has(k.name)) continue;
    ConfigValue v;
    v.kind = k.kind;
    // Raw: no ${...} expansion, so a password with "${" in it stays as written.
    v.text = layered->getRawString(k.name);
    if (from_cli->has(k.name)) v.origin = "command line";
    else if (from_env->has(k.name)) {
      std::string upper = k.name;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      v.origin = "environment CARTRECOVERY_" + upper;
    } else if (from_file->has(k.name)) v.origin = "file " + file;
    else v.origin = "default";
    CheckKind(k, v.text, v.origin);
    out[k.name] = std::move(v);
  }
  return out;
}

}  // namespace cartrecovery
