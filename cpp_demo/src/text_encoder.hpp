// TextEncoder: raw UTF-8 text -> token ids, by the spec and vocabulary that the
// model file carries; the C++ twin of sentiment_export/encoder.py.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "python_regex.hpp"
#include "spec.hpp"

namespace sentiment {

/// Token -> id table from vocab.txt (one token per line, line number = id).
class Vocabulary {
 public:
  /// Checks vocab.txt as sentiment_export's Vocabulary does; throws DemoError.
  Vocabulary(const std::string& vocab_text, const PreprocessingSpec& spec);

  /// The id of `token`, or the spec's unk_id for a token not in the table.
  int64_t lookup(std::string_view token) const;
  std::size_t size() const { return index_of_.size(); }

 private:
  std::unique_ptr<const std::string> text_;  // vocab.txt, where the keys of index_of_ point
  std::unordered_map<std::string_view, int64_t> index_of_;
  int64_t unk_id_;
};

class TextEncoder {
 public:
  /// Compiles every pattern of the spec; throws DemoError for a spec or
  /// vocabulary this encoder cannot reproduce exactly.
  TextEncoder(PreprocessingSpec spec, const std::string& vocab_text);

  /// Tokens of `text` (well-formed UTF-8) within the spec's character budget: lower-case, digits, URLs cut out
  /// as url_token, tokenizer steps on each piece, split on whitespace.
  std::vector<std::string> tokenize(std::string_view text) const;

  /// tokenize(text) cut to its first `count` tokens, tokenizing only as much
  /// of a long text as needed when the spec's steps are the NLTK rules (the
  /// port of Tokenizer.tokenize_head in sentiment_export/tokenizer.py, whose
  /// docstring holds the proof that the tokens are the same).
  std::vector<std::string> tokenize_head(std::string_view text, std::size_t count) const;

  /// Whether tokenize_head may stop early: the spec's steps are the NLTK rules.
  bool uses_head_shortcut() const { return head_shortcut_; }

  /// Ids of `text`, truncated to max_length on the spec's side, not padded.
  std::vector<int64_t> encode_ids(std::string_view text) const;

  /// Rows padded with pad_id to the longest row (at least 1 column) on the
  /// spec's padding side, row-major; `width` receives the column count.
  std::vector<int64_t> pad(const std::vector<std::vector<int64_t>>& rows, int64_t& width) const;

  const PreprocessingSpec& spec() const { return spec_; }
  std::size_t vocabulary_size() const { return vocabulary_.size(); }

 private:
  struct Step {
    enum class Kind { kSubstitute, kPad, kCollapseSpaces };
    Kind kind = Kind::kSubstitute;
    std::optional<PythonRegex> regex;  // kSubstitute, kCollapseSpaces (there only to check the step)
    Replacement replacement;           // kSubstitute
    std::string text;                  // the padding, or what a run of spaces becomes
    ByteSet added;                     // the bytes the step may add to a text
  };

  // Tokens as [start, end) byte spans of the text they come from.
  struct Tokens {
    std::string text;
    std::vector<std::pair<std::size_t, std::size_t>> spans;

    std::size_t size() const { return spans.size(); }
    std::string_view operator[](std::size_t k) const;
    // Appends `piece` and its words, spans of `piece`.
    void add(std::string_view piece, const std::vector<std::pair<std::size_t, std::size_t>>& words);
    std::vector<std::string> strings() const;
  };

  // The spec's character budget of `text`: the first (or, truncating on the
  // left, the last) max_characters code points, before any other step.
  std::string_view within_budget(std::string_view text) const;

  // Budget, lower-casing and digits: the steps on the whole text; `present`
  // receives every byte of the result.
  std::string normalize(std::string_view whole, ByteSet& present) const;

  // tokenize and tokenize_head, into `tokens` (overwritten).
  void tokenize_into(std::string_view text, Tokens& tokens) const;
  void tokenize_normalized(std::string_view text, const ByteSet& present, Tokens& tokens) const;
  // Tokenizer._safe_cut (sentiment_export/text/tokenizer.py): where tokenize_head
  // may cut normalised `text` at or after byte `start`, or nullopt.
  std::optional<std::size_t> safe_cut(std::string_view text, std::size_t start) const;
  void tokenize_head_into(std::string_view text, std::size_t count, Tokens& tokens) const;

  // Appends the words of `piece` after the tokenizer steps; `present` holds
  // every byte of `piece` (a superset is fine).
  void split_words(std::string_view piece, ByteSet present, Tokens& tokens) const;

  PreprocessingSpec spec_;
  Vocabulary vocabulary_;
  PythonRegex digit_;
  Replacement digit_replacement_;
  PythonRegex url_;
  std::vector<Step> steps_;
  bool head_shortcut_;
  PythonRegex whitespace_;
  PythonRegex word_character_;
};

}  // namespace sentiment
