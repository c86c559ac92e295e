// template_set.cpp: templates keyed by (name, channel, language); the shipped ones, shop
// files laid over them, and the choice of one for a shopper (R3.5).
//
// Everything a shop file can get wrong (its name, an unknown merge tag, a broken section)
// is found in ParseTemplates, before the first reminder goes out, and names the file and
// line; so Render never meets a broken template at 3 a.m. in the worker.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "cartrecovery/render.h"
#include "cartrecovery/status.h"
#include "render/render_internal.h"

namespace cartrecovery {
namespace render_internal {
namespace {

constexpr const char* kFileSuffix = ".mustache";
constexpr const char* kFilePattern =
    "expected <name>.<channel>.<language>.<part>.mustache, e.g. "
    "visitor_1.email.de.subject.mustache";
constexpr size_t kMaxFileBytes = 1 << 20;  // a template is a page of text, not a data file

// The merge tags the playbooks use, and what each becomes; one table for expanding them and
// for telling a typo ("*|FRIST_NAME|*") from a tag.
const struct {
  const char* tag;
  const char* variable;
} kMergeTags[] = {
    {"*|FIRST_NAME|*", "{{first_name}}"},
    {"*|CART_URL|*", "{{cart_url}}"},
    {"*|UNSUBSCRIBE_URL|*", "{{unsubscribe_url}}"},
    {"*|COUPON|*", "{{coupon}}"},
    {"*|SHOP_NAME|*", "{{shop.name}}"},
};

bool IsTagChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool IsNameChar(char c) { return IsTagChar(c) || c == '-'; }

bool IsChannelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

template <typename Pred>
bool AllOf(const std::string& s, Pred pred) {
  return !s.empty() && std::all_of(s.begin(), s.end(), pred);
}

// "de", "de-at", "zh-hant-tw": 2-3 letters, then subtags of 1-8 letters or digits.
bool IsLanguageTag(const std::string& tag) {
  std::vector<std::string> subtags;
  std::stringstream in(tag);
  for (std::string sub; std::getline(in, sub, '-');) subtags.push_back(sub);
  if (subtags.empty() || tag.back() == '-') return false;
  const std::string& primary = subtags.front();
  if (primary.size() < 2 || primary.size() > 3 ||
      !AllOf(primary, [](char c) { return c >= 'a' && c <= 'z'; }))
    return false;
  for (size_t i = 1; i < subtags.size(); ++i) {
    if (subtags[i].size() > 8 ||
        !AllOf(subtags[i], [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }))
      return false;
  }
  return true;
}

std::string PrimaryLanguage(const std::string& tag) { return tag.substr(0, tag.find('-')); }


std::shared_ptr<const TemplateData> BuildShippedData() {
  auto data = std::make_shared<TemplateData>();
  for (const LanguagePack* pack : ShippedPacks()) {
    const std::string lang = pack->language;
    for (size_t i = 0; i < pack->template_count; ++i) {
      const TemplateSource& s = pack->templates[i];
      const std::string prefix = std::string(s.name) + ".email." + lang + ".";
      StoredTemplate& t = data->templates[{s.name, "email", lang}];
      t.parts[kSubject] = StoredPart{ExpandMergeTags(s.subject), prefix + "subject"};
      t.parts[kText] = StoredPart{ExpandMergeTags(AssembleText(s.text_body)), prefix + "text"};
      t.parts[kHtml] = StoredPart{ExpandMergeTags(AssembleHtml(s.html_body)), prefix + "html"};
    }
    data->templates[{"reminder", "short", lang}].parts[kText] =
        StoredPart{ExpandMergeTags(pack->short_text), "reminder.short." + lang + ".text"};
  }
  AddBodyDictionaries(*data);
  return data;
}

// One shop file's name, taken apart.
struct FileKey {
  std::string name, channel, language;
  Part part;
};

FileKey ParseFileName(const std::string& file) {
  auto bad = [&](const std::string& why) -> Error {
    return ConfigError(file, "bad file name: " + why + " (" + kFilePattern + ")");
  };
  const std::string suffix = kFileSuffix;
  if (file.size() <= suffix.size() ||
      file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0)
    throw bad("it does not end in .mustache");
  std::vector<std::string> pieces;
  std::stringstream in(file.substr(0, file.size() - suffix.size()));
  for (std::string piece; std::getline(in, piece, '.');) pieces.push_back(piece);
  if (pieces.size() != 4) throw bad("it has " + std::to_string(pieces.size()) + " parts before .mustache, not 4");
  FileKey key;
  key.name = pieces[0];
  key.channel = pieces[1];
  key.language = NormalizeLanguage(pieces[2]);
  if (!AllOf(key.name, IsNameChar))
    throw bad("template name '" + key.name + "' may hold only letters, digits, '_' and '-'");
  if (!AllOf(key.channel, IsChannelChar))
    throw bad("channel '" + key.channel + "' may hold only a-z, digits, '_' and '-'");
  if (!IsLanguageTag(key.language)) throw bad("'" + pieces[2] + "' is not a language tag like de or de-AT");
  const std::string& part = pieces[3];
  if (part == "subject") key.part = kSubject;
  else if (part == "text") key.part = kText;
  else if (part == "html") key.part = kHtml;
  else throw bad("part '" + part + "' is not subject, text or html");
  if (key.channel != "email" && key.part != kText)
    throw ConfigError(file, "channel '" + key.channel + "' has only a text part (" + part +
                                " is for e-mail): use " + key.name + "." + key.channel + "." +
                                pieces[2] + ".text.mustache");
  return key;
}

std::string StripBom(const std::string& s) {
  return s.compare(0, 3, "\xEF\xBB\xBF") == 0 ? s.substr(3) : s;
}

}  // namespace

void AddBodyDictionaries(TemplateData& data) {
  for (auto& [key, t] : data.templates) {
    t.body_dictionary = nullptr;
    if (!t.parts[kText] || !t.parts[kHtml]) continue;
    t.body_dictionary = std::make_shared<const std::string>(t.parts[kText]->tmpl + t.parts[kHtml]->tmpl);
  }
}

const char* PartName(Part part) {
  switch (part) {
    case kSubject: return "subject";
    case kText: return "text";
    case kHtml: return "html";
  }
  return "?";
}

std::string NormalizeLanguage(const std::string& tag) {
  size_t b = tag.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = tag.find_last_not_of(" \t\r\n");
  std::string out = tag.substr(b, e - b + 1);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c == '_') c = '-';
  }
  return out;
}

std::string ExpandMergeTags(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = text.find("*|", pos);
    if (start == std::string::npos) break;
    out.append(text, pos, start - pos);
    bool replaced = false;
    for (const auto& t : kMergeTags) {
      if (text.compare(start, std::char_traits<char>::length(t.tag), t.tag) == 0) {
        out += t.variable;
        pos = start + std::char_traits<char>::length(t.tag);
        replaced = true;
        break;
      }
    }
    if (!replaced) {
      out += "*|";
      pos = start + 2;
    }
  }
  out.append(text, pos, std::string::npos);
  return out;
}

std::optional<UnknownMergeTag> FindUnknownMergeTag(const std::string& text) {
  for (size_t start = text.find("*|"); start != std::string::npos;
       start = text.find("*|", start + 2)) {
    size_t end = start + 2;
    while (end < text.size() && IsTagChar(text[end])) ++end;
    if (end == start + 2 || text.compare(end, 2, "|*") != 0) continue;  // not tag-shaped
    std::string tag = text.substr(start, end + 2 - start);
    bool known = false;
    for (const auto& t : kMergeTags) known = known || tag == t.tag;
    if (!known) {
      int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + start, '\n'));
      return UnknownMergeTag{tag, line};
    }
  }
  return std::nullopt;
}

const std::shared_ptr<const TemplateData>& ShippedData() {
  static const std::shared_ptr<const TemplateData> kData = BuildShippedData();
  return kData;
}

TemplateSet TemplateSetAccess::Make(std::shared_ptr<const TemplateData> data) {
  TemplateSet set;
  set.data_ = std::move(data);
  return set;
}

const StoredTemplate* ResolveTemplate(const TemplateData& data, const std::string& name,
                                      const std::string& channel,
                                      const std::string& shopper_language,
                                      const std::string& default_language,
                                      std::string* language) {
  auto find = [&](const std::string& n, const std::string& ch,
                  const std::string& lang) -> const StoredTemplate* {
    auto it = data.templates.find(TemplateKey{n, ch, lang});
    if (it == data.templates.end()) return nullptr;
    *language = lang;
    return &it->second;
  };
  const bool email = channel == "email";
  // Language first, then channel: a German text in the generic form beats an English one
  // written for the step, because the shopper has to understand it.
  for (const std::string& lang : LanguageFallbacks(shopper_language, default_language)) {
    if (const StoredTemplate* t = find(name, channel, lang)) return t;
    if (email) continue;
    if (const StoredTemplate* t = find(name, "short", lang)) return t;
    if (const StoredTemplate* t = find("reminder", "short", lang)) return t;
  }
  // A shop-added template that exists only in other languages: a reminder in some language
  // beats none. The lowest language key keeps the choice stable.
  for (auto it = data.templates.lower_bound(TemplateKey{name, channel, ""});
       it != data.templates.end() && std::get<0>(it->first) == name &&
       std::get<1>(it->first) == channel;
       ++it) {
    *language = std::get<2>(it->first);
    return &it->second;
  }
  return nullptr;
}

}  // namespace render_internal

using render_internal::Part;
using render_internal::StoredPart;
using render_internal::TemplateData;
using render_internal::TemplateKey;

TemplateSet::TemplateSet() : data_(render_internal::ShippedData()) {}

std::vector<std::string> TemplateSet::Names() const {
  std::vector<std::string> names;
  for (const auto& entry : data_->templates) {
    const std::string& name = std::get<0>(entry.first);
    if (names.empty() || names.back() != name) names.push_back(name);  // the map is sorted
  }
  return names;
}

bool TemplateSet::Contains(const std::string& name) const {
  auto it = data_->templates.lower_bound(TemplateKey{name, "", ""});
  return it != data_->templates.end() && std::get<0>(it->first) == name;
}

bool TemplateSet::CanRender(const std::string& name, const std::string& channel) const {
  std::string unused;
  return Contains(name) &&
         render_internal::ResolveTemplate(*data_, name, channel, "", "en", &unused) != nullptr;
}

std::vector<std::string> TemplateSet::Languages() const {
  std::set<std::string> languages;
  for (const auto& entry : data_->templates) languages.insert(std::get<2>(entry.first));
  return {languages.begin(), languages.end()};
}

std::string TemplateSet::ResolveLanguage(const std::string& name, const std::string& channel,
                                         const std::string& language,
                                         const std::string& default_language) const {
  if (!Contains(name)) throw ConfigError("template " + name, "unknown template");
  std::string chosen;
  if (!render_internal::ResolveTemplate(*data_, name, channel, language, default_language,
                                        &chosen))
    throw ConfigError("template " + name, "has no template for channel '" + channel + "'");
  return chosen;
}

std::vector<std::string> LanguageFallbacks(const std::string& language,
                                           const std::string& default_language) {
  std::vector<std::string> out;
  auto add = [&](const std::string& tag) {
    if (!tag.empty() && std::find(out.begin(), out.end(), tag) == out.end()) out.push_back(tag);
  };
  for (const std::string& raw : {language, default_language}) {
    const std::string tag = render_internal::NormalizeLanguage(raw);
    add(tag);
    add(render_internal::PrimaryLanguage(tag));
  }
  add("en");
  return out;
}

TemplateSet ParseTemplates(const std::map<std::string, std::string>& files) {
  auto data = std::make_shared<TemplateData>(*render_internal::ShippedData());
  std::map<TemplateKey, std::string> touched;  // e-mail keys the shop wrote -> first file
  std::map<std::pair<TemplateKey, int>, std::string> seen;  // (key, part) -> file
  for (const auto& [file, raw_contents] : files) {  // sorted: the same error every time
    const render_internal::FileKey key = render_internal::ParseFileName(file);
    const TemplateKey tkey{key.name, key.channel, key.language};
    auto [it, fresh] = seen.emplace(std::make_pair(tkey, static_cast<int>(key.part)), file);
    if (!fresh)
      throw ConfigError(file, "the same template part as " + it->second +
                                  " (language tags match case-insensitively)");
    const std::string contents = render_internal::StripBom(raw_contents);
    if (auto unknown = render_internal::FindUnknownMergeTag(contents)) {
      throw ConfigError(file + ":" + std::to_string(unknown->line),
                        "unknown merge tag " + unknown->tag +
                            " (known: *|FIRST_NAME|*, *|COUPON|*, *|CART_URL|*, "
                            "*|UNSUBSCRIBE_URL|*, *|SHOP_NAME|*)");
    }
    std::string expanded = render_internal::ExpandMergeTags(contents);
    render_internal::CheckMustache(expanded, file);  // merge tags keep the line numbers
    data->templates[tkey].parts[key.part] = StoredPart{std::move(expanded), file};
    if (key.channel == "email") touched.emplace(tkey, file);
  }
  // A shop-added e-mail template (or a language the shipped one lacks) must be whole; a
  // shipped one is whole already, so overriding one part of it is fine.
  for (const auto& [tkey, first_file] : touched) {
    const render_internal::StoredTemplate& t = data->templates.at(tkey);
    for (int p = 0; p < render_internal::kPartCount; ++p) {
      if (t.parts[p]) continue;
      const auto& [name, channel, language] = tkey;
      const std::string missing = name + "." + channel + "." + language + "." +
                                  render_internal::PartName(static_cast<Part>(p)) + ".mustache";
      throw ConfigError(missing, "missing: " + first_file + " starts the e-mail template '" +
                                     name + "' in '" + language +
                                     "', which needs a subject, a text and an html part");
    }
  }
  render_internal::AddBodyDictionaries(*data);
  return render_internal::TemplateSetAccess::Make(std::move(data));
}

TemplateSet LoadTemplates(const std::string& directory) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(directory, ec);
  if (ec) throw ConfigError(directory, "cannot list the template directory: " + ec.message());
  std::map<std::string, std::string> files;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) throw ConfigError(directory, "cannot list the template directory: " + ec.message());
    const std::string file = it->path().filename().string();
    if (file.empty() || file[0] == '.') continue;  // editors' swap files, .gitkeep
    const fs::file_status status = it->status(ec);  // follows links
    if (ec || status.type() == fs::file_type::not_found)
      throw ConfigError(file, "cannot read " + it->path().string() + ": it does not exist" +
                                  " (a broken link?)");
    if (status.type() != fs::file_type::regular)
      throw ConfigError(file, "cannot read " + it->path().string() +
                                  ": not a regular file (subdirectories are not read)");
    const auto size = it->file_size(ec);
    if (!ec && size > render_internal::kMaxFileBytes)
      throw ConfigError(file, "larger than 1 MiB; is this a template?");
    std::ifstream in(it->path(), std::ios::binary);
    if (!in) throw ConfigError(file, "cannot read " + it->path().string());
    std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw ConfigError(file, "cannot read " + it->path().string());
    files.emplace(file, std::move(contents));
  }
  return ParseTemplates(files);
}

}  // namespace cartrecovery
