// vkv-lab's command line, run as a real process (VKV_LAB_BINARY is its path): bad
// input gets exit status 2 and one line naming the problem, with nothing run or
// written; a tiny sweep writes JSON, CSV and HTML that parse back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "lab/lab_run.hpp"

namespace {

namespace fs = std::filesystem;

using vkv_test::lab::LabRun;
using vkv_test::lab::run_lab;
using vkv_test::lab::slurp;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::path(::testing::TempDir()) /
            ("vkv-lab-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

// Usage errors: status 2, exactly one line on stderr mentioning `needle`, nothing
// on stdout (the sweep never started) and no file left behind.
void expect_usage_error(const std::string& args, const std::string& needle) {
  TempDir dir;
  const LabRun run = run_lab(args, dir.path());
  EXPECT_EQ(run.status, 2) << args << "\n" << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << args << "\n" << run.err;
  EXPECT_EQ(run.err.rfind("vkv-lab: error: ", 0), 0u) << run.err;
  EXPECT_NE(run.err.find(needle), std::string::npos) << "wanted '" << needle << "' in: " << run.err;
  EXPECT_EQ(run.out, "") << args;
  EXPECT_TRUE(entries(dir.path()).empty()) << args;
}

TEST(VkvLabCli, UnknownFlag) {
  expect_usage_error("sweep --bogus", "--bogus");
  expect_usage_error("--frobnicate", "--frobnicate");
  expect_usage_error("nonsense", "nonsense");
}

TEST(VkvLabCli, NegativeZipfTheta) {
  expect_usage_error("sweep --zipf=-1", "--zipf");
  expect_usage_error("sweep --zipf -0.5", "--zipf");
  expect_usage_error("sweep --zipf abc", "--zipf");
}

TEST(VkvLabCli, ZeroOrNegativeThreads) {
  expect_usage_error("sweep --threads 0", "--threads");
  expect_usage_error("sweep --threads=2,-1", "--threads");
  expect_usage_error("sweep --threads 1,,2", "--threads");
  expect_usage_error("sweep --keys 0", "--keys");
}

TEST(VkvLabCli, WriteShareOutsideZeroOne) {
  expect_usage_error("sweep --write-share 1.5", "--write-share");
  expect_usage_error("sweep --write-share=-0.1", "--write-share");
  expect_usage_error("sweep --write-share 1,0.1,2", "--write-share");
  expect_usage_error("sweep --write-share 1,,0.1", "--write-share");
}

TEST(VkvLabCli, BadDurationAndRounds) {
  expect_usage_error("sweep --duration 0", "--duration");
  expect_usage_error("race --rounds 0", "--rounds");
}

TEST(VkvLabCli, UnknownStrategy) {
  expect_usage_error("sweep --strategies full-jitter,bogus", "'bogus'");
}

TEST(VkvLabCli, BadWindow) {
  expect_usage_error("sweep --windows busy-5", "'busy-5'");
  expect_usage_error("sweep --windows sleep-1us", "--windows");
  expect_usage_error("sweep --windows 0,,busy-1us", "--windows");
}

TEST(VkvLabCli, UnwritableOutputIsRefusedBeforeRunning) {
  expect_usage_error("sweep --json /nonexistent-vkv-dir/x.json", "/nonexistent-vkv-dir/x.json");
  expect_usage_error("sweep --csv /", "--csv");
  expect_usage_error("--out /nonexistent-vkv-dir", "/nonexistent-vkv-dir");
}

TEST(VkvLabCli, HelpListsTheSubcommands) {
  TempDir dir;
  const LabRun run = run_lab("--help", dir.path());
  EXPECT_EQ(run.status, 0);
  EXPECT_NE(run.out.find("sweep"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("race"), std::string::npos) << run.out;
}

// What a user reads names the lab's own targets and figures, never an internal issue
// number.
TEST(VkvLabCli, HelpCitesNoIssueNumbers) {
  for (const char* args :
       {"--help", "sweep --help", "race --help", "cache --help", "stall --help", "herd --help"}) {
    TempDir dir;
    const LabRun run = run_lab(args, dir.path());
    EXPECT_EQ(run.status, 0) << args << "\n" << run.err;
    std::string text = run.out + run.err;
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    EXPECT_EQ(text.find("issue "), std::string::npos) << args << ":\n" << run.out;
  }
}

// --- A minimal JSON reader: enough to check vkv-lab's files are well formed and to
// read the figures back. Throws std::runtime_error on malformed input.
struct Json;
using JsonObject = std::map<std::string, Json>;
using JsonArray = std::vector<Json>;
struct Json {
  std::variant<std::nullptr_t, bool, double, std::string, JsonArray, JsonObject> value;
  const JsonObject& object() const { return std::get<JsonObject>(value); }
  const JsonArray& array() const { return std::get<JsonArray>(value); }
  double number() const { return std::get<double>(value); }
  const std::string& string() const { return std::get<std::string>(value); }
  const Json& operator[](const std::string& key) const { return object().at(key); }
};

class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : text_(text) {}

  Json document() {
    Json value = parse_value();
    skip_space();
    if (pos_ != text_.size()) fail("trailing characters");
    return value;
  }

 private:
  [[noreturn]] void fail(const std::string& why) {
    throw std::runtime_error("JSON: " + why + " at offset " + std::to_string(pos_));
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  char peek() {
    skip_space();
    if (pos_ >= text_.size()) fail("unexpected end");
    return text_[pos_];
  }
  void expect(char ch) {
    if (peek() != ch) fail(std::string("expected '") + ch + "'");
    ++pos_;
  }
  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  Json parse_value() {
    const char ch = peek();
    if (ch == '{') return parse_object();
    if (ch == '[') return parse_array();
    if (ch == '"') return Json{parse_string()};
    if (literal("true")) return Json{true};
    if (literal("false")) return Json{false};
    if (literal("null")) return Json{nullptr};
    return Json{parse_number()};
  }
  Json parse_object() {
    expect('{');
    JsonObject object;
    if (peek() == '}') {
      ++pos_;
      return Json{std::move(object)};
    }
    for (;;) {
      if (peek() != '"') fail("expected a key");
      std::string key = parse_string();
      expect(':');
      if (!object.emplace(key, parse_value()).second) fail("duplicate key " + key);
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}');
      return Json{std::move(object)};
    }
  }
  Json parse_array() {
    expect('[');
    JsonArray array;
    if (peek() == ']') {
      ++pos_;
      return Json{std::move(array)};
    }
    for (;;) {
      array.push_back(parse_value());
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect(']');
      return Json{std::move(array)};
    }
  }
  std::string parse_string() {
    expect('"');
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char ch = text_[pos_++];
      if (static_cast<unsigned char>(ch) < 0x20) fail("control character in string");
      if (ch == '\\') {
        if (pos_ >= text_.size()) fail("dangling escape");
        const char escaped = text_[pos_++];
        switch (escaped) {
          case '"':
          case '\\':
          case '/':
            out += escaped;
            break;
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case 'r':
            out += '\r';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'u':
            if (pos_ + 4 > text_.size()) fail("short \\u escape");
            for (int i = 0; i < 4; ++i) {
              if (!std::isxdigit(static_cast<unsigned char>(text_[pos_ + i]))) fail("bad \\u");
            }
            pos_ += 4;
            out += '?';
            break;
          default:
            fail("bad escape");
        }
      } else {
        out += ch;
      }
    }
    if (pos_ >= text_.size()) fail("unterminated string");
    ++pos_;
    return out;
  }
  double parse_number() {
    // JSON's grammar: -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?
    const std::size_t start = pos_;
    auto digits = [&] {
      const std::size_t from = pos_;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      if (pos_ == from) fail("expected a digit");
    };
    if (text_[pos_] == '-') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '0') {
      ++pos_;
    } else {
      digits();
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      digits();
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      digits();
    }
    return std::stod(std::string(text_.substr(start, pos_ - start)));
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

TEST(VkvLabJsonReader, RejectsMalformedDocuments) {
  // The reader the sweep test relies on must be able to say no.
  for (const char* bad :
       {"{", "{\"a\":}", "[1,]", "{\"a\":1,\"a\":2}", "01", "\"x", "[1] 2", "{\"a\":nul}", "-"}) {
    EXPECT_THROW(JsonReader(bad).document(), std::runtime_error) << bad;
  }
  EXPECT_EQ(JsonReader("{\"a\": [1, -2.5e3, true, null, \"s\\n\"]}").document()["a"].array().size(),
            5u);
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  if (!text.empty() && text.back() == separator) parts.emplace_back();
  return parts;
}

TEST(VkvLabCli, TinySweepWritesWellFormedReports) {
  TempDir dir;
  const LabRun run = run_lab(
      "sweep --threads 1,2 --keys 1 --strategies no-backoff,full-jitter --duration 0.02 "
      "--json out.json --csv out.csv --html out.html",
      dir.path());
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.err, "") << "no progress bar when stderr is not a terminal";
  EXPECT_NE(run.out.find("Finding: "), std::string::npos) << run.out;

  // Only the three reports (and no temporary files) are left.
  auto names = entries(dir.path());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"out.csv", "out.html", "out.json"}));

  // JSON: well formed; one cell per (threads, strategy); figures consistent.
  const Json report = JsonReader(slurp(dir / "out.json")).document();
  EXPECT_EQ(report["tool"].string(), "vkv-lab");
  EXPECT_GT(report["machine"]["cpus"].number(), 0);
  const auto& cells = report["cells"].array();
  ASSERT_EQ(cells.size(), 4u);
  std::set<std::pair<int, std::string>> seen;
  for (const Json& cell : cells) {
    seen.emplace(static_cast<int>(cell["threads"].number()), cell["strategy"].string());
    EXPECT_EQ(cell["keys"].number(), 1);
    EXPECT_EQ(cell["duration_ms"].number(), 20);
    EXPECT_GT(cell["committed"].number(), 0);
    // Every write commits at most once, after at least one attempt.
    EXPECT_GE(cell["attempts"].number(), cell["writes"].number());
    EXPECT_GE(cell["conflict_rate"].number(), 0);
    EXPECT_LE(cell["conflict_rate"].number(), 1);
    EXPECT_GT(cell["goodput"].number(), 0);
  }
  EXPECT_EQ(seen,
            (std::set<std::pair<int, std::string>>{
                {1, "no-backoff"}, {1, "full-jitter"}, {2, "no-backoff"}, {2, "full-jitter"}}));
  const std::string finding = report["finding"].string();
  EXPECT_TRUE(finding.find("no-backoff") != std::string::npos ||
              finding.find("full-jitter") != std::string::npos)
      << finding;
  EXPECT_NE(run.out.find(finding), std::string::npos) << "the printed finding is the saved one";

  // CSV: a header and one row per cell, all with the header's column count.
  const auto lines = split(slurp(dir / "out.csv"), '\n');
  ASSERT_EQ(lines.size(), 6u);  // header, 4 rows, and the empty piece after the last '\n'
  EXPECT_EQ(lines.back(), "");
  const std::size_t columns = split(lines[0], ',').size();
  EXPECT_GT(columns, 10u);
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(split(lines[i], ',').size(), columns) << lines[i];
  }

  // HTML: a whole document with inline SVG charts.
  const std::string html = slurp(dir / "out.html");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  std::size_t open_svg = 0, close_svg = 0;
  for (auto at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) {
    ++open_svg;
  }
  for (auto at = html.find("</svg>"); at != std::string::npos; at = html.find("</svg>", at + 1)) {
    ++close_svg;
  }
  EXPECT_GE(open_svg, 2u);
  EXPECT_EQ(open_svg, close_svg);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_EQ(html.substr(html.size() - 8), "</html>\n");
}

// The window sweep: every cell names its window, writes take at least their busy
// window, and the finding's per-window winner is the strategy the JSON shows with the
// best goodput in that window (the finding is computed, not asserted).
TEST(VkvLabCli, WindowSweepNamesEachWindowsWinner) {
  TempDir dir;
  const LabRun run = run_lab(
      "sweep --threads 2 --keys 1 --windows 0,busy-20us --strategies full-jitter,pessimistic "
      "--duration 0.02 --json out.json --csv out.csv",
      dir.path());
  ASSERT_EQ(run.status, 0) << run.err;
  const Json report = JsonReader(slurp(dir / "out.json")).document();
  const auto& cells = report["cells"].array();
  ASSERT_EQ(cells.size(), 4u);
  std::map<std::string, std::pair<std::string, double>> best;  // window -> (strategy, goodput)
  for (const Json& cell : cells) {
    const std::string window = cell["window"].string();
    ASSERT_TRUE(window == "0" || window == "busy-20us") << window;
    EXPECT_EQ(cell["window_kind"].string(), window == "0" ? "none" : "busy");
    EXPECT_EQ(cell["window_ns"].number(), window == "0" ? 0 : 20000);
    EXPECT_GT(cell["latency_samples"].number(), 0);
    if (window != "0") {
      EXPECT_GE(cell["write_latency_p50_ns"].number(), 20000 * 0.97);
    }
    EXPECT_LE(cell["write_latency_p50_ns"].number(), cell["write_latency_p99_ns"].number());
    auto& [strategy, goodput] = best[window];
    if (cell["goodput"].number() > goodput) {
      strategy = cell["strategy"].string();
      goodput = cell["goodput"].number();
    }
  }
  const std::string finding = report["finding"].string();
  for (const auto& [window, label] : std::map<std::string, std::string>{
           {"0", "no window: "}, {"busy-20us", "busy 20 \u00b5s: "}}) {
    const auto at = finding.find(label);
    ASSERT_NE(at, std::string::npos) << label << " in: " << finding;
    EXPECT_EQ(finding.substr(at + label.size(), best[window].first.size() + 4),
              best[window].first + " in ")
        << finding;
  }
  EXPECT_NE(finding.find("over pessimistic's"), std::string::npos) << finding;
  const auto lines = split(slurp(dir / "out.csv"), '\n');
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_NE(lines[0].find(",window,window_kind,window_ns,"), std::string::npos) << lines[0];
}

// The read share as a dimension: one group per (share, window); reads and writes have
// their own latency; the finding names each group's winner as the JSON shows it.
TEST(VkvLabCli, ReadShareSweepReportsReadsAndWritesApart) {
  TempDir dir;
  const LabRun run = run_lab(
      "sweep --threads 2 --keys 1 --write-share 1,0.1 --strategies full-jitter,pessimistic "
      "--duration 0.02 --json out.json",
      dir.path());
  ASSERT_EQ(run.status, 0) << run.err;
  const Json report = JsonReader(slurp(dir / "out.json")).document();
  const auto& cells = report["cells"].array();
  ASSERT_EQ(cells.size(), 4u);
  std::map<double, std::pair<std::string, double>> best;  // write share -> winner
  for (const Json& cell : cells) {
    const double write_share = cell["write_share"].number();
    ASSERT_TRUE(write_share == 1 || write_share == 0.1) << write_share;
    if (write_share == 1) {
      EXPECT_EQ(cell["reads"].number(), 0);
      EXPECT_EQ(cell["read_latency_p99_ns"].number(), 0);
    } else {
      EXPECT_GT(cell["reads"].number(), cell["writes"].number());
      EXPECT_GT(cell["read_latency_p99_ns"].number(), 0);
      EXPECT_LE(cell["read_latency_p99_ns"].number(), cell["read_latency_max_ns"].number());
    }
    EXPECT_LE(cell["write_latency_p99_ns"].number(), cell["write_latency_max_ns"].number());
    auto& [strategy, goodput] = best[write_share];
    if (cell["goodput"].number() > goodput) {
      strategy = cell["strategy"].string();
      goodput = cell["goodput"].number();
    }
  }
  const std::string finding = report["finding"].string();
  for (const auto& [write_share, label] : std::map<double, std::string>{
           {1.0, "0% reads, no window: "}, {0.1, "90% reads, no window: "}}) {
    const auto at = finding.find(label);
    ASSERT_NE(at, std::string::npos) << label << " in: " << finding;
    EXPECT_EQ(finding.substr(at + label.size(), best[write_share].first.size() + 4),
              best[write_share].first + " in ")
        << finding;
  }
  EXPECT_NE(run.out.find("read p99"), std::string::npos) << run.out;
}

}  // namespace
