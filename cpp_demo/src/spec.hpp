// The preprocessing spec (sentiment_export/spec.py), read from spec.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sentiment {

/// The spec version this program reads: sentiment_export.spec.SPEC_VERSION.
inline constexpr int kSpecVersion = 2;

/// The largest max_characters a spec may set: sentiment_export.spec.MAX_CHARACTERS_LIMIT.
inline constexpr int64_t kMaxCharactersLimit = 10000000;

/// One tokenizer step: a global regex substitution, or surrounding the text with `pad`.
struct TokenizerStep {
  bool is_pad = false;
  std::string pad;
  std::string pattern;
  std::string replacement;
};

struct PreprocessingSpec {
  int64_t max_length = 0;
  bool lowercase = true;
  std::string digit_pattern;
  std::string digit_replacement;
  std::string url_pattern;
  std::string url_token;
  std::string tokenizer_name;
  std::vector<TokenizerStep> tokenizer_steps;
  std::string padding_side;
  std::string truncation_side;
  std::string pad_token;
  int64_t pad_id = 0;
  std::string unk_token;
  int64_t unk_id = 1;
  int64_t max_characters = 0;   // code points of the raw text kept before any other step
  std::string unicode_version;  // unicodedata.unidata_version of the Python that wrote the spec
  int64_t spec_version = 0;
};

/// FNV-1a 64 of the steps in a fixed byte form ("P" pad NUL, or "R" pattern
/// NUL replacement NUL, per step): names a rule set without copying it here.
uint64_t tokenizer_steps_fingerprint(const std::vector<TokenizerStep>& steps);

/// tokenizer_steps_fingerprint of sentiment_export.spec.NLTK_WORD_TOKENIZER_STEPS;
/// tests/test_native_encoder.py recomputes it from spec.py and fails when they drift.
inline constexpr uint64_t kNltkWordTokenizerFingerprint = 0xbc00d7e46117f9deULL;

/// FNV-1a 64 of "U" url_pattern NUL "D" digit_pattern NUL digit_replacement NUL.
uint64_t url_digit_rules_fingerprint(const PreprocessingSpec& spec);

/// url_digit_rules_fingerprint of the default PreprocessingSpec(): the head shortcut's
/// proof also assumes these rules (a custom URL pattern could span whitespace);
/// tests/test_native_encoder.py checks the default spec gets the shortcut.
inline constexpr uint64_t kDefaultUrlDigitRulesFingerprint = 0x0715c1aa7255de3fULL;

/// Parses and checks spec.json as PreprocessingSpec.from_json does: an
/// unknown version, unknown or missing keys and out-of-range values are
/// errors (DemoError), never guesses.
PreprocessingSpec parse_spec(const std::string& json_text);

}  // namespace sentiment
