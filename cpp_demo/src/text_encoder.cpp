#include "text_encoder.hpp"

#include <algorithm>

#include "errors.hpp"
#include "unicode_text.hpp"

namespace sentiment {
namespace {

// Python's re.sub template without backslashes is literal text, '$' included.
Replacement literal_replacement(const std::string& text, const std::string& what) {
  if (text.find('\\') != std::string::npos) {
    throw DemoError("spec.json: " + what + " '" + text + "' contains a backslash (a Python template escape)");
  }
  return Replacement{{{text, -1}}, bytes_in(text)};
}

// A step `\s+` -> literal text is collapse_python_spaces, without the regex engine.
bool is_space_collapse(const TokenizerStep& step) {
  return step.pattern == "\\s+" && step.replacement.find('$') == std::string::npos;
}

// tokenize_head's sentinel word (as in sentiment_export/text/tokenizer.py) and first
// window: too small a guess costs a second pass, too large one tokenizes text
// that truncation drops. 6 bytes per token was the fastest of 5, 6 and 8 on imdb
// reviews (figures: benchmarks/README.md, "Native encoder").
constexpr const char* kSentinel = "x";
constexpr std::size_t kFirstGuessBytesPerToken = 6;

bool has_python_space(std::string_view token) {
  const auto words = python_word_spans(token);
  return words.size() != 1 || words.front().second - words.front().first != token.size();
}

}  // namespace

Vocabulary::Vocabulary(const std::string& vocab_text, const PreprocessingSpec& spec)
    : text_(std::make_unique<const std::string>(vocab_text)), unk_id_(spec.unk_id) {
  if (const auto bad = find_invalid_utf8(vocab_text)) {
    throw DemoError("vocab.txt is not UTF-8 (byte " + std::to_string(*bad) + ")");
  }
  if (!vocab_text.empty() && vocab_text.back() != '\n') {
    throw DemoError("vocab.txt must end with a newline (is the file truncated?)");
  }
  std::vector<std::string_view> tokens;  // into text_, which stays where it is
  std::size_t start = 0;
  while (start < text_->size()) {
    const std::size_t end = text_->find('\n', start);
    tokens.push_back(std::string_view(*text_).substr(start, end - start));
    start = end + 1;
  }
  if (tokens.size() < 2 || tokens[0] != spec.pad_token || tokens[1] != spec.unk_token) {
    throw DemoError("vocab.txt must start with the lines '" + spec.pad_token + "' and '" + spec.unk_token +
                    "' (ids " + std::to_string(spec.pad_id) + " and " + std::to_string(spec.unk_id) + ")");
  }
  index_of_.reserve(tokens.size());
  for (std::size_t id = 0; id < tokens.size(); ++id) {
    if (tokens[id].empty() || has_python_space(tokens[id])) {
      throw DemoError("vocab.txt: token " + std::to_string(id) + " ('" + std::string(tokens[id]) +
                      "') is empty or has whitespace");
    }
    if (!index_of_.emplace(tokens[id], static_cast<int64_t>(id)).second) {
      throw DemoError("vocab.txt has the token '" + std::string(tokens[id]) + "' twice");
    }
  }
}

int64_t Vocabulary::lookup(std::string_view token) const {
  const auto found = index_of_.find(token);
  return found == index_of_.end() ? unk_id_ : found->second;
}

TextEncoder::TextEncoder(PreprocessingSpec spec, const std::string& vocab_text)
    : spec_(std::move(spec)),
      vocabulary_(vocab_text, spec_),
      digit_(spec_.digit_pattern, "digit_pattern"),
      digit_replacement_(literal_replacement(spec_.digit_replacement, "digit_replacement")),
      url_(spec_.url_pattern, "url_pattern"),
      head_shortcut_(tokenizer_steps_fingerprint(spec_.tokenizer_steps) == kNltkWordTokenizerFingerprint &&
                     url_digit_rules_fingerprint(spec_) == kDefaultUrlDigitRulesFingerprint),
      whitespace_("\\s", "whitespace"),
      word_character_("\\w", "word character") {
  check_unicode_version(spec_.unicode_version);
  for (std::size_t index = 0; index < spec_.tokenizer_steps.size(); ++index) {
    const TokenizerStep& step = spec_.tokenizer_steps[index];
    Step compiled;
    if (step.is_pad) {
      compiled.kind = Step::Kind::kPad;
      compiled.text = step.pad;
      compiled.added = bytes_in(step.pad);
    } else {
      compiled.regex.emplace(step.pattern, "tokenizer step " + std::to_string(index));
      compiled.replacement = compiled.regex->compile_replacement(step.replacement);
      compiled.added = compiled.replacement.literal_bytes;
      if (is_space_collapse(step)) {
        compiled.kind = Step::Kind::kCollapseSpaces;
        compiled.text = step.replacement;
      }
    }
    steps_.push_back(std::move(compiled));
  }
}

std::string_view TextEncoder::Tokens::operator[](std::size_t k) const {
  return std::string_view(text).substr(spans[k].first, spans[k].second - spans[k].first);
}

void TextEncoder::Tokens::add(std::string_view piece, const std::vector<std::pair<std::size_t, std::size_t>>& words) {
  const std::size_t base = text.size();
  text += piece;
  for (const auto& [start, end] : words) {
    spans.emplace_back(base + start, base + end);
  }
}

void TextEncoder::split_words(std::string_view piece, ByteSet present, Tokens& tokens) const {
  std::string text(piece);
  std::string next;  // each step writes here, then the two swap
  for (const Step& step : steps_) {
    if (step.kind == Step::Kind::kPad) {
      text.insert(0, step.text);
      text += step.text;
    } else if (step.kind == Step::Kind::kCollapseSpaces) {
      collapse_python_spaces(text, step.text, next);
      text.swap(next);
    } else if (!step.regex->may_match(present) || !step.regex->substitute(text, step.replacement, next)) {
      continue;  // the text is unchanged, and so are its bytes
    } else {
      text.swap(next);
    }
    // The output holds the input's bytes and the step's own (copied groups are input).
    present |= step.added;
  }
  tokens.add(text, python_word_spans(text));
}

std::string_view TextEncoder::within_budget(std::string_view text) const {
  return keep_code_points(text, static_cast<std::size_t>(spec_.max_characters), spec_.truncation_side == "left");
}

std::string TextEncoder::normalize(std::string_view whole, ByteSet& present) const {
  const std::string_view raw = within_budget(whole);
  std::string text = spec_.lowercase ? python_lower(raw) : std::string(raw);
  present = bytes_in(text);
  std::string replaced;
  if (digit_.may_match(present) && digit_.substitute(text, digit_replacement_, replaced)) {
    text.swap(replaced);
    present |= digit_replacement_.literal_bytes;
  }
  return text;
}

void TextEncoder::tokenize_normalized(std::string_view text, const ByteSet& present, Tokens& tokens) const {
  tokens.text.clear();
  tokens.spans.clear();
  std::size_t start = 0;
  for (const auto& [match_start, match_end] : url_.find_all(text)) {
    split_words(text.substr(start, match_start - start), present, tokens);
    tokens.add(spec_.url_token, {{0, spec_.url_token.size()}});
    start = match_end;
  }
  split_words(text.substr(start), present, tokens);
}

void TextEncoder::tokenize_into(std::string_view whole, Tokens& tokens) const {
  ByteSet present;
  const std::string text = normalize(whole, present);
  tokenize_normalized(text, present, tokens);
}

std::optional<std::size_t> TextEncoder::safe_cut(std::string_view text, std::size_t start) const {
  while (const auto whitespace = whitespace_.find(text, start)) {
    const auto word = word_character_.find(text, whitespace->second);
    if (!word) {
      return std::nullopt;
    }
    const auto url = url_.find(text, whitespace->second);
    if (!url || url->first > word->first) {
      return whitespace->second;
    }
    start = url->second;  // a URL ends the piece at the cut; try the next whitespace after it
  }
  return std::nullopt;
}

void TextEncoder::tokenize_head_into(std::string_view whole, std::size_t count, Tokens& tokens) const {
  if (count == 0) {
    tokens = Tokens{};
    return;
  }
  ByteSet present;
  const std::string text = normalize(whole, present);
  // Python counts the window in characters, here in bytes: where the prefix is
  // cut changes only how much is tokenized, never the tokens (see the proof).
  std::size_t window = count * kFirstGuessBytesPerToken;
  if (head_shortcut_ && window < text.size()) {
    present |= bytes_in(kSentinel);  // a superset of every prefix's bytes
  }
  while (head_shortcut_ && window < text.size()) {
    std::size_t start = window;
    while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
      ++start;  // to a code point boundary
    }
    const auto cut = safe_cut(text, start);
    if (!cut) {
      break;
    }
    std::string prefix = text.substr(0, *cut);
    prefix += kSentinel;
    tokenize_normalized(prefix, present, tokens);
    if (tokens.size() > count && tokens[tokens.size() - 1] == kSentinel) {
      tokens.spans.resize(count);
      return;
    }
    window = std::max(window * 2, *cut);
  }
  tokenize_normalized(text, present, tokens);
  if (tokens.size() > count) {
    tokens.spans.resize(count);
  }
}

std::vector<std::string> TextEncoder::tokenize(std::string_view text) const {
  Tokens tokens;
  tokenize_into(text, tokens);
  return tokens.strings();
}

std::vector<std::string> TextEncoder::tokenize_head(std::string_view text, std::size_t count) const {
  Tokens tokens;
  tokenize_head_into(text, count, tokens);
  return tokens.strings();
}

std::vector<std::string> TextEncoder::Tokens::strings() const {
  std::vector<std::string> out;
  out.reserve(spans.size());
  for (std::size_t k = 0; k < spans.size(); ++k) {
    out.emplace_back((*this)[k]);
  }
  return out;
}

std::vector<int64_t> TextEncoder::encode_ids(std::string_view text) const {
  const auto limit = static_cast<std::size_t>(spec_.max_length);
  Tokens tokens;
  if (spec_.truncation_side == "right") {
    tokenize_head_into(text, limit, tokens);
  } else {
    tokenize_into(text, tokens);
  }
  std::vector<int64_t> ids;
  ids.reserve(tokens.size());
  for (std::size_t k = 0; k < tokens.size(); ++k) {
    ids.push_back(vocabulary_.lookup(tokens[k]));
  }
  if (ids.size() > limit) {
    if (spec_.truncation_side == "right") {
      ids.resize(limit);  // keep the head
    } else {
      ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(limit));  // keep the tail
    }
  }
  return ids;
}

std::vector<int64_t> TextEncoder::pad(const std::vector<std::vector<int64_t>>& rows, int64_t& width) const {
  std::size_t longest = 1;
  for (const auto& row : rows) {
    longest = std::max(longest, row.size());
  }
  width = static_cast<int64_t>(longest);
  std::vector<int64_t> matrix(rows.size() * longest, spec_.pad_id);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const std::size_t offset = r * longest + (spec_.padding_side == "right" ? 0 : longest - rows[r].size());
    std::copy(rows[r].begin(), rows[r].end(), matrix.begin() + static_cast<std::ptrdiff_t>(offset));
  }
  return matrix;
}

}  // namespace sentiment
