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

#include <array>
#include <bitset>
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

/// PCRE2's version ("10.42 2022-12-11"), from pcre2_config.
std::string pcre2_version();

/// Whether PCRE2 was built with its JIT compiler and it runs on this machine.
bool pcre2_jit_available();

/// A set of byte values.
using ByteSet = std::bitset<256>;

/// The byte values that occur in `text`.
ByteSet bytes_in(std::string_view text);

/// Every match holds a character whose first UTF-8 byte is in `bytes`,
/// starting at most `within` bytes after the match's start.
struct Requirement {
  static constexpr std::size_t kUnbounded = static_cast<std::size_t>(-1);
  ByteSet bytes;
  std::size_t within = kUnbounded;
};

/// What every match of the Python `re` pattern requires (each element holds);
/// empty when nothing is known. Derived from the pattern's syntax: literals,
/// classes, groups, alternation, quantifiers; a construct it does not know
/// makes the answer empty, never wrong.
std::vector<Requirement> required_byte_sets(const std::string& pattern);

/// A re.sub replacement parsed once: literal text and `$N` group references.
struct Replacement {
  struct Part {
    std::string literal;
    int group = -1;  // >= 0: the text of this group instead of `literal`
  };
  std::vector<Part> parts;
  ByteSet literal_bytes;  // every byte the literal parts hold
};

class PythonRegex {
 public:
  /// Translates and compiles; throws DemoError naming `what` when the pattern is invalid.
  PythonRegex(const std::string& pattern, std::string what);

  /// Parses a replacement: `$N` group references and literal text. Refuses one
  /// that Python's side would refuse (backslashes, a `$` that is not a group
  /// reference) or that names a group the pattern lacks.
  Replacement compile_replacement(const std::string& replacement) const;

  /// re.sub(pattern, replacement, subject) into `out` (overwritten): every
  /// non-overlapping match replaced. Returns false, with `out` untouched, when
  /// nothing matched (the result is `subject`). `subject` must be well-formed
  /// UTF-8 and must not overlap `out`.
  bool substitute(std::string_view subject, const Replacement& replacement, std::string& out) const;

  /// False only when no match is possible in a text whose bytes all lie in
  /// `present` (a superset of the text's bytes is fine): see required_byte_sets.
  bool may_match(const ByteSet& present) const;

  /// The [start, end) byte span of re.search(pattern, subject, offset), or
  /// nullopt; `offset` is a byte offset at a code point boundary.
  std::optional<std::pair<std::size_t, std::size_t>> find(std::string_view subject, std::size_t offset) const;

  /// The [start, end) byte spans of re.finditer(pattern, subject).
  std::vector<std::pair<std::size_t, std::size_t>> find_all(std::string_view subject) const;

 private:
  struct CodeDeleter {
    void operator()(pcre2_code* code) const { pcre2_code_free(code); }
  };
  struct MatchDataDeleter {
    void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
  };

  struct MatchContextDeleter {
    void operator()(pcre2_match_context* context) const { pcre2_match_context_free(context); }
  };
  struct JitStackDeleter {
    void operator()(pcre2_jit_stack* stack) const { pcre2_jit_stack_free(stack); }
  };

  // The JIT stack grows on demand from 32 KiB to 8 MiB (a text of a few hundred
  // thousand dot-joined words); a match that needs more runs in the interpreter.
  static constexpr std::size_t kJitStackStart = 32 * 1024;
  static constexpr std::size_t kJitStackMax = 8 * 1024 * 1024;
  // Match limit: PCRE2's default 10,000,000, or this many steps per subject byte when more.
  static constexpr std::size_t kMatchLimitFloor = 10000000;
  static constexpr std::size_t kMatchStepsPerByte = 64;

  // pcre2_match from `offset` into match_data_ with match_context_ (its limits
  // set for `subject`), in the interpreter when the JIT runs out of stack.
  int run_pcre2(std::string_view subject, std::size_t offset, uint32_t options) const;
  // run_pcre2 from `offset` (options: 0, or those after an empty match); with
  // no options through the signpost when there is one.
  int match(std::string_view subject, std::size_t offset, uint32_t options) const;
  int match_near_signposts(std::string_view subject, std::size_t offset) const;
  // The first position from `from` that holds a signpost byte, or the subject's size.
  std::size_t next_signpost(std::string_view subject, std::size_t from) const;
  // Calls on_match(ovector, rc) for each match of re.finditer(pattern, subject).
  template <typename OnMatch>
  void for_each_match(std::string_view subject, OnMatch on_match) const;
  [[noreturn]] void fail(int error_code) const;

  std::string what_;
  std::vector<Requirement> required_;  // required_byte_sets of the pattern
  std::optional<Requirement> signpost_;  // see choose_signpost in python_regex.cpp
  std::array<bool, 256> signpost_table_{};  // signpost_->bytes, for a quick scan
  std::optional<char> signpost_byte_;        // its only byte, when it has one
  std::unique_ptr<pcre2_code, CodeDeleter> code_;
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> match_data_;
  std::unique_ptr<pcre2_jit_stack, JitStackDeleter> jit_stack_;
  std::unique_ptr<pcre2_match_context, MatchContextDeleter> match_context_;  // limits, JIT stack, signpost's offset limit
};

}  // namespace sentiment
