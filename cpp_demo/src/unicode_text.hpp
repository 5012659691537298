// Unicode text operations that must behave exactly like CPython 3.11's str
// methods, on UTF-8 strings.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sentiment {

/// The Unicode version this encoder reproduces ("14.0.0"): that of PCRE2's
/// character tables (\w, \d, \s). Characters that ICU knows but that were
/// assigned after it are treated as unassigned, as a Python with this
/// unicodedata version does.
std::string reproduced_unicode_version();

/// ICU's version ("72.1") and the Unicode version of its character data ("15.0").
std::string icu_version();
std::string icu_unicode_version();

/// Throws DemoError, naming both versions, unless this encoder reproduces
/// `version` (a spec's unicode_version): it must be reproduced_unicode_version()
/// and ICU's Unicode must be at least as new.
void check_unicode_version(const std::string& version);

/// The first `count` code points of `text` (well-formed UTF-8), or the last
/// `count` when `from_end`: the character budget.
std::string_view keep_code_points(std::string_view text, std::size_t count, bool from_end);

/// Byte offset of the first ill-formed UTF-8 sequence (overlong forms,
/// surrogates and code points above U+10FFFF included), or nullopt when the
/// whole text is well-formed: the same bytes Python's strict decoder rejects.
std::optional<std::size_t> find_invalid_utf8(std::string_view text);

/// Python's str.lower(): full lower-case mapping (U+0130 -> "i\u0307") and
/// the Final_Sigma rule for U+03A3, with ICU's character data.
std::string python_lower(std::string_view text);

/// The [start, end) byte spans of the pieces of Python's str.split() with no
/// argument: split on str.isspace() characters, dropping empty pieces.
std::vector<std::pair<std::size_t, std::size_t>> python_word_spans(std::string_view text);

/// re.sub(r"\s+", with, text) into `out` (overwritten): each run of
/// str.isspace() characters becomes `with`.
void collapse_python_spaces(std::string_view text, std::string_view with, std::string& out);

/// Python's str.isspace() for one code point.
bool is_python_space(char32_t code_point);

}  // namespace sentiment
