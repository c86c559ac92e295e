// csv_codes.cpp: the streaming CSV reader for coupon imports (R4.2).
//
// One pass, one byte at a time through a 64 KiB buffer; of each record only the field count
// and the code column are kept, so a file of any size is read in bounded memory apart from
// the set of codes seen (needed to skip duplicates).
#include "cartrecovery/offer.h"

#include <limits>

#include "cartrecovery/status.h"
#include "cartrecovery/text.h"

namespace cartrecovery {

namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr size_t kHeaderFieldCap = 256;   // header names longer than this are cut
constexpr size_t kHeaderFieldsCap = 4096; // a "header" with more fields is not one
constexpr size_t kNoColumn = std::numeric_limits<size_t>::max();
// Excel's plain "CSV" is Windows-1252 (a 0xE9 for e-acute): say so instead of a
// puzzling "invalid characters".
constexpr const char* kNotUtf8Hint =
    "not UTF-8 text (a Windows-1252 file, e.g. Excel's plain 'CSV'? save it as 'CSV UTF-8')";

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

}  // namespace

struct CsvCodeReader::Record {
  int64_t line = 0;
  size_t fields = 0;
  std::string code;  // raw text of column_, capped
  bool code_too_long = false;
  std::vector<std::string>* all = nullptr;  // the header: every field, capped
  const char* problem = nullptr;            // "unterminated_quote", "bad_quote"
  bool blank = false;
};

int CsvCodeReader::Peek() {
  if (pos_ == buf_.size()) {
    if (at_end_) return -1;
    buf_.resize(kChunk);
    in_.read(&buf_[0], static_cast<std::streamsize>(kChunk));
    if (in_.bad()) throw Error(ErrorCode::kStorage, "csv: read failed");
    buf_.resize(static_cast<size_t>(in_.gcount()));
    pos_ = 0;
    if (buf_.empty()) {
      at_end_ = true;
      return -1;
    }
  }
  return static_cast<unsigned char>(buf_[pos_]);
}

int CsvCodeReader::Get() {
  const int c = Peek();
  if (c >= 0) {
    ++pos_;
    ++bytes_read_;
  }
  return c;
}

CsvCodeReader::CsvCodeReader(std::istream& in, CsvImportOptions options)
    : in_(in), options_(std::move(options)) {
  if (options_.progress_every_bytes == 0) options_.progress_every_bytes = 1;
  next_progress_ = options_.progress_every_bytes;
  if (!options_.column_name.empty() && !options_.has_header) {
    throw InvalidArgument("csv", "a column chosen by name needs a header row");
  }
  if (options_.column_name.empty() && options_.column_index < 0) {
    throw InvalidArgument("column", "index must be >= 0");
  }
  // Excel writes a UTF-8 byte-order mark; it is not part of the first field.
  if (Peek() == 0xEF && buf_.size() >= 3 && buf_.compare(0, 3, "\xEF\xBB\xBF") == 0) {
    pos_ = 3;
    bytes_read_ = 3;
  }
  if (!options_.has_header) {
    column_ = static_cast<size_t>(options_.column_index);
    return;
  }
  column_ = kNoColumn;
  Record r;
  r.all = &header_;
  do {
    header_.clear();
    if (!ReadRecord(&r)) throw InvalidArgument("csv", "the input is empty: no header row");
  } while (r.blank);
  if (r.problem) throw InvalidArgument("csv", std::string("header row: ") + r.problem);
  for (const auto& name : header_)
    if (!IsValidUtf8(name)) throw InvalidArgument("csv", std::string("header row: ") + kNotUtf8Hint);
  expected_columns_ = r.fields;
  if (!options_.column_name.empty()) {
    const std::string want = Lower(Trim(options_.column_name));
    for (size_t i = 0; i < header_.size(); ++i) {
      if (Lower(Trim(header_[i])) == want) {
        column_ = i;
        break;
      }
    }
    if (column_ == kNoColumn) {
      std::string names;
      for (size_t i = 0; i < header_.size() && i < 20; ++i) {
        names += (i ? ", " : "") + Trim(header_[i]);
      }
      throw InvalidArgument("column", "no column named '" + QuoteForError(Trim(options_.column_name)) +
                                          "' in the header (" + QuoteForError(names, 400) + ")");
    }
  } else {
    column_ = static_cast<size_t>(options_.column_index);
    if (column_ >= expected_columns_) {
      throw InvalidArgument("column", "index " + std::to_string(column_) + " but the header has " +
                                          std::to_string(expected_columns_) + " columns");
    }
  }
}

bool CsvCodeReader::ReadRecord(Record* r) {
  r->fields = 0;
  r->code.clear();
  r->code_too_long = false;
  r->problem = nullptr;
  r->blank = false;
  int c = Get();
  if (c < 0) return false;
  r->line = line_;
  // Ends a line: CRLF, LF or a lone CR. `c` has been consumed.
  auto is_line_end = [this](int ch) {
    if (ch == '\n') return true;
    if (ch == '\r') {
      if (Peek() == '\n') Get();
      return true;
    }
    return false;
  };
  if (is_line_end(c)) {
    ++line_;
    r->blank = true;
    return true;
  }
  const size_t cap = 2 * options_.max_code_length + 64;
  size_t field = 0;
  if (r->all) r->all->emplace_back();
  auto append = [&](char ch) {
    if (field == column_) {
      if (r->code.size() < cap) {
        r->code.push_back(ch);
      } else {
        r->code_too_long = true;
      }
    }
    if (r->all && r->all->back().size() < kHeaderFieldCap) r->all->back().push_back(ch);
  };
  auto next_field = [&] {
    ++field;
    if (r->all && r->all->size() < kHeaderFieldsCap) r->all->emplace_back();
  };
  enum { kStart, kUnquoted, kQuoted, kQuoteSeen } state = kStart;
  for (;; c = Get()) {
    if (c < 0) {
      if (state == kQuoted) r->problem = "unterminated_quote";
      break;
    }
    const char ch = static_cast<char>(c);
    if (state == kQuoted) {
      if (ch == '"') {
        state = kQuoteSeen;
      } else {
        // Line breaks inside quotes belong to the field but still count as lines.
        if (ch == '\n' || (ch == '\r' && Peek() != '\n')) ++line_;
        append(ch);
      }
      continue;
    }
    if (state == kStart && ch == '"') {
      state = kQuoted;
      continue;
    }
    if (state == kQuoteSeen && ch == '"') {  // "" inside quotes
      append('"');
      state = kQuoted;
      continue;
    }
    if (ch == options_.delimiter) {
      next_field();
      state = kStart;
      continue;
    }
    if (is_line_end(c)) {
      ++line_;
      break;
    }
    // Text after a closing quote ("ab"c): not RFC 4180. Keep reading to the end of the
    // record so the next one starts in the right place, and refuse this one.
    if (state == kQuoteSeen) r->problem = "bad_quote";
    append(ch);
    state = kUnquoted;
  }
  r->fields = field + 1;
  return true;
}

void CsvCodeReader::AddBad(int64_t line, const char* reason, std::string detail) {
  ++bad_row_count_;
  if (bad_rows_.size() < options_.max_bad_rows_kept) {
    bad_rows_.push_back(CsvBadRow{line, reason, std::move(detail)});
  }
}

void CsvCodeReader::Progress(bool final) {
  if (!options_.on_progress) return;
  if (final) {
    if (final_progress_sent_) return;
    final_progress_sent_ = true;
    options_.on_progress(bytes_read_);
    return;
  }
  if (bytes_read_ >= next_progress_) {
    next_progress_ = bytes_read_ + options_.progress_every_bytes;
    options_.on_progress(bytes_read_);
  }
}

bool CsvCodeReader::Next(CsvCode* out) {
  Record r;
  for (;;) {
    if (!ReadRecord(&r)) {
      Progress(true);
      return false;
    }
    Progress(false);
    if (r.blank) continue;
    if (r.problem) {
      AddBad(r.line, r.problem,
             r.problem[0] == 'u' ? "a quoted field is never closed" : "text after a closing quote");
      continue;
    }
    if (expected_columns_ == 0) expected_columns_ = r.fields;  // no header: the first record
    if (r.fields != expected_columns_ || column_ >= r.fields) {
      AddBad(r.line, "wrong_column_count",
             std::to_string(r.fields) + " columns, expected " + std::to_string(expected_columns_));
      continue;
    }
    if (r.code_too_long) {
      AddBad(r.line, "too_long", "longer than " + std::to_string(options_.max_code_length));
      continue;
    }
    if (!IsValidUtf8(r.code)) {
      AddBad(r.line, "not_utf8", kNotUtf8Hint);
      continue;
    }
    std::string code = NormalizeCouponCode(r.code);
    if (const char* why = CouponCodeProblem(code, options_.max_code_length)) {
      std::string detail;
      if (why[0] == 't') detail = std::to_string(code.size()) + " characters, at most " +
                                  std::to_string(options_.max_code_length);
      if (why[0] == 'i') detail = "only A-Z and 0-9 are allowed";
      AddBad(r.line, why, std::move(detail));
      continue;
    }
    if (!seen_.insert(code).second) {
      ++duplicates_;
      continue;
    }
    ++codes_;
    // S10: the shopper gets the code as the shop wrote it; only comparing uses `code`.
    size_t first = r.code.find_first_not_of(" \t\r\n");
    size_t last = r.code.find_last_not_of(" \t\r\n");
    out->shown = first == std::string::npos ? std::string() : r.code.substr(first, last - first + 1);
    out->code = std::move(code);
    out->line = r.line;
    return true;
  }
}

}  // namespace cartrecovery
