/* sentiment_encoder: the C ABI of cpp_demo's TextEncoder (text -> token ids by
 * a sentiment_export spec.json and vocab.txt), for callers in other languages;
 * sentiment_export/native_encoder.py loads it with ctypes.
 *
 * Every function is safe to call from several threads; one encoder serves
 * one call at a time (calls on the same encoder wait for each other), with
 * up to the `threads` it was created with.
 * No function throws: failures return an error code and, where an error
 * buffer is given, a NUL-terminated message (cut to error_len - 1 bytes). */
#ifndef SENTIMENT_ENCODER_H
#define SENTIMENT_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define SE_API __attribute__((visibility("default")))
#else
#define SE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a signature below changes; callers check it before use. */
#define SE_ABI_VERSION 3

typedef struct se_encoder se_encoder;

SE_API int se_abi_version(void);

/* What the library was built with, as a NUL-terminated JSON object (static
 * storage, never freed): {"abi": N, "pcre2": "<version>", "pcre2_jit": true|false,
 * "unicode_version": "<PCRE2 tables' Unicode version>", "icu": "<version>"}. */
SE_API const char* se_build_info(void);

/* Fingerprint of the NLTK rule set for which encoding stops after the kept
 * head of a long text (see TextEncoder::tokenize_head). */
SE_API uint64_t se_nltk_steps_fingerprint(void);

/* An encoder for spec.json and vocab.txt (UTF-8, not NUL-terminated) that
 * splits a batch over up to `threads` threads (0 counts as 1; each thread has
 * its own compiled patterns and vocabulary); NULL on error, with the reason
 * in `error`. */
SE_API se_encoder* se_encoder_create(const char* spec_json, size_t spec_len, const char* vocab_text,
                                     size_t vocab_len, size_t threads, char* error, size_t error_len);

SE_API void se_encoder_destroy(se_encoder* encoder);

SE_API int64_t se_encoder_max_length(const se_encoder* encoder);

/* 1 when long texts are tokenized only as far as truncation keeps, else 0. */
SE_API int se_encoder_uses_head_shortcut(const se_encoder* encoder);

/* Encodes `count` texts: text i is the UTF-8 bytes data[offsets[i], offsets[i + 1]).
 * The ids of all texts (each truncated by the spec, not padded) are written back
 * to back into `ids`, text i's lengths[i] ids right after text i - 1's;
 * ids_capacity (in int64 values) must be >= count * the spec's max_length.
 * failed[i] is 1 when text i could not be encoded (its lengths[i] is 0), else 0:
 * one text's failure never takes down the others.
 * Returns 0; 2 when some text failed (`error` holds the lowest failing text's
 * index and reason); -1 with the reason in `error` when the call itself is
 * wrong (a text that is not well-formed UTF-8 names its index and byte), and
 * then the outputs are unspecified. */
SE_API int se_encoder_encode_batch(se_encoder* encoder, const char* data, const uint64_t* offsets, size_t count,
                                   int64_t* ids, size_t ids_capacity, int64_t* lengths, uint8_t* failed,
                                   char* error, size_t error_len);

/* Tokenizes `count` texts (the layout of se_encoder_encode_batch), whole: no
 * truncation and no vocabulary lookup, for counting a vocabulary. The tokens
 * of all texts are written back to back into `tokens`, each followed by '\n'
 * (tokens never hold whitespace); counts[i] is text i's number of tokens and
 * *tokens_needed the bytes written; failed[i] as in se_encoder_encode_batch
 * (counts[i] is then 0). Returns 0; 1 when tokens_capacity is less than
 * *tokens_needed (call again with that much; nothing else is written); 2 when
 * some text failed; -1 with the reason in `error`. */
SE_API int se_encoder_tokenize_batch(se_encoder* encoder, const char* data, const uint64_t* offsets, size_t count,
                                     char* tokens, size_t tokens_capacity, size_t* tokens_needed, int64_t* counts,
                                     uint8_t* failed, char* error, size_t error_len);

#ifdef __cplusplus
}
#endif

#endif /* SENTIMENT_ENCODER_H */
