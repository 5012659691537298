// The C ABI of include/sentiment_encoder.h over sentiment::TextEncoder: no
// exception crosses it, and one mutex per encoder makes it thread-safe
// (PythonRegex reuses one match buffer per pattern, so each worker thread of
// a batch has a TextEncoder of its own).
#include "sentiment_encoder.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <mutex>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "python_regex.hpp"
#include "spec.hpp"
#include "text_encoder.hpp"
#include "unicode_text.hpp"

struct se_encoder {
  std::vector<std::unique_ptr<sentiment::TextEncoder>> encoders;  // one per worker thread
  std::mutex mutex;
};

namespace {

// Below this many texts per thread, starting a thread costs more than it saves.
constexpr std::size_t kMinTextsPerThread = 16;
constexpr std::size_t kMaxThreads = 256;

void set_error(char* error, std::size_t error_len, const std::string& message) {
  if (error == nullptr || error_len == 0) {
    return;
  }
  const std::size_t length = std::min(message.size(), error_len - 1);
  std::memcpy(error, message.data(), length);
  error[length] = '\0';
}

// Calls each(w, i, text) for every text i of the batch, worker w taking a
// contiguous range of texts on its own thread (so per-worker outputs, joined in
// w order, are in text order). Offsets and UTF-8 are checked first: a bad one
// throws (the lowest failing text's message). A text whose each() throws is
// marked in `failed` and the others go on; returns the lowest failing text's
// message with its index, or "" when none failed.
template <typename Each>
std::string for_each_text(se_encoder* encoder, const char* data, const uint64_t* offsets, std::size_t count,
                          uint8_t* failed, Each each) {
  for (std::size_t i = 0; i < count; ++i) {
    if (offsets[i + 1] < offsets[i]) {
      throw sentiment::DemoError("offsets must not decrease (text " + std::to_string(i) + ")");
    }
    if (const auto bad = sentiment::find_invalid_utf8(std::string_view(data + offsets[i], offsets[i + 1] - offsets[i]))) {
      throw sentiment::DemoError("text " + std::to_string(i) + " is not valid UTF-8 (byte " + std::to_string(*bad) + ")");
    }
  }
  const std::size_t workers = std::max<std::size_t>(
      1, std::min(encoder->encoders.size(), count / kMinTextsPerThread));
  std::vector<std::string> failures(workers);  // worker w's first failure
  const auto work = [&](std::size_t w) {
    for (std::size_t i = w * count / workers; i < (w + 1) * count / workers; ++i) {
      std::string failure;
      try {
        each(w, i, std::string_view(data + offsets[i], offsets[i + 1] - offsets[i]));
      } catch (const std::exception& caught) {
        failure = caught.what();
      } catch (...) {
        failure = "unknown error";
      }
      failed[i] = failure.empty() ? 0 : 1;
      if (!failure.empty() && failures[w].empty()) {
        failures[w] = "text " + std::to_string(i) + ": " + failure;
      }
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t w = 1; w < workers; ++w) {
    pool.emplace_back(work, w);
  }
  work(0);
  for (std::thread& thread : pool) {
    thread.join();
  }
  for (const std::string& failure : failures) {
    if (!failure.empty()) {
      return failure;
    }
  }
  return "";
}

// body()'s status, or -1 with the exception's message in `error`: no exception crosses the C ABI.
template <typename Body>
int guarded(char* error, std::size_t error_len, const char* doing, Body body) {
  try {
    return body();
  } catch (const std::exception& caught) {
    set_error(error, error_len, caught.what());
  } catch (...) {
    set_error(error, error_len, std::string("unknown error while ") + doing);
  }
  return -1;
}

}  // namespace

extern "C" {

int se_abi_version(void) { return SE_ABI_VERSION; }

const char* se_build_info(void) {
  static const std::string info = nlohmann::json{{"abi", SE_ABI_VERSION},
                                                 {"pcre2", sentiment::pcre2_version()},
                                                 {"pcre2_jit", sentiment::pcre2_jit_available()},
                                                 {"unicode_version", sentiment::reproduced_unicode_version()},
                                                 {"icu", sentiment::icu_version()}}
                                      .dump();
  return info.c_str();
}

uint64_t se_nltk_steps_fingerprint(void) { return sentiment::kNltkWordTokenizerFingerprint; }

se_encoder* se_encoder_create(const char* spec_json, size_t spec_len, const char* vocab_text, size_t vocab_len,
                              size_t threads, char* error, size_t error_len) {
  try {
    if (spec_json == nullptr || vocab_text == nullptr) {
      throw sentiment::DemoError("spec_json and vocab_text must not be NULL");
    }
    const std::string spec(spec_json, spec_len);
    if (const auto bad = sentiment::find_invalid_utf8(spec)) {
      throw sentiment::DemoError("spec.json is not UTF-8 (byte " + std::to_string(*bad) + ")");
    }
    if (threads > kMaxThreads) {
      throw sentiment::DemoError("threads must be at most " + std::to_string(kMaxThreads) + ", got " +
                                 std::to_string(threads));
    }
    const sentiment::PreprocessingSpec parsed = sentiment::parse_spec(spec);
    const std::string vocab(vocab_text, vocab_len);
    auto encoder = std::make_unique<se_encoder>();
    for (std::size_t k = 0; k < std::max<std::size_t>(threads, 1); ++k) {
      encoder->encoders.push_back(std::make_unique<sentiment::TextEncoder>(parsed, vocab));
    }
    return encoder.release();
  } catch (const std::exception& caught) {
    set_error(error, error_len, caught.what());
  } catch (...) {
    set_error(error, error_len, "unknown error while building the encoder");
  }
  return nullptr;
}

void se_encoder_destroy(se_encoder* encoder) { delete encoder; }

int64_t se_encoder_max_length(const se_encoder* encoder) { return encoder->encoders.front()->spec().max_length; }

int se_encoder_uses_head_shortcut(const se_encoder* encoder) {
  return encoder->encoders.front()->uses_head_shortcut() ? 1 : 0;
}

int se_encoder_encode_batch(se_encoder* encoder, const char* data, const uint64_t* offsets, size_t count,
                            int64_t* ids, size_t ids_capacity, int64_t* lengths, uint8_t* failed, char* error,
                            size_t error_len) {
  return guarded(error, error_len, "encoding", [&] {
    if (encoder == nullptr || (count > 0 && (data == nullptr || offsets == nullptr || ids == nullptr ||
                                             lengths == nullptr || failed == nullptr))) {
      throw sentiment::DemoError("se_encoder_encode_batch: a NULL argument");
    }
    const auto max_length = static_cast<std::size_t>(encoder->encoders.front()->spec().max_length);
    if (ids_capacity / max_length < count) {
      throw sentiment::DemoError("ids_capacity " + std::to_string(ids_capacity) + " is less than count (" +
                                 std::to_string(count) + ") x the spec's max_length (" + std::to_string(max_length) +
                                 ")");
    }
    const std::lock_guard<std::mutex> lock(encoder->mutex);
    // row i at ids + i * max_length first
    const std::string failure =
        for_each_text(encoder, data, offsets, count, failed, [&](std::size_t w, std::size_t i, std::string_view text) {
          lengths[i] = 0;
          const std::vector<int64_t> row = encoder->encoders[w]->encode_ids(text);
          std::copy(row.begin(), row.end(), ids + i * max_length);
          lengths[i] = static_cast<int64_t>(row.size());
        });
    std::size_t written = 0;  // rows back to back (each row moves towards the front)
    for (std::size_t i = 0; i < count; ++i) {
      std::memmove(ids + written, ids + i * max_length, static_cast<std::size_t>(lengths[i]) * sizeof(int64_t));
      written += static_cast<std::size_t>(lengths[i]);
    }
    set_error(error, error_len, failure);
    return failure.empty() ? 0 : 2;
  });
}

int se_encoder_tokenize_batch(se_encoder* encoder, const char* data, const uint64_t* offsets, size_t count,
                              char* tokens, size_t tokens_capacity, size_t* tokens_needed, int64_t* counts,
                              uint8_t* failed, char* error, size_t error_len) {
  return guarded(error, error_len, "tokenizing", [&] {
    if (encoder == nullptr || tokens_needed == nullptr ||
        (count > 0 && (data == nullptr || offsets == nullptr || counts == nullptr || failed == nullptr)) ||
        (tokens == nullptr && tokens_capacity > 0)) {
      throw sentiment::DemoError("se_encoder_tokenize_batch: a NULL argument");
    }
    const std::lock_guard<std::mutex> lock(encoder->mutex);
    std::vector<std::string> joined(encoder->encoders.size());  // worker w's texts' tokens, '\n' after each
    const std::string failure =
        for_each_text(encoder, data, offsets, count, failed, [&](std::size_t w, std::size_t i, std::string_view text) {
      counts[i] = 0;
      const std::vector<std::string> words = encoder->encoders[w]->tokenize(text);
      for (const std::string& word : words) {
        joined[w] += word;
        joined[w] += '\n';
      }
      counts[i] = static_cast<int64_t>(words.size());
    });
    std::size_t needed = 0;
    for (const std::string& part : joined) {
      needed += part.size();
    }
    *tokens_needed = needed;
    if (needed > tokens_capacity) {
      return 1;
    }
    for (const std::string& part : joined) {
      std::memcpy(tokens, part.data(), part.size());
      tokens += part.size();
    }
    set_error(error, error_len, failure);
    return failure.empty() ? 0 : 2;
  });
}

}  // extern "C"
