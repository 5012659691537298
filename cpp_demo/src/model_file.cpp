#include "model_file.hpp"

#include <caffe2/serialize/inline_container.h>
#include <ATen/Parallel.h>
#include <torch/script.h>
#include <torch/version.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <regex>

#include "errors.hpp"

namespace sentiment {
namespace {

// The first line of a c10::Error, without libtorch's C++ backtrace.
std::string first_line(const c10::Error& error) {
  const std::string text = error.what_without_backtrace();
  return text.substr(0, text.find('\n'));
}

std::optional<std::string> read_record(caffe2::serialize::PyTorchStreamReader& reader, const std::string& name) {
  const std::string record = "extra/" + name;
  if (!reader.hasRecord(record)) {
    return std::nullopt;
  }
  auto [data, size] = reader.getRecord(record);
  return std::string(static_cast<const char*>(data.get()), size);
}

}  // namespace

EmbeddedFiles read_embedded_files(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw DemoError("model file '" + path + "' does not exist (expected a TorchScript .pt written by sentiment_export)");
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
    return EmbeddedFiles{std::move(*spec), std::move(*vocab), read_record(reader, "manifest.json")};
  } catch (const c10::Error& error) {
    throw DemoError("model file '" + path + "' is not a TorchScript archive: " + first_line(error));
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

struct SentimentModel::Impl {
  torch::jit::Module module;
};

SentimentModel::SentimentModel(const std::string& path, const std::string& written_by) : impl_(new Impl) {
  try {
    impl_->module = torch::jit::load(path, torch::kCPU);
  } catch (const c10::Error& error) {
    throw DemoError("cannot load model file '" + path + "' (written by torch " + written_by + ") with libtorch " +
                    libtorch_version() + ": " + first_line(error));
  }
  impl_->module.eval();
}

SentimentModel::~SentimentModel() = default;

std::vector<float> SentimentModel::probabilities(const std::vector<int64_t>& matrix, int64_t rows, int64_t width) {
  c10::InferenceMode inference;
  // from_blob does not copy; `matrix` outlives the forward call.
  const torch::Tensor input =
      torch::from_blob(const_cast<int64_t*>(matrix.data()), {rows, width}, torch::kLong);  // (B, T)
  torch::Tensor output;
  try {
    output = impl_->module.forward({input}).toTensor();  // (B,)
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
