// worker_config.h: the settings of `cartrecovery worker` (and `status`) when it runs as a
// service, read through Poco Util's LayeredConfiguration, built in code (DESIGN "Poco stays
// a library": no Application singleton). Layers, the first that has a key wins:
//   1. the command line: "key=value" overrides (`--set key=value`)
//   2. the environment: CARTRECOVERY_<KEY> (upper case), e.g. CARTRECOVERY_SHOP_NAME
//   3. the configuration file: a .properties file ("key = value") or an .ini file, whose
//      [section] key is "section_key" ([smtp] host = ... is smtp_host)
//   4. defaults
// Keys are the Python settings' names (Engine(settings=...)) plus the service's own: store,
// flows, smtp_*. In a file a '.' in a key is the same as '_' (smtp.host == smtp_host).
//
// Errors: Error(kConfig) naming the key and where it came from, for an unknown key in the
// file or the command line, a value that is not of the key's kind, a file that cannot be
// read. Unknown CARTRECOVERY_* variables are ignored (other tools use that prefix too).
// Secret values (secret, smtp_password) never appear in a message.
// Thread-safety: a pure function of its arguments (it reads the file).
#ifndef CARTRECOVERY_WORKER_CONFIG_H_
#define CARTRECOVERY_WORKER_CONFIG_H_

#include <map>
#include <string>
#include <vector>

namespace cartrecovery {

enum class ConfigKind { kText, kInteger, kNumber, kJson, kSecret };

struct ConfigValue {
  ConfigKind kind = ConfigKind::kText;
  std::string text;    // as given (trimmed); for kInteger/kNumber checked to parse
  std::string origin;  // "default", "file <path>", "environment CARTRECOVERY_X", "command line"
};

struct WorkerConfigKey {
  std::string name;
  ConfigKind kind;
  std::string default_value;  // empty: no default (the key is absent unless given)
  std::string help;
};

// Every key the service understands, in a stable order.
const std::vector<WorkerConfigKey>& WorkerConfigKeys();

// Resolves every known key that has a value in some layer. `file`: empty for none.
// `environment`: name -> value (the caller passes the process environment, so tests can
// pass their own). `overrides`: "key=value" strings.
std::map<std::string, ConfigValue> LoadWorkerConfig(
    const std::string& file, const std::map<std::string, std::string>& environment,
    const std::vector<std::string>& overrides);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_WORKER_CONFIG_H_
