#include "model_file.hpp"

#include <caffe2/serialize/inline_container.h>
#include <ATen/Parallel.h>
#include <torch/script.h>
#include <torch/version.h>
#ifdef SENTIMENT_WITH_AOTI
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#endif

#include <nlohmann/json.hpp>

#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "archive_check.hpp"
#include "errors.hpp"

namespace sentiment {
namespace {

// The first line of a c10::Error, without libtorch's C++ backtrace.
std::string first_line(const c10::Error& error) {
  const std::string text = error.what_without_backtrace();
  return text.substr(0, text.find('\n'));
}

// A record of the archive by its full name (e.g. "archive_format"), if it has one.
std::optional<std::string> read_raw(caffe2::serialize::PyTorchStreamReader& reader, const std::string& record) {
  if (!reader.hasRecord(record)) {
    return std::nullopt;
  }
  auto [data, size] = reader.getRecord(record);
  return std::string(static_cast<const char*>(data.get()), size);
}

std::optional<std::string> read_record(caffe2::serialize::PyTorchStreamReader& reader, const std::string& name) {
  return read_raw(reader, "extra/" + name);
}

// Inclusive range of one input dimension the model accepts.
struct Bounds {
  int64_t low = 1;
  int64_t high = std::numeric_limits<int64_t>::max();
};

// pt2.accepts.input_ids.<dimension> of a package's manifest: [min, max].
Bounds package_bounds(const std::string& manifest_json, const std::string& path, const std::string& dimension) {
  const auto manifest = nlohmann::json::parse(manifest_json, nullptr, false);
  const nlohmann::json::json_pointer pointer("/pt2/accepts/input_ids/" + dimension);
  if (manifest.is_discarded() || !manifest.contains(pointer) || !manifest[pointer].is_array() ||
      manifest[pointer].size() != 2 || !manifest[pointer][0].is_number_integer() ||
      !manifest[pointer][1].is_number_integer()) {
    throw DemoError("model file '" + path + "': its embedded manifest.json does not say which " + dimension +
                    " sizes the package accepts (pt2.accepts.input_ids." + dimension + "); re-export it with sentiment_export");
  }
  return Bounds{manifest[pointer][0].get<int64_t>(), manifest[pointer][1].get<int64_t>()};
}

// Records the embedded manifest's table leaves out (UNHASHED_RECORDS of sentiment_export/artifact/records.py).
const std::set<std::string> kUnhashedRecords = {"extra/manifest.json", ".data/serialization_id"};

// <section>.records of the embedded manifest: record name -> sha256 hex.
std::map<std::string, std::string> record_table(const std::string& manifest_json, const std::string& path,
                                                const std::string& section) {
  const auto manifest = nlohmann::json::parse(manifest_json, nullptr, false);
  const nlohmann::json::json_pointer pointer("/" + section + "/records");
  if (manifest.is_discarded()) {
    throw DemoError("model file '" + path + "': its embedded manifest.json is not valid JSON; re-export it");
  }
  if (!manifest.contains(pointer) || !manifest[pointer].is_object()) {
    throw DemoError("model file '" + path + "': its embedded manifest.json has no record hashes (" + section +
                    ".records), so its weights, spec and vocabulary cannot be verified; re-export it with this "
                    "version of sentiment_export");
  }
  std::map<std::string, std::string> table;
  for (const auto& [name, hash] : manifest[pointer].items()) {
    if (!hash.is_string()) {
      throw DemoError("model file '" + path + "': " + section + ".records of its embedded manifest.json holds a " +
                      hash.type_name() + " for '" + name + "', not a sha256; re-export it");
    }
    table[name] = hash.get<std::string>();
  }
  return table;
}

// Checks every record's CRC-32 (the zip directory's) and sha256 (the embedded
// manifest's record table) before anything of the file is used.
void verify_records(caffe2::serialize::PyTorchStreamReader& reader, const std::string& path,
                    const std::string& manifest_json, bool package) {
  const std::string section = package ? "pt2" : "torchscript";
  std::map<std::string, std::string> table = record_table(manifest_json, path, section);
  const std::string refused = "model file '" + path + "' was changed or damaged after export: ";
  const std::string fix = "; do not use it: copy the original again, or re-export it";
  std::set<std::string> seen;
  for (const ZipEntry& entry : read_zip_directory(path)) {
    const std::size_t slash = entry.name.find('/');
    const std::string name = slash == std::string::npos ? entry.name : entry.name.substr(slash + 1);
    if (!seen.insert(name).second) {
      throw DemoError(refused + "it holds the record '" + name + "' twice" + fix);
    }
    auto [data, size] = reader.getRecord(name);
    const std::string_view bytes(static_cast<const char*>(data.get()), size);
    if (crc32_of(bytes) != entry.crc32) {
      throw DemoError(refused + "record '" + name + "' does not match its zip CRC-32" + fix);
    }
    if (kUnhashedRecords.count(name)) {
      continue;
    }
    const auto listed = table.find(name);
    if (listed == table.end()) {
      throw DemoError(refused + "record '" + name + "' is not in the record hashes of its embedded manifest (" +
                      section + ".records)" + fix);
    }
    if (sha256_hex(bytes) != listed->second) {
      throw DemoError(refused + "record '" + name + "' does not match its sha256 in the embedded manifest (" +
                      section + ".records)" + fix);
    }
    table.erase(listed);
  }
  if (!table.empty()) {
    throw DemoError(refused + "record '" + table.begin()->first + "', listed in its embedded manifest (" + section +
                    ".records), is missing" + fix);
  }
}

}  // namespace

EmbeddedFiles read_embedded_files(const std::string& path) {
  const std::string expected = "expected a model.pt or model.pt2 written by sentiment_export";
  if (std::filesystem::is_directory(path)) {
    throw DemoError("model file '" + path + "' is a directory (" + expected + "; for an artifact directory, give '" +
                    (std::filesystem::path(path) / "model.pt").string() + "')");
  }
  if (!std::filesystem::is_regular_file(path)) {
    throw DemoError("model file '" + path + "' does not exist (" + expected + ")");
  }
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    auto spec = read_record(reader, "spec.json");
    auto vocab = read_record(reader, "vocab.txt");
    if (!spec) {
      throw DemoError("model file '" + path + "' has no embedded spec.json, so its preprocessing is unknown; "
                      "export it with sentiment_export, which embeds spec.json, vocab.txt and manifest.json");
    }
    if (!vocab) {
      throw DemoError("model file '" + path + "' has no embedded vocab.txt; export it with sentiment_export");
    }
    auto manifest = read_record(reader, "manifest.json");
    if (!manifest) {
      throw DemoError("model file '" + path + "' has no embedded manifest.json, so what it holds cannot be verified; "
                      "export it with sentiment_export");
    }
    const bool package = read_raw(reader, "archive_format").value_or("") == "pt2";
    verify_records(reader, path, *manifest, package);
    return EmbeddedFiles{std::move(*spec), std::move(*vocab), std::move(*manifest), package};
  } catch (const c10::Error& error) {
    throw DemoError("model file '" + path + "' is neither a TorchScript file nor an AOTInductor package: " +
                    first_line(error));
  }
}

void set_torch_threads(int threads) { at::set_num_threads(threads); }

std::string libtorch_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

std::string check_torch_version(const std::string& manifest_json, const std::string& path) {
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(manifest_json);
  } catch (const nlohmann::json::parse_error& error) {
    throw DemoError("model file '" + path + "': embedded manifest.json is not valid JSON: " + error.what());
  }
  const auto software = manifest.is_object() ? manifest.find("software") : manifest.end();
  if (software == manifest.end() || !software->is_object() || !software->contains("torch") ||
      !(*software)["torch"].is_string()) {
    throw DemoError("model file '" + path + "': embedded manifest.json has no software.torch version, so "
                    "whether libtorch " + libtorch_version() + " can load it is unknown; re-export the model");
  }
  const std::string written_by = (*software)["torch"].get<std::string>();
  std::smatch parts;
  if (!std::regex_search(written_by, parts, std::regex("^(\\d+)\\.(\\d+)"))) {
    throw DemoError("model file '" + path + "': manifest software.torch '" + written_by + "' is not a version");
  }
  const int major = std::stoi(parts[1]);
  const int minor = std::stoi(parts[2]);
  if (major > TORCH_VERSION_MAJOR || (major == TORCH_VERSION_MAJOR && minor > TORCH_VERSION_MINOR)) {
    throw DemoError("model file '" + path + "' was written by torch " + written_by + ", newer than this "
                    "sentiment_demo's libtorch " + libtorch_version() + ", which cannot load files from newer "
                    "releases; rebuild cpp_demo against torch " + std::to_string(major) + "." + std::to_string(minor) +
                    " or later, or re-export the model with torch " + std::to_string(TORCH_VERSION_MAJOR) + "." +
                    std::to_string(TORCH_VERSION_MINOR));
  }
  return written_by;
}

bool aoti_supported() {
#ifdef SENTIMENT_WITH_AOTI
  return true;
#else
  return false;
#endif
}

struct SentimentModel::Impl {
  torch::jit::Module module;
#ifdef SENTIMENT_WITH_AOTI
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> package;  // set for a .pt2
#endif
  Bounds batch;
  Bounds sequence;
};

SentimentModel::SentimentModel(const std::string& path, const EmbeddedFiles& files, const std::string& written_by,
                               int64_t max_batch_size)
    : impl_(new Impl) {
  const std::string refused = "cannot load model file '" + path + "' (written by torch " + written_by + ") with libtorch " +
                              libtorch_version() + ": ";
  if (!files.package) {
    try {
      impl_->module = torch::jit::load(path, torch::kCPU);
    } catch (const c10::Error& error) {
      throw DemoError(refused + first_line(error));
    }
    impl_->module.eval();
    return;
  }
#ifdef SENTIMENT_WITH_AOTI
  impl_->batch = package_bounds(files.manifest_json, path, "batch");
  impl_->sequence = package_bounds(files.manifest_json, path, "sequence");
  if (max_batch_size > impl_->batch.high) {
    throw DemoError("--batch-size " + std::to_string(max_batch_size) + " is more than the " +
                    std::to_string(impl_->batch.high) + " texts per call that '" + path + "' accepts; pass --batch-size " +
                    std::to_string(impl_->batch.high) + " or less");
  }
  try {
    impl_->package = std::make_unique<torch::inductor::AOTIModelPackageLoader>(path);
  } catch (const c10::Error& error) {
    throw DemoError(refused + first_line(error));
  } catch (const std::exception& error) {  // the loader also throws std::runtime_error
    throw DemoError(refused + error.what());
  }
#else
  (void)max_batch_size;
  throw DemoError("model file '" + path + "' is an AOTInductor package (.pt2), and this sentiment_demo was built "
                  "without AOTInductor support; rebuild it with -DSENTIMENT_WITH_AOTI=ON, or give it the model.pt");
#endif
}

SentimentModel::~SentimentModel() = default;

std::vector<float> SentimentModel::probabilities(const std::vector<int64_t>& matrix, int64_t rows, int64_t width) {
  c10::InferenceMode inference;
  // from_blob does not copy; `matrix` outlives the forward call.
  const torch::Tensor input =
      torch::from_blob(const_cast<int64_t*>(matrix.data()), {rows, width}, torch::kLong);  // (B, T)
  // A package's compiled code does not check its input's shape: outside its bounds it would read out of range.
  if (rows < impl_->batch.low || rows > impl_->batch.high || width < impl_->sequence.low || width > impl_->sequence.high) {
    throw DemoError("a (" + std::to_string(rows) + ", " + std::to_string(width) + ") input_ids batch is outside what "
                    "the model accepts: batch " + std::to_string(impl_->batch.low) + ".." + std::to_string(impl_->batch.high) +
                    ", sequence " + std::to_string(impl_->sequence.low) + ".." + std::to_string(impl_->sequence.high));
  }
  torch::Tensor output;
  try {
#ifdef SENTIMENT_WITH_AOTI
    output = impl_->package ? impl_->package->run({input}).at(0) : impl_->module.forward({input}).toTensor();  // (B,)
#else
    output = impl_->module.forward({input}).toTensor();  // (B,)
#endif
  } catch (const c10::Error& error) {
    throw DemoError("the model failed on a (" + std::to_string(rows) + ", " + std::to_string(width) +
                    ") input_ids batch: " + first_line(error));
  }
  if (output.dim() != 1 || output.size(0) != rows) {
    throw DemoError("the model returned shape " + c10::str(output.sizes()) + ", expected (" + std::to_string(rows) +
                    ",): not a sentiment_export probability model");
  }
  output = output.to(torch::kFloat).contiguous();
  return std::vector<float>(output.data_ptr<float>(), output.data_ptr<float>() + rows);
}

}  // namespace sentiment
