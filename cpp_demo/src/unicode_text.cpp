#include "unicode_text.hpp"

#include <array>
#include <cstdint>
#include <cstdio>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <unicode/uchar.h>
#include <unicode/uversion.h>
#include <unicode/utf8.h>

#include "errors.hpp"

namespace sentiment {
namespace {

// Reads the code point starting at text[i] (text is well-formed UTF-8) and moves i past it.
char32_t next_code_point(std::string_view text, std::size_t& i) {
  UChar32 c;
  U8_NEXT_UNSAFE(text.data(), i, c);
  return static_cast<char32_t>(c);
}

// Reads the code point ending just before text[i] and moves i to its start.
char32_t previous_code_point(std::string_view text, std::size_t& i) {
  UChar32 c;
  U8_PREV_UNSAFE(text.data(), i, c);
  return static_cast<char32_t>(c);
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// "14.0.0" -> {14, 0, 0}; parts that are missing or not numbers count as 0.
std::array<unsigned, 3> parse_version(const std::string& text) {
  std::array<unsigned, 3> parts{};
  std::sscanf(text.c_str(), "%u.%u.%u", &parts[0], &parts[1], &parts[2]);
  return parts;
}

// ICU may know a newer Unicode than PCRE2's tables (and the Python that wrote
// the spec); a character assigned after that version has no properties there.
bool known_to_python(char32_t c) {
  static const std::array<unsigned, 3> reproduced = parse_version(reproduced_unicode_version());
  UVersionInfo age;
  u_charAge(static_cast<UChar32>(c), age);
  return std::array<unsigned, 3>{age[0], age[1], age[2]} <= reproduced;
}

bool is_cased(char32_t c) {
  return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_CASED) && known_to_python(c);
}

bool is_case_ignorable(char32_t c) {
  return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_CASE_IGNORABLE) && known_to_python(c);
}

// CPython's handle_capital_sigma: the U+03A3 at text[start, end) lowers to
// final sigma when a cased letter precedes it and none follows it (skipping
// case-ignorable characters on both sides).
bool is_final_sigma(std::string_view text, std::size_t start, std::size_t end) {
  std::size_t j = start;
  bool cased_before = false;
  while (j > 0) {
    char32_t c = previous_code_point(text, j);
    if (!is_case_ignorable(c)) {
      cased_before = is_cased(c);
      break;
    }
  }
  if (!cased_before) {
    return false;
  }
  std::size_t k = end;
  while (k < text.size()) {
    char32_t c = next_code_point(text, k);
    if (!is_case_ignorable(c)) {
      return !is_cased(c);
    }
  }
  return true;
}

}  // namespace

std::string reproduced_unicode_version() {
  char version[32] = {};
  pcre2_config(PCRE2_CONFIG_UNICODE_VERSION, version);
  return version;
}

namespace {
// ICU reports both its own and its Unicode version through the same UVersionInfo shape.
std::string icu_version_string(void (*getter)(UVersionInfo)) {
  UVersionInfo version;
  getter(version);
  char text[U_MAX_VERSION_STRING_LENGTH];
  u_versionToString(version, text);
  return text;
}
}  // namespace

std::string icu_version() { return icu_version_string(u_getVersion); }

std::string icu_unicode_version() { return icu_version_string(u_getUnicodeVersion); }

void check_unicode_version(const std::string& version) {
  const std::string reproduced = reproduced_unicode_version();
  if (parse_version(version) != parse_version(reproduced)) {
    throw DemoError("spec.json: unicode_version " + version + " cannot be reproduced by this build, whose PCRE2 (" +
                    reproduced + " character tables) reproduces Unicode " + reproduced +
                    " only; re-export the artifact with a Python of Unicode " + reproduced +
                    " or build cpp_demo against a PCRE2 with Unicode " + version + " tables");
  }
  if (parse_version(icu_unicode_version()) < parse_version(reproduced)) {
    throw DemoError("spec.json: unicode_version " + version + " needs ICU with Unicode " + reproduced +
                    " or newer, this build's ICU " + icu_version() + " has Unicode " + icu_unicode_version() +
                    "; build cpp_demo against a newer ICU");
  }
}

std::string_view keep_code_points(std::string_view text, std::size_t count, bool from_end) {
  if (text.size() <= count) {
    return text;  // at most one code point per byte
  }
  std::size_t i = 0;
  if (from_end) {
    i = text.size();
    for (std::size_t kept = 0; kept < count && i > 0; ++kept) {
      previous_code_point(text, i);
    }
    return text.substr(i);
  }
  for (std::size_t kept = 0; kept < count && i < text.size(); ++kept) {
    next_code_point(text, i);
  }
  return text.substr(0, i);
}

std::optional<std::size_t> find_invalid_utf8(std::string_view text) {
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead == 0xE0) {
      length = 3, low = 0xA0;  // no overlong forms
    } else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
      length = 3;
    } else if (lead == 0xED) {
      length = 3, high = 0x9F;  // no surrogates
    } else if (lead == 0xF0) {
      length = 4, low = 0x90;
    } else if (lead >= 0xF1 && lead <= 0xF3) {
      length = 4;
    } else if (lead == 0xF4) {
      length = 4, high = 0x8F;  // nothing above U+10FFFF
    } else {
      return i;
    }
    if (i + length > n) {
      return i;
    }
    const auto second = static_cast<unsigned char>(text[i + 1]);
    if (second < low || second > high) {
      return i;
    }
    for (std::size_t k = 2; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if (next < 0x80 || next > 0xBF) {
        return i;
      }
    }
    i += length;
  }
  return std::nullopt;
}

std::string python_lower(std::string_view text) {
  // Character by character with ICU's simple mapping: for every code point
  // the full lower-case mapping equals the simple one except U+0130, and the
  // only context-dependent mapping is Final_Sigma, done here by CPython's rule
  // with Python's Unicode version (u_strToLower would use ICU's newer one).
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      out += static_cast<char>(byte >= 'A' && byte <= 'Z' ? byte + ('a' - 'A') : byte);
      ++i;
      continue;
    }
    const std::size_t start = i;
    const char32_t c = next_code_point(text, i);
    if (c == 0x0130) {
      out += "i\xCC\x87";  // LATIN CAPITAL LETTER I WITH DOT ABOVE -> i + COMBINING DOT ABOVE
    } else if (c == 0x03A3) {
      append_utf8(out, is_final_sigma(text, start, i) ? 0x03C2 : 0x03C3);
    } else {
      append_utf8(out, static_cast<char32_t>(u_tolower(static_cast<UChar32>(c))));
    }
  }
  return out;
}

bool is_python_space(char32_t c) {
  switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20:
    case 0x85: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

namespace {

// is_python_space's ASCII members, as bits: \t \n \v \f \r, U+001C..U+001F and the space.
constexpr uint64_t kAsciiSpaces = 0x3E00ULL | (0x1FULL << 0x1C);

// Without a branch (`&`, not `&&`): in text, spaces come every few bytes, too
// irregularly for branch prediction.
bool is_ascii_space(unsigned char byte) { return (((kAsciiSpaces >> (byte & 63)) & 1) & (byte < 64)) != 0; }

bool is_ascii(std::string_view text) {
  unsigned char any = 0;
  for (char c : text) {
    any |= static_cast<unsigned char>(c);  // no early exit: the loop vectorizes
  }
  return any < 0x80;
}

// Where the run of characters from text[i] ends that all are (`space`) or all
// are not str.isspace() characters.
std::size_t run_end(std::string_view text, std::size_t i, bool space) {
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {  // ASCII without decoding
      if (is_ascii_space(byte) != space) {
        break;
      }
      ++i;
    } else {
      std::size_t next = i;
      if (is_python_space(next_code_point(text, next)) != space) {
        break;
      }
      i = next;
    }
  }
  return i;
}

// collapse_python_spaces for ASCII text and a one-byte replacement, without
// branches: every byte is written, and the position moves on unless the byte
// continues a run of spaces.
void collapse_ascii_spaces(std::string_view text, char with, std::string& out) {
  out.resize(text.size());
  char* const written = out.data();  // a local pointer: a char store could alias out's own fields
  std::size_t length = 0;
  bool in_run = false;
  for (char c : text) {
    const bool space = is_ascii_space(static_cast<unsigned char>(c));
    const auto keep = static_cast<char>(space - 1);  // all ones for a non-space (a select, not a branch)
    written[length] = static_cast<char>((c & keep) | (with & ~keep));
    length += !(space & in_run);
    in_run = space;
  }
  out.resize(length);
}

// python_word_spans for ASCII text, without branches: a word starts where a
// space run ends and ends where one starts.
std::vector<std::pair<std::size_t, std::size_t>> ascii_word_spans(std::string_view text) {
  std::vector<std::size_t> starts(text.size() / 2 + 2);
  std::vector<std::size_t> ends(text.size() / 2 + 2);
  std::size_t* const start = starts.data();
  std::size_t* const end = ends.data();
  std::size_t started = 0;
  std::size_t ended = 0;
  bool in_space = true;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool space = is_ascii_space(static_cast<unsigned char>(text[i]));
    start[started] = i;
    started += !space & in_space;
    end[ended] = i;
    ended += space & !in_space;
    in_space = space;
  }
  ends[ended] = text.size();  // the last word may run to the end
  std::vector<std::pair<std::size_t, std::size_t>> spans(started);
  for (std::size_t k = 0; k < started; ++k) {
    spans[k] = {starts[k], ends[k]};
  }
  return spans;
}

}  // namespace

void collapse_python_spaces(std::string_view text, std::string_view with, std::string& out) {
  if (with.size() == 1 && is_ascii(text)) {
    collapse_ascii_spaces(text, with.front(), out);
    return;
  }
  out.clear();
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t word_end = run_end(text, i, false);
    out.append(text.data() + i, word_end - i);
    if (word_end == text.size()) {
      break;
    }
    out += with;
    i = run_end(text, word_end, true);
  }
}

std::vector<std::pair<std::size_t, std::size_t>> python_word_spans(std::string_view text) {
  if (is_ascii(text)) {
    return ascii_word_spans(text);
  }
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  std::size_t i = run_end(text, 0, true);
  while (i < text.size()) {
    const std::size_t end = run_end(text, i, false);
    spans.emplace_back(i, end);
    i = run_end(text, end, true);
  }
  return spans;
}

}  // namespace sentiment
