#include "cartrecovery/status.h"

namespace cartrecovery {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kConfig: return "config";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kStorage: return "storage";
    case ErrorCode::kQueueFull: return "queue_full";
    case ErrorCode::kTransientDelivery: return "transient_delivery";
    case ErrorCode::kPermanentDelivery: return "permanent_delivery";
    case ErrorCode::kAccountDelivery: return "account_delivery";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

Error InvalidArgument(const std::string& field, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, field.empty() ? what : field + ": " + what, field);
}

Error ConfigError(const std::string& path, const std::string& what) {
  return Error(ErrorCode::kConfig, path.empty() ? what : path + ": " + what, path);
}

}  // namespace cartrecovery
