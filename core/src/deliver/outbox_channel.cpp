// outbox_channel.cpp: a development channel that only writes .eml files.
//
// The engine records every message itself, so with no directory this channel does nothing.
// Files appear atomically (written to a hidden temporary name, then renamed): a mail client
// or a test watching the directory never opens half a message.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>

#include "cartrecovery/delivery.h"
#include "cartrecovery/status.h"

namespace cartrecovery {
namespace {

namespace fs = std::filesystem;

const char kOutboxSender[] = "Outbox <outbox@localhost>";

class OutboxChannel final : public Channel {
 public:
  explicit OutboxChannel(std::string directory) : directory_(std::move(directory)) {}

  void Send(const OutgoingMessage& message) override {
    if (directory_.empty()) return;
    std::string text = BuildMimeMessage(message, kOutboxSender, "");
    // BuildMimeMessage accepts '/' in a message id (it is legal there); a file name is not.
    const std::string& id = message.message_id;
    if (id.find_first_of("/\\") != std::string::npos || id.front() == '.') {
      throw InvalidArgument("message_id", "cannot name a file: '" + id + "'");
    }
    static std::atomic<unsigned> counter{0};
    fs::path dir(directory_);
    fs::path target = dir / (id + ".eml");
    fs::path temp = dir / ("." + id + ".eml." + std::to_string(::getpid()) + "." +
                           std::to_string(counter++) + ".tmp");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) Fail("cannot create " + dir.string(), ec);
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      out.write(text.data(), static_cast<std::streamsize>(text.size()));
      out.close();
      if (!out) {
        fs::remove(temp, ec);
        throw Error(ErrorCode::kTransientDelivery, Describe() + ": cannot write " + temp.string());
      }
    }
    fs::rename(temp, target, ec);
    if (ec) {
      std::error_code ignored;
      fs::remove(temp, ignored);
      Fail("cannot rename to " + target.string(), ec);
    }
  }

  std::string Describe() const override {
    return directory_.empty() ? "outbox (no directory)" : "outbox " + directory_;
  }

 private:
  [[noreturn]] void Fail(const std::string& what, const std::error_code& ec) const {
    throw Error(ErrorCode::kTransientDelivery, Describe() + ": " + what + ": " + ec.message());
  }

  const std::string directory_;
};

}  // namespace

std::unique_ptr<Channel> MakeOutboxChannel(const std::string& directory) {
  return std::make_unique<OutboxChannel>(directory);
}

}  // namespace cartrecovery
