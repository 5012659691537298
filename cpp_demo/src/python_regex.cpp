#include "python_regex.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

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

// The letters of the global flag groups at the start of a Python pattern
// ("(?i)(?s)..." gives "is"; Python allows them only there) and where the rest begins.
std::pair<std::string, std::size_t> leading_flags(const std::string& pattern) {
  std::string letters;
  std::size_t i = 0;
  const std::size_t n = pattern.size();
  while (i + 2 < n && pattern.compare(i, 2, "(?") == 0) {
    std::size_t k = i + 2;
    while (k < n && kFlagLetters.find(pattern[k]) != std::string_view::npos) {
      ++k;
    }
    if (k == i + 2 || k >= n || pattern[k] != ')') {
      break;
    }
    letters.append(pattern, i + 2, k - i - 2);
    i = k + 1;
  }
  return {letters, i};
}

}  // namespace

std::string translate_python_pattern(const std::string& pattern, const std::string& what) {
  std::string out;
  const std::size_t n = pattern.size();
  const auto [flag_letters, body] = leading_flags(pattern);
  std::size_t i = body;
  bool caseless = false;
  std::string flags;  // without u: Unicode matching is Python's default and PCRE2_UCP here
  for (char flag : flag_letters) {
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
namespace {

constexpr std::size_t kUnbounded = Requirement::kUnbounded;
// The most bytes one character takes in UTF-8.
constexpr std::size_t kCharacterBytes = 4;

std::size_t add_lengths(std::size_t a, std::size_t b) { return a == kUnbounded || b == kUnbounded ? kUnbounded : a + b; }

std::size_t multiply_length(std::size_t length, std::size_t times) {
  if (length == 0 || times == 0) {
    return 0;
  }
  return length == kUnbounded || times == kUnbounded || length > kUnbounded / times ? kUnbounded : length * times;
}

// Bytes that start the UTF-8 form of a character above U+007F.
ByteSet lead_bytes_above_ascii() {
  ByteSet bytes;
  for (int byte = 0xC0; byte <= 0xFF; ++byte) {
    bytes.set(static_cast<std::size_t>(byte));
  }
  return bytes;
}

// The first byte of the UTF-8 form of `c`; it grows with c, so the first
// bytes of a range of characters lie between those of its ends.
unsigned lead_byte(char32_t c) {
  if (c < 0x80) {
    return static_cast<unsigned>(c);
  }
  if (c < 0x800) {
    return 0xC0 | static_cast<unsigned>(c >> 6);
  }
  if (c < 0x10000) {
    return 0xE0 | static_cast<unsigned>(c >> 12);
  }
  return 0xF0 | static_cast<unsigned>(c >> 18);
}

// ASCII classes without the C library's locale: the analysis must not depend on it.
bool is_ascii_digit(int byte) { return byte >= '0' && byte <= '9'; }
bool is_ascii_letter(int byte) { return (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z'); }
bool is_ascii_word(int byte) { return is_ascii_digit(byte) || is_ascii_letter(byte) || byte == '_'; }
// Python's \s in ASCII: \t \n \v \f \r, U+001C..U+001F and the space.
bool is_ascii_space(int byte) { return (byte >= 0x09 && byte <= 0x0D) || (byte >= 0x1C && byte <= 0x20); }

// Thrown inside RequiredBytes for a construct it does not know.
struct UnknownConstruct {};

// What a piece of a pattern requires of every string it matches, and the
// most bytes such a string has.
struct Piece {
  std::vector<Requirement> required;
  std::size_t max_length = 0;
};

// Adds `requirement` unless `required` has its bytes already (then keeps the smaller `within`).
void add_requirement(std::vector<Requirement>& required, const Requirement& requirement) {
  for (Requirement& known : required) {
    if (known.bytes == requirement.bytes) {
      known.within = std::min(known.within, requirement.within);
      return;
    }
  }
  required.push_back(requirement);
}

// required_byte_sets by recursive descent over Python's re syntax. What can
// match the empty string, or any character, requires nothing.
class RequiredBytes {
 public:
  explicit RequiredBytes(const std::string& pattern) : pattern_(pattern) {}

  std::vector<Requirement> parse() {
    const auto [flags, body] = leading_flags(pattern_);
    if (flags.find('x') != std::string::npos) {
      throw UnknownConstruct{};  // verbose patterns ignore white space and # comments
    }
    caseless_ = flags.find('i') != std::string::npos;
    i_ = body;
    Piece piece = alternation();
    if (i_ != pattern_.size()) {
      throw UnknownConstruct{};  // an unbalanced ')'
    }
    return piece.required;
  }

 private:
  bool at(char c) const { return i_ < pattern_.size() && pattern_[i_] == c; }
  bool at(std::string_view text) const { return pattern_.compare(i_, text.size(), text) == 0; }  // i_ <= size

  void expect(char c) {
    if (!at(c)) {
      throw UnknownConstruct{};
    }
    ++i_;
  }

  // The code point at i_ (UTF-8), moving past it.
  char32_t next_character() {
    if (i_ >= pattern_.size()) {
      throw UnknownConstruct{};
    }
    const auto lead = static_cast<unsigned char>(pattern_[i_]);
    const std::size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    if (i_ + length > pattern_.size()) {
      throw UnknownConstruct{};
    }
    char32_t c = length == 1 ? lead : lead & (0x3F >> (length - 1));
    for (std::size_t k = 1; k < length; ++k) {
      c = (c << 6) | (static_cast<unsigned char>(pattern_[i_ + k]) & 0x3F);
    }
    i_ += length;
    return c;
  }

  // A match of any branch has a byte of each set that every branch requires,
  // and a byte of the union of one set per branch.
  Piece alternation() {
    std::vector<Piece> branches{sequence()};
    while (at('|')) {
      ++i_;
      branches.push_back(sequence());
    }
    Piece result;
    for (const Piece& branch : branches) {
      result.max_length = std::max(result.max_length, branch.max_length);
    }
    if (branches.size() == 1) {
      result.required = branches.front().required;
      return result;
    }
    for (const Requirement& candidate : branches.front().required) {
      Requirement common = candidate;
      for (const Piece& branch : branches) {
        const auto same = std::find_if(branch.required.begin(), branch.required.end(),
                                       [&](const Requirement& r) { return r.bytes == candidate.bytes; });
        if (same == branch.required.end()) {
          common.bytes.reset();  // not in every branch
          break;
        }
        common.within = std::max(common.within, same->within);
      }
      if (common.bytes.any()) {
        add_requirement(result.required, common);
      }
    }
    Requirement one_per_branch{ByteSet(), 0};
    for (const Piece& branch : branches) {
      if (branch.required.empty()) {
        return result;
      }
      const Requirement& smallest = *std::min_element(
          branch.required.begin(), branch.required.end(),
          [](const Requirement& a, const Requirement& b) { return a.bytes.count() < b.bytes.count(); });
      one_per_branch.bytes |= smallest.bytes;
      one_per_branch.within = std::max(one_per_branch.within, smallest.within);
    }
    add_requirement(result.required, one_per_branch);
    return result;
  }

  // A match of a sequence holds a match of each item, after those of the items before it.
  Piece sequence() {
    Piece result;
    while (i_ < pattern_.size() && !at('|') && !at(')')) {
      const Piece item = repeated(atom());
      for (const Requirement& requirement : item.required) {
        add_requirement(result.required, {requirement.bytes, add_lengths(result.max_length, requirement.within)});
      }
      result.max_length = add_lengths(result.max_length, item.max_length);
    }
    return result;
  }

  // The atom under the quantifier after it, if any: its requirement when it
  // must match at least once.
  Piece repeated(Piece atom_piece) {
    std::size_t minimum = 1;
    std::size_t maximum = 1;
    if (at('*') || at('?') || at('+')) {
      minimum = at('+') ? 1 : 0;
      maximum = at('?') ? 1 : kUnbounded;
      ++i_;
    } else if (at('{')) {
      ++i_;
      const std::optional<std::size_t> low = number();
      if (at(',')) {
        ++i_;
        minimum = low.value_or(0);
        maximum = number().value_or(kUnbounded);
      } else if (low) {
        minimum = maximum = *low;
      } else {
        throw UnknownConstruct{};  // "{" that Python may read as a literal
      }
      expect('}');
    } else {
      return atom_piece;
    }
    if (at('?') || at('+')) {
      ++i_;  // lazy or possessive: the same strings can match
    }
    atom_piece.max_length = multiply_length(atom_piece.max_length, maximum);
    if (minimum == 0) {
      atom_piece.required.clear();
    }
    return atom_piece;
  }

  // The decimal number at i_, if there is one.
  std::optional<std::size_t> number() {
    const std::size_t start = i_;
    while (i_ < pattern_.size() && is_ascii_digit(pattern_[i_])) {
      ++i_;
    }
    if (i_ == start) {
      return std::nullopt;
    }
    return i_ - start > 9 ? kUnbounded : std::stoul(pattern_.substr(start, i_ - start));
  }

  Piece atom() {
    const char c = pattern_[i_];
    if (c == '(') {
      return group();
    }
    if (c == '[') {
      return character_class();
    }
    if (c == '\\') {
      ++i_;
      return escape();
    }
    if (c == '.' || c == '^' || c == '$') {
      ++i_;
      return {{}, c == '.' ? kCharacterBytes : 0};
    }
    if (c == '*' || c == '+' || c == '?' || c == '{') {
      throw UnknownConstruct{};
    }
    return character(next_character());
  }

  Piece group() {
    ++i_;  // '('
    bool consumes = true;  // false for a look-around: it adds nothing to the match
    if (at("?#")) {
      const std::size_t end = pattern_.find(')', i_);
      if (end == std::string::npos) {
        throw UnknownConstruct{};
      }
      i_ = end + 1;
      return {};
    }
    if (at("?:") || at("?>")) {
      i_ += 2;
    } else if (at("?P<")) {
      const std::size_t end = pattern_.find('>', i_);
      if (end == std::string::npos) {
        throw UnknownConstruct{};
      }
      i_ = end + 1;
    } else if (at("?=") || at("?!")) {
      i_ += 2;
      consumes = false;
    } else if (at("?<=") || at("?<!")) {
      i_ += 3;
      consumes = false;
    } else if (at('?')) {
      throw UnknownConstruct{};  // back-references, conditionals, scoped flags
    }
    Piece inner = alternation();
    expect(')');
    return consumes ? inner : Piece{};
  }

  Piece character(char32_t c) {
    const bool ascii_letter = c < 0x80 && is_ascii_letter(static_cast<int>(c));
    if (caseless_ && c >= 0x80) {
      return {{}, kCharacterBytes};  // may match an ASCII letter (U+212A KELVIN SIGN and k)
    }
    ByteSet set;
    set.set(lead_byte(c));
    if (caseless_ && ascii_letter) {
      set.set(static_cast<std::size_t>(c ^ 0x20));  // the other case
      set |= lead_bytes_above_ascii();              // and characters beyond ASCII that fold to it
      return {{{set, 0}}, kCharacterBytes};
    }
    const std::size_t length = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    return {{{set, 0}}, length};  // matches itself only
  }

  // The members of \d, \w and \s: their ASCII members, and any character beyond ASCII.
  static std::optional<ByteSet> class_escape(char e) {
    ByteSet set;
    for (int byte = 0; byte < 0x80; ++byte) {
      const bool member = e == 'd' ? is_ascii_digit(byte) : e == 'w' ? is_ascii_word(byte) : e == 's' && is_ascii_space(byte);
      if (member) {
        set.set(static_cast<std::size_t>(byte));
      }
    }
    if (set.none()) {
      return std::nullopt;
    }
    return set | lead_bytes_above_ascii();
  }

  // The character an escape stands for (the backslash consumed), when it is one;
  // nullopt, consuming nothing, for \d, \w, \s and the like.
  std::optional<char32_t> escaped_character(bool in_class) {
    if (i_ >= pattern_.size()) {
      throw UnknownConstruct{};
    }
    const char e = pattern_[i_];
    constexpr std::string_view kControls = "ntrfva";
    constexpr std::string_view kControlValues = "\n\t\r\f\v\a";
    if (const std::size_t k = kControls.find(e); k != std::string_view::npos) {
      ++i_;
      return static_cast<char32_t>(kControlValues[k]);
    }
    if (in_class && e == 'b') {
      ++i_;
      return U'\b';
    }
    if (is_ascii_digit(e) || is_ascii_letter(e)) {
      return std::nullopt;
    }
    return next_character();  // an escaped punctuation or non-ASCII character is itself
  }

  Piece escape() {
    if (const auto c = escaped_character(false)) {
      return character(*c);
    }
    const char e = pattern_[i_++];
    if (e == 'b' || e == 'B' || e == 'A' || e == 'Z') {
      return {};  // zero-width
    }
    if (e == 'D' || e == 'W' || e == 'S') {
      return {{}, kCharacterBytes};  // almost any character
    }
    if (const auto set = class_escape(e)) {
      return {{{*set, 0}}, kCharacterBytes};
    }
    throw UnknownConstruct{};  // \x, \u, \N, octal, back-references
  }

  // [...]: the first bytes of its members; nothing for a negated or
  // case-insensitive class.
  Piece character_class() {
    ++i_;  // '['
    const bool negated = at('^');
    if (negated) {
      ++i_;
    }
    ByteSet set;
    bool first = true;
    while (!at(']') || first) {
      first = false;
      std::optional<char32_t> low;
      if (at('\\')) {
        ++i_;
        low = escaped_character(true);
        if (!low) {
          const auto members = class_escape(pattern_[i_++]);
          if (!members) {
            throw UnknownConstruct{};
          }
          set |= *members;
          continue;
        }
      } else {
        low = next_character();
      }
      char32_t high = *low;
      if (at('-') && i_ + 1 < pattern_.size() && pattern_[i_ + 1] != ']') {
        ++i_;
        std::optional<char32_t> end;
        if (at('\\')) {
          ++i_;
          end = escaped_character(true);
        } else {
          end = next_character();
        }
        if (!end || *end < *low) {
          throw UnknownConstruct{};
        }
        high = *end;
      }
      for (unsigned byte = lead_byte(*low); byte <= lead_byte(high); ++byte) {
        set[byte] = byte < 0x80 || byte >= 0xC0;  // never a continuation byte
      }
    }
    ++i_;  // ']'
    if (negated || caseless_) {
      return {{}, kCharacterBytes};
    }
    const bool ascii_only = (set >> 0x80).none();
    return {{{set, 0}}, ascii_only ? std::size_t{1} : kCharacterBytes};
  }

  const std::string& pattern_;
  std::size_t i_ = 0;
  bool caseless_ = false;
};

}  // namespace

std::vector<Requirement> required_byte_sets(const std::string& pattern) {
  try {
    return RequiredBytes(pattern).parse();
  } catch (const UnknownConstruct&) {
    return {};
  }
}

ByteSet bytes_in(std::string_view text) {
  std::array<bool, 256> seen{};
  for (char c : text) {
    seen[static_cast<unsigned char>(c)] = true;
  }
  ByteSet bytes;
  for (std::size_t byte = 0; byte < seen.size(); ++byte) {
    bytes[byte] = seen[byte];
  }
  return bytes;
}

}  // namespace sentiment

namespace sentiment {
namespace {

// A requirement whose bytes are rare in text (no ASCII letter, digit or white
// space) and which lies a few bytes into the match: PCRE2 has to try a match
// at every position when a pattern starts with, say, a negated class, but
// with a signpost it only needs to try the `within` positions before each
// occurrence of its bytes. (A requirement at the match's start gains nothing:
// PCRE2 skips to a possible first character itself.)
std::optional<Requirement> choose_signpost(const std::vector<Requirement>& required) {
  constexpr std::size_t kMostPositions = 16;
  std::optional<Requirement> best;
  for (const Requirement& requirement : required) {
    bool rare = true;
    for (int byte = 0; byte < 0x80; ++byte) {
      rare = rare && !(requirement.bytes[static_cast<std::size_t>(byte)] && (is_ascii_word(byte) || is_ascii_space(byte)));
    }
    if (!rare || requirement.within == 0 || requirement.within > kMostPositions) {
      continue;
    }
    if (!best || std::make_pair(requirement.bytes.count(), requirement.within) <
                     std::make_pair(best->bytes.count(), best->within)) {
      best = requirement;
    }
  }
  return best;
}

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

std::string pcre2_version() {
  char version[64] = {};
  pcre2_config(PCRE2_CONFIG_VERSION, version);
  return version;
}

bool pcre2_jit_available() {
  uint32_t jit = 0;
  return pcre2_config(PCRE2_CONFIG_JIT, &jit) == 0 && jit == 1;
}

PythonRegex::PythonRegex(const std::string& pattern, std::string what)
    : what_(std::move(what)), required_(required_byte_sets(pattern)), signpost_(choose_signpost(required_)) {
  const std::string translated = translate_python_pattern(pattern, what_);
  std::unique_ptr<pcre2_compile_context, decltype(&pcre2_compile_context_free)> context(
      pcre2_compile_context_create(nullptr), &pcre2_compile_context_free);
  pcre2_set_newline(context.get(), PCRE2_NEWLINE_LF);  // Python's $ only knows "\n"
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  const uint32_t offset_limit = signpost_ ? PCRE2_USE_OFFSET_LIMIT : 0;
  code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                            PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C | offset_limit, &error_code,
                            &error_offset, context.get()));
  if (!code_) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    throw DemoError(what_ + " '" + pattern + "' does not compile with PCRE2 (as '" + translated + "', offset " +
                    std::to_string(error_offset) + "): " + reinterpret_cast<const char*>(message));
  }
  pcre2_jit_compile(code_.get(), PCRE2_JIT_COMPLETE);  // the interpreter is used where JIT is unavailable
  match_data_.reset(pcre2_match_data_create_from_pattern(code_.get(), nullptr));
  match_context_.reset(pcre2_match_context_create(nullptr));
  jit_stack_.reset(pcre2_jit_stack_create(kJitStackStart, kJitStackMax, nullptr));
  if (jit_stack_) {  // else PCRE2's 32 KiB default, and the interpreter past it
    pcre2_jit_stack_assign(match_context_.get(), nullptr, jit_stack_.get());
  }
  if (signpost_) {
    for (std::size_t byte = 0; byte < signpost_table_.size(); ++byte) {
      signpost_table_[byte] = signpost_->bytes[byte];
    }
    if (signpost_->bytes.count() == 1) {
      signpost_byte_ = static_cast<char>(std::find(signpost_table_.begin(), signpost_table_.end(), true) -
                                         signpost_table_.begin());
    }
  }
}

int PythonRegex::run_pcre2(std::string_view subject, std::size_t offset, uint32_t options) const {
  // The match limit grows with the subject, so any text within the spec's character
  // budget completes (Python's re has no limit) while the work stays linear in it.
  const std::size_t limit = std::max<std::size_t>(kMatchLimitFloor, kMatchStepsPerByte * subject.size());
  pcre2_set_match_limit(match_context_.get(), static_cast<uint32_t>(std::min<std::size_t>(limit, UINT32_MAX)));
  const auto run = [&](uint32_t extra) {
    return pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), offset,
                       options | extra | PCRE2_NO_UTF_CHECK, match_data_.get(), match_context_.get());
  };
  const int rc = run(0);
  // The JIT keeps a backtracking frame per nested repeat on its stack ('a.' * 2100
  // overflows PCRE2's default 32 KiB at the URL pattern); the interpreter keeps
  // them on the heap: past kJitStackMax, the same match runs there.
  return rc == PCRE2_ERROR_JIT_STACKLIMIT ? run(PCRE2_NO_JIT) : rc;
}

int PythonRegex::match(std::string_view subject, std::size_t offset, uint32_t options) const {
  if (signpost_ && options == 0) {
    return match_near_signposts(subject, offset);
  }
  pcre2_set_offset_limit(match_context_.get(), PCRE2_UNSET);
  return run_pcre2(subject, offset, options);
}

std::size_t PythonRegex::next_signpost(std::string_view subject, std::size_t from) const {
  if (signpost_byte_) {  // memchr is several times faster than a loop
    const void* found = std::memchr(subject.data() + from, *signpost_byte_, subject.size() - from);
    return found ? static_cast<std::size_t>(static_cast<const char*>(found) - subject.data()) : subject.size();
  }
  while (from < subject.size() && !signpost_table_[static_cast<unsigned char>(subject[from])]) {
    ++from;
  }
  return from;
}

int PythonRegex::match_near_signposts(std::string_view subject, std::size_t offset) const {
  // The leftmost match from `offset` starts at most `within` bytes before the
  // first signpost byte in it: for each signpost byte in turn, try the
  // positions before it (up to it) that are not tried yet, in order.
  const std::size_t within = signpost_->within;
  std::size_t untried = offset;
  for (std::size_t post = offset; (post = next_signpost(subject, post)) < subject.size(); ++post) {
    std::size_t from = std::max(untried, post - std::min(post, within));
    while (from < post && is_continuation_byte(subject[from])) {
      ++from;  // to a character's start
    }
    pcre2_set_offset_limit(match_context_.get(), post);  // the match starts at `post` at the latest
    const int rc = run_pcre2(subject, from, 0);
    if (rc != PCRE2_ERROR_NOMATCH) {
      return rc;
    }
    untried = post + 1;
  }
  return PCRE2_ERROR_NOMATCH;
}

Replacement PythonRegex::compile_replacement(const std::string& replacement) const {
  uint32_t groups = 0;
  pcre2_pattern_info(code_.get(), PCRE2_INFO_CAPTURECOUNT, &groups);
  if (replacement.find('\\') != std::string::npos) {
    throw DemoError("the replacement '" + replacement + "' of " + what_ + " contains a backslash");
  }
  Replacement compiled;
  std::size_t i = 0;
  while (i < replacement.size()) {
    const std::size_t dollar = std::min(replacement.find('$', i), replacement.size());
    if (dollar > i) {
      compiled.parts.push_back({replacement.substr(i, dollar - i), -1});
      compiled.literal_bytes |= bytes_in(compiled.parts.back().literal);
    }
    if (dollar == replacement.size()) {
      break;
    }
    std::size_t k = dollar + 1;
    while (k < replacement.size() && std::isdigit(static_cast<unsigned char>(replacement[k]))) {
      ++k;
    }
    if (k == dollar + 1) {
      throw DemoError("the replacement '" + replacement + "' of " + what_ +
                      " has a '$' that is not a group reference ($N)");
    }
    if (k - dollar - 1 > 5 || std::stoul(replacement.substr(dollar + 1, k - dollar - 1)) > groups) {
      throw DemoError("the replacement '" + replacement + "' of " + what_ + " refers to a group the pattern (" +
                      std::to_string(groups) + " groups) does not have");
    }
    compiled.parts.push_back({"", static_cast<int>(std::stoul(replacement.substr(dollar + 1, k - dollar - 1)))});
    i = k;
  }
  return compiled;
}

bool PythonRegex::may_match(const ByteSet& present) const {
  return std::all_of(required_.begin(), required_.end(),
                     [&](const Requirement& requirement) { return (requirement.bytes & present).any(); });
}

void PythonRegex::fail(int error_code) const {
  PCRE2_UCHAR message[256];
  pcre2_get_error_message(error_code, message, sizeof(message));
  throw DemoError(what_ + " failed on a text: " + reinterpret_cast<const char*>(message));
}

template <typename OnMatch>
void PythonRegex::for_each_match(std::string_view subject, OnMatch on_match) const {
  // As Python's re.finditer (and PCRE2's global substitution): after an empty
  // match, a non-empty one is tried at the same place before moving on one character.
  std::size_t offset = 0;
  uint32_t options = 0;
  while (offset <= subject.size()) {
    const int rc = match(subject, offset, options);
    if (rc == PCRE2_ERROR_NOMATCH) {
      if (options == 0) {
        break;
      }
      ++offset;
      while (offset < subject.size() && is_continuation_byte(subject[offset])) {
        ++offset;
      }
      options = 0;
      continue;
    }
    if (rc < 0) {
      fail(rc);
    }
    const PCRE2_SIZE* vector = pcre2_get_ovector_pointer(match_data_.get());
    on_match(vector, rc);
    offset = vector[1];
    options = vector[0] == vector[1] ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
  }
}

bool PythonRegex::substitute(std::string_view subject, const Replacement& replacement, std::string& out) const {
  // By hand rather than with pcre2_substitute, so that nothing is copied when
  // nothing matches. Unset groups become empty text, as in Python.
  std::size_t copied = 0;  // subject[0, copied) is in `out`
  bool matched = false;
  for_each_match(subject, [&](const PCRE2_SIZE* vector, int groups_set) {
    if (!matched) {
      out.clear();
      matched = true;
    }
    out.append(subject, copied, vector[0] - copied);
    for (const Replacement::Part& part : replacement.parts) {
      if (part.group < 0) {
        out += part.literal;
      } else if (const auto group = static_cast<std::size_t>(part.group);
                 part.group < groups_set && vector[2 * group] != PCRE2_UNSET) {
        out.append(subject, vector[2 * group], vector[2 * group + 1] - vector[2 * group]);
      }
    }
    copied = vector[1];
  });
  if (matched) {
    out.append(subject, copied, std::string_view::npos);
  }
  return matched;
}

std::optional<std::pair<std::size_t, std::size_t>> PythonRegex::find(std::string_view subject,
                                                                     std::size_t offset) const {
  const int rc = match(subject, offset, 0);
  if (rc == PCRE2_ERROR_NOMATCH) {
    return std::nullopt;
  }
  if (rc < 0) {
    fail(rc);
  }
  const PCRE2_SIZE* vector = pcre2_get_ovector_pointer(match_data_.get());
  return std::make_pair(static_cast<std::size_t>(vector[0]), static_cast<std::size_t>(vector[1]));
}

std::vector<std::pair<std::size_t, std::size_t>> PythonRegex::find_all(std::string_view subject) const {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  for_each_match(subject, [&](const PCRE2_SIZE* vector, int) { spans.emplace_back(vector[0], vector[1]); });
  return spans;
}

}  // namespace sentiment
