#include "spec.hpp"

#include <nlohmann/json.hpp>

#include <set>

#include "errors.hpp"

namespace sentiment {
namespace {

using nlohmann::json;

const std::set<std::string> kKeys = {
    "max_length",     "lowercase",    "digit_pattern",   "digit_replacement", "url_pattern",
    "url_token",      "tokenizer_name", "tokenizer_steps", "padding_side",    "truncation_side",
    "pad_token",      "pad_id",       "unk_token",       "unk_id",            "spec_version",
    "max_characters", "unicode_version"};

std::string get_string(const json& data, const std::string& key) {
  if (!data.at(key).is_string()) {
    throw DemoError("spec.json: '" + key + "' must be a string, got " + data.at(key).dump());
  }
  return data.at(key).get<std::string>();
}

int64_t get_integer(const json& data, const std::string& key) {
  if (!data.at(key).is_number_integer()) {
    throw DemoError("spec.json: '" + key + "' must be an integer, got " + data.at(key).dump());
  }
  return data.at(key).get<int64_t>();
}

std::string join(const std::vector<std::string>& items) {
  std::string text = "[";
  for (const auto& item : items) {
    text += (text.size() > 1 ? ", '" : "'") + item + "'";
  }
  return text + "]";
}

TokenizerStep parse_step(const json& step, std::size_t index) {
  const std::string where = "spec.json: tokenizer step " + std::to_string(index);
  if (!step.is_object()) {
    throw DemoError(where + " must be an object, got " + step.dump());
  }
  TokenizerStep parsed;
  if (step.size() == 1 && step.contains("pad")) {
    parsed.is_pad = true;
    parsed.pad = get_string(step, "pad");
  } else if (step.size() == 2 && step.contains("pattern") && step.contains("replacement")) {
    parsed.pattern = get_string(step, "pattern");
    parsed.replacement = get_string(step, "replacement");
  } else {
    throw DemoError(where + " must have keys pattern+replacement or pad, got " + step.dump());
  }
  return parsed;
}

}  // namespace

namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;

/// FNV-1a 64 of ``bytes`` followed by a NUL terminator.
void fnv1a_mix(uint64_t& hash, const std::string& bytes) {
  for (const char byte : bytes) {
    hash = (hash ^ static_cast<unsigned char>(byte)) * 0x100000001b3ULL;
  }
  hash = hash * 0x100000001b3ULL;  // the NUL terminator (hash ^ 0 == hash)
}

}  // namespace

uint64_t tokenizer_steps_fingerprint(const std::vector<TokenizerStep>& steps) {
  uint64_t hash = kFnvOffset;
  for (const TokenizerStep& step : steps) {
    if (step.is_pad) {
      fnv1a_mix(hash, "P" + step.pad);
    } else {
      fnv1a_mix(hash, "R" + step.pattern);
      fnv1a_mix(hash, step.replacement);
    }
  }
  return hash;
}

uint64_t url_digit_rules_fingerprint(const PreprocessingSpec& spec) {
  uint64_t hash = kFnvOffset;
  fnv1a_mix(hash, "U" + spec.url_pattern);
  fnv1a_mix(hash, "D" + spec.digit_pattern);
  fnv1a_mix(hash, spec.digit_replacement);
  return hash;
}

PreprocessingSpec parse_spec(const std::string& json_text) {
  json data;
  try {
    data = json::parse(json_text);
  } catch (const json::parse_error& error) {
    throw DemoError(std::string("spec.json is not valid JSON: ") + error.what());
  }
  if (!data.is_object()) {
    throw DemoError("spec.json must hold a JSON object, got " + std::string(data.type_name()));
  }
  const json version = data.contains("spec_version") ? data["spec_version"] : json();
  if (!version.is_number_integer() || version.get<int64_t>() != kSpecVersion) {
    const bool older = version.is_number_integer() && version.get<int64_t>() < kSpecVersion;
    throw DemoError("preprocessing spec version " + (version.is_null() ? std::string("(missing)") : version.dump()) +
                    " is not supported by this sentiment_demo (it reads version " + std::to_string(kSpecVersion) +
                    "); " +
                    (older ? "re-export the artifact with the sentiment_export of this cpp_demo"
                           : "rebuild cpp_demo from the sentiment_export version that wrote the model"));
  }
  std::vector<std::string> unknown;
  std::vector<std::string> missing;
  for (const auto& item : data.items()) {
    if (kKeys.count(item.key()) == 0) {
      unknown.push_back(item.key());
    }
  }
  for (const auto& key : kKeys) {
    if (!data.contains(key)) {
      missing.push_back(key);
    }
  }
  if (!unknown.empty() || !missing.empty()) {
    throw DemoError("spec.json has unknown keys " + join(unknown) + " and lacks keys " + join(missing));
  }

  PreprocessingSpec spec;
  spec.spec_version = kSpecVersion;
  spec.max_length = get_integer(data, "max_length");
  if (!data["lowercase"].is_boolean()) {
    throw DemoError("spec.json: 'lowercase' must be true or false, got " + data["lowercase"].dump());
  }
  spec.lowercase = data["lowercase"].get<bool>();
  spec.digit_pattern = get_string(data, "digit_pattern");
  spec.digit_replacement = get_string(data, "digit_replacement");
  spec.url_pattern = get_string(data, "url_pattern");
  spec.url_token = get_string(data, "url_token");
  spec.tokenizer_name = get_string(data, "tokenizer_name");
  spec.padding_side = get_string(data, "padding_side");
  spec.truncation_side = get_string(data, "truncation_side");
  spec.pad_token = get_string(data, "pad_token");
  spec.pad_id = get_integer(data, "pad_id");
  spec.unk_token = get_string(data, "unk_token");
  spec.unk_id = get_integer(data, "unk_id");
  spec.max_characters = get_integer(data, "max_characters");
  spec.unicode_version = get_string(data, "unicode_version");
  if (!data["tokenizer_steps"].is_array()) {
    throw DemoError("spec.json: 'tokenizer_steps' must be a list, got " + data["tokenizer_steps"].dump());
  }
  for (std::size_t index = 0; index < data["tokenizer_steps"].size(); ++index) {
    spec.tokenizer_steps.push_back(parse_step(data["tokenizer_steps"][index], index));
  }

  if (spec.max_length < 1) {
    throw DemoError("spec.json: max_length must be a positive integer, got " + std::to_string(spec.max_length));
  }
  if (spec.max_characters < spec.max_length || spec.max_characters > kMaxCharactersLimit) {
    throw DemoError("spec.json: max_characters must be an integer from max_length (" +
                    std::to_string(spec.max_length) + ") to " + std::to_string(kMaxCharactersLimit) + ", got " +
                    std::to_string(spec.max_characters));
  }
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"padding_side", spec.padding_side},
                                   {"truncation_side", spec.truncation_side}}) {
    if (value != "right" && value != "left") {
      throw DemoError("spec.json: " + key + " must be 'right' or 'left', got '" + value + "'");
    }
  }
  if (spec.pad_id != 0 || spec.unk_id != 1) {
    throw DemoError("spec.json: pad_id and unk_id must be 0 and 1 (the vocabulary's first two lines), got " +
                    std::to_string(spec.pad_id) + " and " + std::to_string(spec.unk_id));
  }
  return spec;
}

}  // namespace sentiment
