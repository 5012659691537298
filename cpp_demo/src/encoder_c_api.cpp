// The C ABI of include/sentiment_encoder.h over sentiment::TextEncoder: no
// exception crosses it, and one mutex per encoder makes it thread-safe
// (PythonRegex reuses one match buffer per pattern).
#include "sentiment_encoder.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>

#include "errors.hpp"
#include "spec.hpp"
#include "text_encoder.hpp"
#include "unicode_text.hpp"

struct se_encoder {
  sentiment::TextEncoder encoder;
  std::mutex mutex;
};

namespace {

void set_error(char* error, std::size_t error_len, const std::string& message) {
  if (error == nullptr || error_len == 0) {
    return;
  }
  const std::size_t length = std::min(message.size(), error_len - 1);
  std::memcpy(error, message.data(), length);
  error[length] = '\0';
}

}  // namespace

extern "C" {

int se_abi_version(void) { return SE_ABI_VERSION; }

int se_spec_version(void) { return sentiment::kSpecVersion; }

uint64_t se_nltk_steps_fingerprint(void) { return sentiment::kNltkWordTokenizerFingerprint; }

se_encoder* se_encoder_create(const char* spec_json, size_t spec_len, const char* vocab_text, size_t vocab_len,
                              char* error, size_t error_len) {
  try {
    if (spec_json == nullptr || vocab_text == nullptr) {
      throw sentiment::DemoError("spec_json and vocab_text must not be NULL");
    }
    const std::string spec(spec_json, spec_len);
    if (const auto bad = sentiment::find_invalid_utf8(spec)) {
      throw sentiment::DemoError("spec.json is not UTF-8 (byte " + std::to_string(*bad) + ")");
    }
    return new se_encoder{sentiment::TextEncoder(sentiment::parse_spec(spec), std::string(vocab_text, vocab_len)), {}};
  } catch (const std::exception& caught) {
    set_error(error, error_len, caught.what());
  } catch (...) {
    set_error(error, error_len, "unknown error while building the encoder");
  }
  return nullptr;
}

void se_encoder_destroy(se_encoder* encoder) { delete encoder; }

int64_t se_encoder_max_length(const se_encoder* encoder) { return encoder->encoder.spec().max_length; }

int se_encoder_uses_head_shortcut(const se_encoder* encoder) { return encoder->encoder.uses_head_shortcut() ? 1 : 0; }

int se_encoder_encode_batch(se_encoder* encoder, const char* data, const uint64_t* offsets, size_t count,
                            int64_t* ids, size_t ids_capacity, int64_t* lengths, char* error, size_t error_len) {
  try {
    if (encoder == nullptr || (count > 0 && (data == nullptr || offsets == nullptr || ids == nullptr ||
                                             lengths == nullptr))) {
      throw sentiment::DemoError("se_encoder_encode_batch: a NULL argument");
    }
    const auto max_length = static_cast<std::size_t>(encoder->encoder.spec().max_length);
    if (ids_capacity / max_length < count) {
      throw sentiment::DemoError("ids_capacity " + std::to_string(ids_capacity) + " is less than count (" +
                                 std::to_string(count) + ") x the spec's max_length (" + std::to_string(max_length) +
                                 ")");
    }
    const std::lock_guard<std::mutex> lock(encoder->mutex);
    std::size_t written = 0;
    for (std::size_t i = 0; i < count; ++i) {
      if (offsets[i + 1] < offsets[i]) {
        throw sentiment::DemoError("offsets must not decrease (text " + std::to_string(i) + ")");
      }
      const std::string_view text(data + offsets[i], offsets[i + 1] - offsets[i]);
      if (const auto bad = sentiment::find_invalid_utf8(text)) {
        throw sentiment::DemoError("text " + std::to_string(i) + " is not valid UTF-8 (byte " + std::to_string(*bad) +
                                   ")");
      }
      const std::vector<int64_t> row = encoder->encoder.encode_ids(text);
      std::copy(row.begin(), row.end(), ids + written);
      written += row.size();
      lengths[i] = static_cast<int64_t>(row.size());
    }
    return 0;
  } catch (const std::exception& caught) {
    set_error(error, error_len, caught.what());
  } catch (...) {
    set_error(error, error_len, "unknown error while encoding");
  }
  return -1;
}

}  // extern "C"
