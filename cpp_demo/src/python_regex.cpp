#include "python_regex.hpp"

#include <cctype>

#include "errors.hpp"

namespace sentiment {
namespace {

// Python's \s (str.isspace()) as class items.
constexpr const char* kSpaceItems =
    "\\t-\\r\\x{1c}-\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}"
    "\\x{205f}\\x{3000}";
// What Python's case-insensitive i/I matches beyond i and I.
constexpr const char* kDottedDotlessI = "\\x{130}\\x{131}";
// Escapes of ASCII letters that mean the same in Python's re and PCRE2 (a
// letter escape Python does not know is an error there, so it is refused here).
constexpr std::string_view kSameLetterEscapes = "abBdDfnrtwWxA";
constexpr std::string_view kFlagLetters = "aiLmsux";

[[noreturn]] void refuse(const std::string& what, const std::string& pattern, const std::string& reason) {
  throw DemoError(what + " '" + pattern + "': " + reason +
                  " (the C++ encoder only runs patterns whose Python meaning it can reproduce; "
                  "change the spec or extend cpp_demo/src/python_regex.cpp)");
}

bool is_hex(const std::string& text, std::size_t start, std::size_t count) {
  if (start + count > text.size()) {
    return false;
  }
  for (std::size_t k = start; k < start + count; ++k) {
    if (!std::isxdigit(static_cast<unsigned char>(text[k]))) {
      return false;
    }
  }
  return true;
}

// Whether pattern[i] starts "{,n}" or "{,}" (digits then a closing brace).
bool is_open_minimum_quantifier(const std::string& pattern, std::size_t i) {
  std::size_t k = i + 2;
  while (k < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[k]))) {
    ++k;
  }
  return k < pattern.size() && pattern[k] == '}';
}

// Copies text from `i` up to and including the first `stop` character.
std::size_t copy_through(const std::string& pattern, std::size_t i, char stop, std::string& out) {
  const std::size_t end = pattern.find(stop, i);
  const std::size_t last = end == std::string::npos ? pattern.size() : end + 1;
  out.append(pattern, i, last - i);
  return last;
}

}  // namespace

std::string translate_python_pattern(const std::string& pattern, const std::string& what) {
  std::string out;
  std::size_t i = 0;
  const std::size_t n = pattern.size();
  bool caseless = false;
  // Global flags, which Python only allows at the start.
  while (i + 2 < n && pattern.compare(i, 2, "(?") == 0) {
    std::size_t k = i + 2;
    while (k < n && kFlagLetters.find(pattern[k]) != std::string_view::npos) {
      ++k;
    }
    if (k == i + 2 || k >= n || pattern[k] != ')') {
      break;
    }
    std::string flags;  // without u: Unicode matching is Python's default and PCRE2_UCP here
    for (char flag : pattern.substr(i + 2, k - i - 2)) {
      if (flag == 'a' || flag == 'L' || flag == 'x') {
        refuse(what, pattern, std::string("the inline flag (?") + flag + ") is not supported");
      }
      caseless = caseless || flag == 'i';
      if (flag != 'u') {
        flags += flag;
      }
    }
    if (!flags.empty()) {
      out += "(?" + flags + ")";
    }
    i = k + 1;
  }

  bool in_class = false;
  bool class_start = false;  // right after '[' or '[^', where ']' is a literal
  while (i < n) {
    const char c = pattern[i];
    if (c == '\\') {
      if (i + 1 >= n) {
        refuse(what, pattern, "it ends with a backslash");
      }
      const char e = pattern[i + 1];
      class_start = false;
      if (in_class && caseless && i + 3 < n && pattern[i + 2] == '-' && pattern[i + 3] != ']') {
        refuse(what, pattern, "a case-insensitive class range starts with an escape");
      }
      if (e == 's') {
        out += in_class ? std::string(kSpaceItems) : "[" + std::string(kSpaceItems) + "]";
        i += 2;
      } else if (e == 'S') {
        if (in_class) {
          refuse(what, pattern, "\\S inside a character class is not supported");
        }
        out += "[^" + std::string(kSpaceItems) + "]";
        i += 2;
      } else if (e == 'Z') {
        out += "\\z";  // Python's \Z is the very end; PCRE2's \Z also matches before a final newline
        i += 2;
      } else if (e == 'v') {
        out += "\\x{0b}";  // PCRE2's \v is a class of vertical spaces
        i += 2;
      } else if (e == 'u' || e == 'U') {
        const std::size_t digits = e == 'u' ? 4 : 8;
        if (!is_hex(pattern, i + 2, digits)) {
          refuse(what, pattern, std::string("\\") + e + " needs " + std::to_string(digits) + " hex digits");
        }
        const std::string hex = pattern.substr(i + 2, digits);
        const unsigned long value = std::stoul(hex, nullptr, 16);
        if (caseless && (value == 'i' || value == 'I')) {
          refuse(what, pattern, "a case-insensitive pattern spells i as an escape");
        }
        out += "\\x{" + hex + "}";
        i += 2 + digits;
      } else if (e == 'x' && caseless && is_hex(pattern, i + 2, 2) &&
                 (pattern.compare(i + 2, 2, "69") == 0 || pattern.compare(i + 2, 2, "49") == 0)) {
        refuse(what, pattern, "a case-insensitive pattern spells i as an escape");
      } else if (std::isalpha(static_cast<unsigned char>(e)) && kSameLetterEscapes.find(e) == std::string_view::npos) {
        refuse(what, pattern, std::string("the escape \\") + e + " is not one Python's re and PCRE2 share");
      } else {
        out += c;
        out += e;
        i += 2;
      }
      continue;
    }
    if (in_class) {
      if (c == ']' && !class_start) {
        in_class = false;
        out += ']';
        ++i;
        continue;
      }
      class_start = false;
      if (c == '[') {
        out += "\\[";  // a literal in Python; PCRE2 would read [: as a POSIX class
        ++i;
      } else if (caseless && i + 2 < n && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
        const char last = pattern[i + 2];
        if (last == '\\' || static_cast<unsigned char>(c) >= 0x80 || static_cast<unsigned char>(last) >= 0x80) {
          refuse(what, pattern, "a case-insensitive class range has an escaped or non-ASCII end");
        }
        out.append(pattern, i, 3);
        if ((c <= 'i' && 'i' <= last) || (c <= 'I' && 'I' <= last)) {
          out += kDottedDotlessI;
        }
        i += 3;
      } else {
        out += c;
        if (caseless && (c == 'i' || c == 'I')) {
          out += kDottedDotlessI;
        }
        ++i;
      }
      continue;
    }
    if (c == '[') {
      in_class = true;
      class_start = true;
      out += c;
      ++i;
      if (i < n && pattern[i] == '^') {
        out += '^';
        ++i;
      }
    } else if (c == '(' && i + 2 < n && pattern[i + 1] == '?') {
      const char kind = pattern[i + 2];
      const char next = i + 3 < n ? pattern[i + 3] : '\0';
      if (kind == '#' || kind == '(') {
        i = copy_through(pattern, i, ')', out);  // comment, or a conditional's condition
      } else if (kind == 'P') {
        i = copy_through(pattern, i, next == '<' ? '>' : ')', out);  // named group or back-reference
      } else if (kind == '<' && next != '=' && next != '!') {
        i = copy_through(pattern, i, '>', out);  // named group
      } else if (kind == '-' || kFlagLetters.find(kind) != std::string_view::npos) {
        refuse(what, pattern, "inline flags are only supported as one group at the start");
      } else {
        out += "(?";
        i += 2;
      }
    } else if (c == '{' && i + 1 < n && pattern[i + 1] == ',' && is_open_minimum_quantifier(pattern, i)) {
      out += "{0,";  // Python reads {,n} as {0,n}; PCRE2 10.42 as literal text
      i += 2;
    } else if (caseless && (c == 'i' || c == 'I')) {
      out += "[iI" + std::string(kDottedDotlessI) + "]";
      ++i;
    } else {
      out += c;
      ++i;
    }
  }
  if (in_class) {
    refuse(what, pattern, "a character class is not closed");
  }
  return out;
}

}  // namespace sentiment

namespace sentiment {

PythonRegex::PythonRegex(const std::string& pattern, std::string what) : what_(std::move(what)) {
  const std::string translated = translate_python_pattern(pattern, what_);
  std::unique_ptr<pcre2_compile_context, decltype(&pcre2_compile_context_free)> context(
      pcre2_compile_context_create(nullptr), &pcre2_compile_context_free);
  pcre2_set_newline(context.get(), PCRE2_NEWLINE_LF);  // Python's $ only knows "\n"
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                            PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C, &error_code, &error_offset,
                            context.get()));
  if (!code_) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    throw DemoError(what_ + " '" + pattern + "' does not compile with PCRE2 (as '" + translated + "', offset " +
                    std::to_string(error_offset) + "): " + reinterpret_cast<const char*>(message));
  }
  pcre2_jit_compile(code_.get(), PCRE2_JIT_COMPLETE);  // the interpreter is used where JIT is unavailable
  match_data_.reset(pcre2_match_data_create_from_pattern(code_.get(), nullptr));
}

void PythonRegex::check_replacement(const std::string& replacement) const {
  uint32_t groups = 0;
  pcre2_pattern_info(code_.get(), PCRE2_INFO_CAPTURECOUNT, &groups);
  if (replacement.find('\\') != std::string::npos) {
    throw DemoError("the replacement '" + replacement + "' of " + what_ + " contains a backslash");
  }
  for (std::size_t i = 0; i < replacement.size(); ++i) {
    if (replacement[i] != '$') {
      continue;
    }
    std::size_t k = i + 1;
    while (k < replacement.size() && std::isdigit(static_cast<unsigned char>(replacement[k]))) {
      ++k;
    }
    if (k == i + 1) {
      throw DemoError("the replacement '" + replacement + "' of " + what_ +
                      " has a '$' that is not a group reference ($N)");
    }
    if (k - i - 1 > 5 || std::stoul(replacement.substr(i + 1, k - i - 1)) > groups) {
      throw DemoError("the replacement '" + replacement + "' of " + what_ + " refers to a group the pattern (" +
                      std::to_string(groups) + " groups) does not have");
    }
    i = k - 1;
  }
}

std::string PythonRegex::substitute(std::string_view subject, const std::string& replacement) const {
  // Unset groups become empty text, as in Python's re.sub.
  const uint32_t options = PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_UNSET_EMPTY |
                           PCRE2_SUBSTITUTE_OVERFLOW_LENGTH | PCRE2_NO_UTF_CHECK;
  std::string output(subject.size() + subject.size() / 2 + 64, '\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    PCRE2_SIZE length = output.size();
    const int rc = pcre2_substitute(code_.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0,
                                    options, match_data_.get(), nullptr,
                                    reinterpret_cast<PCRE2_SPTR>(replacement.data()), replacement.size(),
                                    reinterpret_cast<PCRE2_UCHAR*>(output.data()), &length);
    if (rc >= 0) {
      output.resize(length);
      return output;
    }
    if (rc != PCRE2_ERROR_NOMEMORY) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof(message));
      throw DemoError(what_ + " failed on a text: " + reinterpret_cast<const char*>(message));
    }
    output.assign(length, '\0');  // with OVERFLOW_LENGTH, `length` is the size needed
  }
  throw DemoError(what_ + ": the substitution output did not fit in the size PCRE2 asked for");
}

std::optional<std::pair<std::size_t, std::size_t>> PythonRegex::find(std::string_view subject,
                                                                     std::size_t offset) const {
  const int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), offset,
                             PCRE2_NO_UTF_CHECK, match_data_.get(), nullptr);
  if (rc == PCRE2_ERROR_NOMATCH) {
    return std::nullopt;
  }
  if (rc < 0) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(rc, message, sizeof(message));
    throw DemoError(what_ + " failed on a text: " + reinterpret_cast<const char*>(message));
  }
  const PCRE2_SIZE* vector = pcre2_get_ovector_pointer(match_data_.get());
  return std::make_pair(static_cast<std::size_t>(vector[0]), static_cast<std::size_t>(vector[1]));
}

std::vector<std::pair<std::size_t, std::size_t>> PythonRegex::find_all(std::string_view subject) const {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  const auto* data = reinterpret_cast<PCRE2_SPTR>(subject.data());
  std::size_t offset = 0;
  uint32_t options = PCRE2_NO_UTF_CHECK;
  while (offset <= subject.size()) {
    const int rc = pcre2_match(code_.get(), data, subject.size(), offset, options, match_data_.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) {
      if (options == PCRE2_NO_UTF_CHECK) {
        break;
      }
      // No non-empty match where the last empty one was: move on one character.
      ++offset;
      while (offset < subject.size() && (static_cast<unsigned char>(subject[offset]) & 0xC0) == 0x80) {
        ++offset;
      }
      options = PCRE2_NO_UTF_CHECK;
      continue;
    }
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof(message));
      throw DemoError(what_ + " failed on a text: " + reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* vector = pcre2_get_ovector_pointer(match_data_.get());
    spans.emplace_back(vector[0], vector[1]);
    offset = vector[1];
    // After an empty match, Python (like PCRE2's own global substitution)
    // next looks for a non-empty match at the same place.
    options = vector[0] == vector[1] ? (PCRE2_NO_UTF_CHECK | PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED)
                                     : PCRE2_NO_UTF_CHECK;
  }
  return spans;
}

}  // namespace sentiment
