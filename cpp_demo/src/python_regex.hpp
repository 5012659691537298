// Python `re` patterns run by PCRE2 with the same meaning on Unicode text.
//
// PCRE2 with UTF + UCP agrees with Python's re on \w, \d, \b, look-arounds,
// possessive quantifiers and comments (checked for every code point with the
// same Unicode version). Where the two differ, translate_python_pattern()
// rewrites the pattern: \s (Python also counts U+001C..U+001F, PCRE2 counts
// U+180E), case-insensitive i/I (Python also matches U+0130 and U+0131), \Z,
// \v, \uXXXX, \UXXXXXXXX and {,n}. Constructs it cannot map are refused.
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sentiment {

/// The PCRE2 pattern (for PCRE2_UTF | PCRE2_UCP) that means what the Python
/// `re` pattern means; `what` names the pattern in error messages.
/// Throws DemoError for a construct it cannot translate.
std::string translate_python_pattern(const std::string& pattern, const std::string& what);

class PythonRegex {
 public:
  /// Translates and compiles; throws DemoError naming `what` when the pattern is invalid.
  PythonRegex(const std::string& pattern, std::string what);

  /// re.sub(pattern, replacement, subject): every non-overlapping match
  /// replaced; `replacement` uses `$N` group references (see check_replacement).
  /// `subject` must be well-formed UTF-8.
  std::string substitute(std::string_view subject, const std::string& replacement) const;

  /// The [start, end) byte span of re.search(pattern, subject, offset), or
  /// nullopt; `offset` is a byte offset at a code point boundary.
  std::optional<std::pair<std::size_t, std::size_t>> find(std::string_view subject, std::size_t offset) const;

  /// The [start, end) byte spans of re.finditer(pattern, subject).
  std::vector<std::pair<std::size_t, std::size_t>> find_all(std::string_view subject) const;

  /// Refuses a replacement that Python's side would refuse (backslashes, a
  /// `$` that is not a group reference) or that names a group the pattern lacks.
  void check_replacement(const std::string& replacement) const;

 private:
  struct CodeDeleter {
    void operator()(pcre2_code* code) const { pcre2_code_free(code); }
  };
  struct MatchDataDeleter {
    void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
  };

  std::string what_;
  std::unique_ptr<pcre2_code, CodeDeleter> code_;
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> match_data_;
};

}  // namespace sentiment
