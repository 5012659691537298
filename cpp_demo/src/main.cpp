// sentiment_demo: score raw text with a sentiment_export model -- TorchScript
// (model.pt) or AOTInductor package (model.pt2) -- exactly as the Python side
// does. See cpp_demo/README.md.
#include <unicode/uchar.h>
#include <unicode/uversion.h>

#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors.hpp"
#include "model_file.hpp"
#include "python_regex.hpp"
#include "spec.hpp"
#include "text_encoder.hpp"
#include "unicode_text.hpp"

namespace {

using sentiment::DemoError;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitSkipped = 3;
// The bounds of the numeric options: the Python CLI's MAX_THREADS (sentiment_export/cli/options.py) and
// the most texts a model.pt2 from sentiment_export accepts per call (SHAPE_BOUNDS, export/pt2.py).
constexpr std::size_t kMaxThreads = 256;
constexpr std::size_t kMaxBatchSize = 4096;

constexpr const char* kUsage =
    "usage: sentiment_demo MODEL [options] TEXT...\n"
    "       sentiment_demo MODEL [options] --stdin | --jsonl\n"
    "       sentiment_demo --version\n"
    "\n"
    "Scores each text with the model and prints one JSON line per text:\n"
    "  {\"index\": i, \"label\": \"positive\"|\"negative\", \"score\": p}   (positive iff p >= 0.5)\n"
    "MODEL is a model.pt (TorchScript) or model.pt2 (AOTInductor package) from\n"
    "sentiment_export; its embedded spec.json, vocab.txt and manifest.json are all\n"
    "the demo needs.\n"
    "\n"
    "options:\n"
    "  --stdin         texts from standard input, one per line (a \"\\r\" before \"\\n\" is dropped)\n"
    "  --jsonl         texts from standard input, one JSON string per line (texts may hold newlines)\n"
    "  --ids           print {\"index\": i, \"ids\": [...]} (the model's input, unpadded) instead of scores\n"
    "  --tokens        print {\"index\": i, \"tokens\": [...]} instead of scores\n"
    "  --benchmark     encode all texts, print one JSON line with the encoder's texts per second\n"
    "  --batch-size N  texts per model call, 1..4096 (default 64)\n"
    "  --threads N     libtorch intra-op threads, 1..256 (default: libtorch's choice; 1 is fastest\n"
    "                  for small models on a busy machine)\n"
    "  --              every later argument is a text\n"
    "\n"
    "An input that is not valid UTF-8 (or, with --jsonl, not a JSON string), or that the\n"
    "encoder fails on, is reported on stderr and as {\"index\": i, \"error\": \"...\"}, the\n"
    "others are still scored, and the exit status is 3. Exit status 1: the model was refused\n"
    "(a file that is not a sentiment_export model, or one changed or damaged after export);\n"
    "2: wrong arguments.\n";

enum class Output { kScores, kIds, kTokens, kBenchmark };
enum class Source { kArguments, kLines, kJsonLines };

struct Options {
  std::string model_path;
  Output output = Output::kScores;
  Source source = Source::kArguments;
  std::size_t batch_size = 64;
  std::size_t threads = 0;  // 0: libtorch's default
  std::vector<std::string> texts;
};

// One input: its text, or why it was skipped.
struct Input {
  std::size_t index = 0;
  std::string text;
  std::string error;
};

// `text` with each byte that is not part of well-formed UTF-8 replaced by U+FFFD: for messages that quote input.
std::string with_invalid_utf8_replaced(std::string_view text) {
  std::string clean;
  while (const auto bad = sentiment::find_invalid_utf8(text)) {
    clean.append(text.substr(0, *bad));
    clean += "\xEF\xBF\xBD";
    text.remove_prefix(*bad + 1);
  }
  clean.append(text);
  return clean;
}

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "sentiment_demo: " << message << "\n\n" << kUsage;
  std::exit(kExitUsage);
}

void set_once(Output& output, Output value, bool& set, const std::string& flag) {
  if (set) {
    usage_error(flag + " cannot be combined with another of --ids, --tokens, --benchmark");
  }
  output = value;
  set = true;
}

Options parse_arguments(int argc, char** argv) {
  Options options;
  bool output_set = false;
  bool texts_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (texts_only || arg.rfind("--", 0) != 0) {
      if (options.model_path.empty()) {
        options.model_path = arg;
      } else {
        options.texts.push_back(arg);
      }
    } else if (arg == "--") {
      texts_only = true;
    } else if (arg == "--stdin" || arg == "--jsonl") {
      if (options.source != Source::kArguments) {
        usage_error("--stdin and --jsonl exclude each other");
      }
      options.source = arg == "--stdin" ? Source::kLines : Source::kJsonLines;
    } else if (arg == "--ids") {
      set_once(options.output, Output::kIds, output_set, arg);
    } else if (arg == "--tokens") {
      set_once(options.output, Output::kTokens, output_set, arg);
    } else if (arg == "--benchmark") {
      set_once(options.output, Output::kBenchmark, output_set, arg);
    } else if (arg == "--batch-size" || arg == "--threads") {
      if (i + 1 >= argc) {
        usage_error(arg + " needs a number");
      }
      const std::string value = argv[++i];
      const std::size_t most = arg == "--threads" ? kMaxThreads : kMaxBatchSize;
      std::size_t parsed = 0;
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
      if (error != std::errc() || end != value.data() + value.size() || parsed == 0 || parsed > most) {
        usage_error(arg + " must be a positive integer of at most " + std::to_string(most) + ", got '" +
                    with_invalid_utf8_replaced(value) + "'");
      }
      (arg == "--threads" ? options.threads : options.batch_size) = parsed;
    } else {
      usage_error("unknown option " + with_invalid_utf8_replaced(arg));
    }
  }
  if (options.model_path.empty()) {
    usage_error("no model file given");
  }
  if (options.source == Source::kArguments && options.texts.empty()) {
    usage_error("give texts as arguments, or --stdin / --jsonl");
  }
  if (options.source != Source::kArguments && !options.texts.empty()) {
    usage_error("texts as arguments cannot be combined with --stdin / --jsonl");
  }
  return options;
}

Input make_input(std::size_t index, std::string raw, Source source) {
  Input input{index, {}, {}};
  if (source == Source::kJsonLines) {
    try {
      const auto value = nlohmann::json::parse(raw);
      if (!value.is_string()) {
        input.error = "not a JSON string";
        return input;
      }
      raw = value.get<std::string>();
    } catch (const nlohmann::json::exception& error) {
      // The parser quotes what it read, invalid bytes included: replaced, so the message is valid UTF-8.
      input.error = "not a JSON string (" + with_invalid_utf8_replaced(error.what()) + ")";
      return input;
    }
  }
  if (const auto bad = sentiment::find_invalid_utf8(raw)) {
    input.error = "invalid UTF-8 at byte " + std::to_string(*bad);
    return input;
  }
  input.text = std::move(raw);
  return input;
}

// Reads up to `count` more inputs; false once there are none left.
bool read_inputs(const Options& options, std::size_t& next_index, std::size_t count, std::vector<Input>& batch) {
  batch.clear();
  while (batch.size() < count) {
    std::string raw;
    if (options.source == Source::kArguments) {
      if (next_index >= options.texts.size()) {
        break;
      }
      raw = options.texts[next_index];
    } else {
      if (!std::getline(std::cin, raw)) {
        break;
      }
      if (options.source == Source::kLines && !raw.empty() && raw.back() == '\r') {
        raw.pop_back();
      }
    }
    batch.push_back(make_input(next_index++, std::move(raw), options.source));
  }
  return !batch.empty();
}

// Invalid UTF-8 (none should reach here: inputs are checked, messages cleaned) is replaced rather than thrown on.
std::string json_string(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string format_score(float score) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), score);  // shortest round-trip form
  return std::string(buffer, result.ptr);
}

// Reports each skipped input on stderr and returns how many there were.
std::size_t report_skipped(const std::vector<Input>& inputs) {
  std::size_t skipped = 0;
  for (const Input& input : inputs) {
    if (!input.error.empty()) {
      std::cerr << "sentiment_demo: input " << input.index << ": " << input.error << "; skipped\n";
      ++skipped;
    }
  }
  return skipped;
}

template <typename Items, typename Format>
std::string json_list(const Items& items, Format format) {
  std::string text = "[";
  for (std::size_t k = 0; k < items.size(); ++k) {
    text += (k ? ", " : "") + format(items[k]);
  }
  return text + "]";
}

// Runs `encode` on the input's text; a failure on this one text becomes its error, not the run's.
template <typename Encode>
auto encode_one(Input& input, Encode encode) -> std::optional<decltype(encode(input.text))> {
  try {
    return encode(input.text);
  } catch (const DemoError& error) {
    input.error = with_invalid_utf8_replaced(error.what());  // e.g. "tokenizer step 0 failed on a text: ..."
    return std::nullopt;
  }
}

// One JSON line per input of the batch, in input order; an input the encoder fails on gets its error.
void print_batch(const Options& options, const sentiment::TextEncoder& encoder, sentiment::SentimentModel& model,
                 std::vector<Input>& batch) {
  std::vector<std::string> lines(batch.size());
  std::vector<std::size_t> scored;  // positions in `batch` that go to the model
  std::vector<std::vector<int64_t>> rows;
  const auto ids = [&encoder](const std::string& text) { return encoder.encode_ids(text); };
  for (std::size_t position = 0; position < batch.size(); ++position) {
    Input& input = batch[position];
    const std::string head = "{\"index\": " + std::to_string(input.index) + ", ";
    if (input.error.empty() && options.output == Output::kTokens) {
      if (auto tokens = encode_one(input, [&encoder](const std::string& text) { return encoder.tokenize(text); })) {
        lines[position] = head + "\"tokens\": " + json_list(*tokens, json_string) + "}";
      }
    } else if (input.error.empty() && options.output == Output::kIds) {
      if (auto row = encode_one(input, ids)) {
        lines[position] = head + "\"ids\": " + json_list(*row, [](int64_t id) { return std::to_string(id); }) + "}";
      }
    } else if (input.error.empty()) {
      if (auto row = encode_one(input, ids)) {
        scored.push_back(position);
        rows.push_back(std::move(*row));
      }
    }
    if (!input.error.empty()) {
      lines[position] = head + "\"error\": " + json_string(input.error) + "}";
    }
  }
  if (!rows.empty()) {
    int64_t width = 0;
    const std::vector<int64_t> matrix = encoder.pad(rows, width);
    const std::vector<float> scores = model.probabilities(matrix, static_cast<int64_t>(rows.size()), width);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      lines[scored[r]] = "{\"index\": " + std::to_string(batch[scored[r]].index) + ", \"label\": \"" +
                         (scores[r] >= 0.5f ? "positive" : "negative") + "\", \"score\": " +
                         format_score(scores[r]) + "}";
    }
  }
  for (const std::string& line : lines) {
    std::cout << line << "\n";
  }
}

// Encodes every input once and reports the encoder's throughput (reading and
// loading are outside the timed part).
std::size_t run_benchmark(const Options& options, const sentiment::TextEncoder& encoder) {
  std::vector<Input> inputs;
  std::size_t next_index = 0;
  std::vector<Input> batch;
  while (read_inputs(options, next_index, kMaxBatchSize, batch)) {
    inputs.insert(inputs.end(), batch.begin(), batch.end());
  }
  std::size_t texts = 0;
  std::size_t ids = 0;
  const auto start = std::chrono::steady_clock::now();
  for (Input& input : inputs) {
    if (input.error.empty()) {
      if (const auto row = encode_one(input, [&encoder](const std::string& text) { return encoder.encode_ids(text); })) {
        ids += row->size();
        ++texts;
      }
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::size_t skipped = report_skipped(inputs);
  std::cout << "{\"texts\": " << texts << ", \"ids\": " << ids << ", \"encode_seconds\": " << seconds
            << ", \"texts_per_second\": " << (seconds > 0 ? texts / seconds : 0.0) << "}\n";
  return skipped;
}

void print_versions() {
  char pcre2_version[64] = {};
  char pcre2_unicode[64] = {};
  pcre2_config(PCRE2_CONFIG_VERSION, pcre2_version);
  pcre2_config(PCRE2_CONFIG_UNICODE_VERSION, pcre2_unicode);
  std::cout << "sentiment_demo: spec version " << sentiment::kSpecVersion << ", libtorch "
            << sentiment::libtorch_version() << (sentiment::aoti_supported() ? " (with AOTInductor)" : "") << ", PCRE2 " << pcre2_version << " (Unicode " << pcre2_unicode
            << "), ICU " << U_ICU_VERSION << " (Unicode " << U_UNICODE_VERSION << "; characters newer than Unicode "
            << sentiment::reproduced_unicode_version() << " count as unassigned)\n";
}

int run(const Options& options) {
  const sentiment::EmbeddedFiles files = sentiment::read_embedded_files(options.model_path);
  const std::string written_by = sentiment::check_torch_version(files.manifest_json, options.model_path);
  const sentiment::TextEncoder encoder(sentiment::parse_spec(files.spec_json), files.vocab_text);
  std::size_t skipped = 0;
  if (options.output == Output::kBenchmark) {
    skipped = run_benchmark(options, encoder);
  } else {
    if (options.threads > 0) {
      sentiment::set_torch_threads(static_cast<int>(options.threads));
    }
    sentiment::SentimentModel model(options.model_path, files, written_by, static_cast<int64_t>(options.batch_size));
    std::size_t next_index = 0;
    std::vector<Input> batch;
    while (read_inputs(options, next_index, options.batch_size, batch)) {
      print_batch(options, encoder, model, batch);
      skipped += report_skipped(batch);
    }
  }
  std::cout.flush();
  if (skipped > 0) {
    std::cerr << "sentiment_demo: " << skipped << " input(s) skipped\n";
    return kExitSkipped;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  if (argc == 2 && std::string(argv[1]) == "--version") {
    print_versions();
    return 0;
  }
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  const Options options = parse_arguments(argc, argv);
  try {
    return run(options);
  } catch (const DemoError& error) {
    std::cerr << "sentiment_demo: error: " << error.what() << "\n";
    return kExitError;
  } catch (const std::exception& error) {  // a bug or resource failure, not a user error
    std::cerr << "sentiment_demo: internal error: " << error.what() << "\n";
    return kExitError;
  }
}
