// The model file -- TorchScript (model.pt) or an AOTInductor package
// (model.pt2) -- its embedded files, its torch version check, and running it.
// The only part of the demo that includes libtorch headers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sentiment {

/// The extra files sentiment_export embeds in the .pt and the .pt2 (signature.TORCHSCRIPT_EXTRA_FILES).
struct EmbeddedFiles {
  std::string spec_json;
  std::string vocab_text;
  std::string manifest_json;
  bool package = false;  // a PT2 archive (AOTInductor), not TorchScript
};

/// Reads the embedded files without loading the model, so that a model this
/// libtorch cannot load can still be refused with a clear reason. Both
/// formats are PyTorch zip archives with the files under extra/; a record
/// archive_format "pt2" marks the AOTInductor package. Verifies every record
/// first (libtorch does not): its zip CRC-32, and its sha256 against the
/// embedded manifest's record table (torchscript.records or pt2.records,
/// written by sentiment_export/export/records.py). Throws DemoError for a
/// missing file or a directory, a file that is neither format, an archive
/// without spec.json, vocab.txt or manifest.json, or a record that fails a check.
EmbeddedFiles read_embedded_files(const std::string& path);

/// Sets libtorch's intra-op thread count (the --threads option).
void set_torch_threads(int threads);

/// The libtorch version this program was built against, e.g. "2.13.0".
std::string libtorch_version();

/// The torch version that wrote the model (manifest software.torch). Throws
/// DemoError when the manifest lacks it or when its major.minor is newer than
/// this libtorch (which cannot load files from newer releases).
std::string check_torch_version(const std::string& manifest_json, const std::string& path);

/// Whether this sentiment_demo was built with AOTInductor support (CMake SENTIMENT_WITH_AOTI).
bool aoti_supported();

class SentimentModel {
 public:
  /// Loads the TorchScript module or the AOTInductor package (files.package)
  /// on the CPU; `written_by` only words errors. A package's accepted batch
  /// and sequence sizes come from its manifest (pt2.accepts), and
  /// `max_batch_size` must fit them. Throws DemoError.
  SentimentModel(const std::string& path, const EmbeddedFiles& files, const std::string& written_by,
                 int64_t max_batch_size);
  ~SentimentModel();
  SentimentModel(const SentimentModel&) = delete;
  SentimentModel& operator=(const SentimentModel&) = delete;

  /// P(positive) for each row of a row-major (rows, width) int64 id matrix.
  std::vector<float> probabilities(const std::vector<int64_t>& matrix, int64_t rows, int64_t width);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sentiment
