// Malformed and hostile YAML never crashes the loader: it returns
// InvalidArgument (or loads) and every error has a position.
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/policy.h"

namespace tidewatch::policy {
namespace {

using ::testing::HasSubstr;

// Loads `yaml`; it must fail cleanly or succeed, and every error must carry
// a line.
void LoadsOrFailsCleanly(const std::string& yaml) {
  CompiledPolicy compiled;
  std::vector<PolicyError> errors;
  const absl::Status status = LoadPolicyYamlDetailed(yaml, "fuzz.yaml", &compiled, &errors);
  if (status.ok()) {
    EXPECT_TRUE(errors.empty());
    return;
  }
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  ASSERT_FALSE(errors.empty());
  for (const PolicyError& e : errors) {
    if (e.message.find("more error") != std::string::npos) continue;  // the cap line
    EXPECT_GT(e.line, 0) << e.ToString("fuzz.yaml") << "\nin:\n" << yaml;
  }
}

TEST(MalformedYamlTest, HandPickedInputs) {
  const std::vector<std::string> inputs = {
      "",
      "\n\n\n",
      "~",
      "null",
      "42",
      "'just a string'",
      "[1, 2, 3]",
      "{",
      "}",
      "[",
      ":",
      "- - -",
      "? complex: key\n: value\n",
      "{[1, 2]: x}\n",
      "lines: {? [a]: {}}\n",
      "name: \"unterminated\n",
      "name: 'unterminated\n",
      "lines:\n\t revenues: {}\n",
      "lines: &a {x: *a}\n",
      "lines: *undefined\n",
      "lines: !!binary AAAA\n",
      "lines: {x: {tiers: [[[[[]]]]]}}\n",
      "lines: {x: {tiers: [{enter: {any: [[], {}, 1, ~]}}]}}\n",
      "lines: {x: {tiers: [{callups: [1, [], {headcount: {}}]}]}}\n",
      "windows: {a: b}\nlines: 3\nteams: [1]\ndefaults: x\n",
      "windows: [~, [], {}, inf, -inf, 1e400s, 99999999999999999h]\nlines: {x: {}}\n",
      "lines: {x: {opening_hours: {weekly: [{days: [[]], open: [], close: {}}]}}}\n",
      "lines: {x: {targets: {abandon_rate: nan, answer_rate: inf, service_level: -inf}}}\n",
      "lines: {x: {tiers: [{level: 99999999999999999999}]}}\n",
      std::string("name: \0nul\n", 11),
      "\xff\xfe\xfd: \x80\x81\n",
      "---\n...\n---\n",
      // yaml-cpp 0.7's LoadAll() loops forever on these (jbeder/yaml-cpp#1319).
      "\"\",h",
      ",",
      "lines: {x: {}}\n,\n",
      "[:",
      "{:",
      "- !+(.,.)",
      "%YAML 1.2\n---\nlines: {x: {}}\n",
      "%BOGUS directive\n---\n{}\n",
      "lines:\n  x:\n    tiers:\n      - level: 1\n        enter: {any: [{metric: avg_wait, "
      "window: 15m, above: 1e308s}]}\n",
  };
  for (const std::string& input : inputs) {
    SCOPED_TRACE(input);
    LoadsOrFailsCleanly(input);
  }
}

TEST(MalformedYamlTest, DeepNesting) {
  const int depth = 100000;
  LoadsOrFailsCleanly(std::string(depth, '[') + std::string(depth, ']'));
  LoadsOrFailsCleanly(std::string(depth, '{'));
  std::string nested_maps;
  for (int i = 0; i < 5000; ++i) absl::StrAppend(&nested_maps, std::string(i, ' '), "a:\n");
  LoadsOrFailsCleanly(nested_maps);
}

TEST(MalformedYamlTest, AliasExpansionIsBounded) {
  // 10 clauses, 100 tiers using them, 100 lines using the tiers: about
  // 600,000 nodes once aliases are expanded, from a few kilobytes of text.
  std::string yaml = "teams: {}\nlines:\n  l0: &line\n    tiers: &tiers\n";
  absl::StrAppend(&yaml, "      - &tier {level: 1, enter: {any: &clauses [");
  for (int i = 0; i < 10; ++i) {
    absl::StrAppend(&yaml, i ? ", " : "", "{metric: calls_waiting, above: ", i + 1, "}");
  }
  absl::StrAppend(&yaml, "]}, exit: {all: *clauses}}\n");
  for (int i = 1; i < 100; ++i) absl::StrAppend(&yaml, "      - *tier\n");
  for (int i = 1; i < 100; ++i) absl::StrAppend(&yaml, "  l", i, ": *line\n");
  ASSERT_LT(yaml.size(), 10000u);
  const absl::StatusOr<CompiledPolicy> policy = LoadPolicyYaml(yaml, "bomb.yaml");
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(std::string(policy.status().message()), HasSubstr("the policy is too large"));
}

TEST(MalformedYamlTest, EveryTruncationOfTheDefaultPolicy) {
  const std::string text(DefaultPolicyYaml());
  for (size_t n = 0; n < text.size(); n += 7) {
    SCOPED_TRACE(n);
    LoadsOrFailsCleanly(text.substr(0, n));
  }
}

TEST(MalformedYamlTest, RandomMutationsOfTheDefaultPolicy) {
  const std::string text(DefaultPolicyYaml());
  std::mt19937 rng(20221003);  // fixed seed: the same inputs every run
  const std::string alphabet = "{}[]:,-#&*!|>'\"%@` \t\n?0123456789abcdefsmh.~";
  for (int round = 0; round < 1500; ++round) {
    std::string mutated = text;
    const int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % (mutated.size() + 1);
      switch (rng() % 4) {
        case 0:  // insert
          mutated.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 1:  // delete
          if (pos < mutated.size()) mutated.erase(pos, 1 + rng() % 8);
          break;
        case 2:  // replace
          if (pos < mutated.size()) mutated[pos] = alphabet[rng() % alphabet.size()];
          break;
        default: {  // duplicate a chunk elsewhere
          const size_t from = rng() % mutated.size();
          mutated.insert(pos, mutated.substr(from, 1 + rng() % 40));
          break;
        }
      }
    }
    SCOPED_TRACE(round);
    LoadsOrFailsCleanly(mutated);
  }
}

}  // namespace
}  // namespace tidewatch::policy
