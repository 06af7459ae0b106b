#include "policy/yaml_mapper.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/message.h"
#include "policy/compiled_policy.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace tidewatch::policy::internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Upper bound on YAML nodes visited. Aliases can make a small document
// expand enormously; no real policy comes near this.
constexpr int kMaxNodes = 200000;

Location LocationOf(const YAML::Node& node, Location fallback) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0 || mark.column < 0) return fallback;
  return Location{mark.line + 1, mark.column + 1};
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar: {
      std::string text = node.Scalar();
      if (text.size() > 40) text = absl::StrCat(text.substr(0, 37), "...");
      return absl::StrCat("'", text, "'");
    }
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "an undefined node";
  }
}

// Levenshtein distance, for "did you mean" hints.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string UnknownKeyMessage(absl::string_view what, absl::string_view key,
                              const std::vector<std::string>& allowed) {
  std::string message =
      absl::StrCat("unknown ", what, " '", key, "'; allowed: ", absl::StrJoin(allowed, ", "));
  // Suggest a close match: a small edit away, or the key is the start of
  // a longer name ("display" -> "display_name").
  const std::string lower = absl::AsciiStrToLower(key);
  std::string best;
  size_t best_distance = 3;
  for (const std::string& candidate : allowed) {
    size_t distance = EditDistance(lower, candidate);
    if (lower.size() >= 4 && absl::StartsWith(candidate, lower))
      distance = std::min<size_t>(distance, 2);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  if (!best.empty()) absl::StrAppend(&message, " (did you mean '", best, "'?)");
  return message;
}

std::vector<std::string> AllMetricNames() {
  std::vector<std::string> names;
  const EnumDescriptor* descriptor = tidewatch::v1::Metric_descriptor();
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const auto metric = static_cast<tidewatch::v1::Metric>(descriptor->value(i)->number());
    if (metric != tidewatch::v1::METRIC_UNSPECIFIED) names.emplace_back(MetricText(metric));
  }
  return names;
}

// Short lower-case name of an enum value: METRIC_AVG_WAIT -> avg_wait. The
// prefix is taken from the enum's zero value (METRIC_UNSPECIFIED).
std::string ShortEnumName(const EnumValueDescriptor* value) {
  std::string prefix;
  const EnumDescriptor* type = value->type();
  if (type->value_count() > 0) {
    const std::string& zero = type->value(0)->name();
    const size_t underscore = zero.find('_');
    if (underscore != std::string::npos) prefix = zero.substr(0, underscore + 1);
  }
  absl::string_view name = value->name();
  absl::ConsumePrefix(&name, prefix);
  return absl::AsciiStrToLower(name);
}

void SetDurationProto(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
}

// Parses a duration written with a unit ("180s", "15m", "1h30m").
bool ParseDurationText(absl::string_view text, absl::Duration* out, std::string* error) {
  text = absl::StripAsciiWhitespace(text);
  double number;
  if (absl::SimpleAtod(text, &number)) {
    *error = absl::StrCat("bare number ", text, " is not a duration; write it with a unit, e.g. \"",
                          text, "s\" (or \"15m\", \"1h30m\")");
    return false;
  }
  absl::Duration d;
  if (!absl::ParseDuration(std::string(text), &d)) {
    *error =
        absl::StrCat("'", text, "' is not a duration; write e.g. \"180s\", \"15m\" or \"1h30m\"");
    return false;
  }
  if (d == absl::InfiniteDuration() || d == -absl::InfiniteDuration()) {
    *error = absl::StrCat("'", text, "': a duration must be finite");
    return false;
  }
  *out = d;
  return true;
}

// Parses a number; "10%" is 0.10 when `allow_percent`.
bool ParseNumberText(absl::string_view text, bool allow_percent, double* out) {
  text = absl::StripAsciiWhitespace(text);
  double scale = 1;
  if (allow_percent && absl::ConsumeSuffix(&text, "%")) {
    text = absl::StripTrailingAsciiWhitespace(text);
    scale = 0.01;
  }
  double value;
  if (!absl::SimpleAtod(text, &value) || !std::isfinite(value)) return false;
  *out = value * scale;
  return true;
}

// Records where the first document it sees starts.
class DocumentProbe final : public YAML::EventHandler {
 public:
  std::optional<Location> start;

  void OnDocumentStart(const YAML::Mark& mark) override { Note(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Note(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Note(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Note(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Note(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Note(mark);
  }
  void OnMapEnd() override {}

 private:
  void Note(const YAML::Mark& mark) {
    if (!start && mark.line >= 0) start = Location{mark.line + 1, mark.column + 1};
  }
};

// Where a second YAML document in `text` starts, if there is one. Parses at
// most two documents. Throws what yaml-cpp throws.
std::optional<Location> FindSecondDocument(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentProbe first;
  if (!parser.HandleNextDocument(first)) return std::nullopt;
  DocumentProbe second;
  if (!parser.HandleNextDocument(second)) return std::nullopt;
  return second.start.value_or(Location{1, 1});
}

// Walks the YAML tree alongside the protobuf descriptors, filling the
// message, recording positions and reporting problems.
class Mapper {
 public:
  Mapper(SourceMap* source_map, Diagnostics* diag) : source_map_(source_map), diag_(diag) {}

  void MapRoot(const YAML::Node& root, tidewatch::v1::Policy* out) {
    const Location location = LocationOf(root, Location{1, 1});
    source_map_->Record("", location);
    if (root.IsNull()) return;
    if (!root.IsMap()) {
      Error("", location,
            absl::StrCat("a policy is a mapping (name:, windows:, defaults:, teams:, lines:), got ",
                         Describe(root)));
      return;
    }
    MapMessage(root, out, "", location);
  }

 private:
  void Error(absl::string_view path, Location location, std::string message) {
    diag_->AddSchema(path, location, std::move(message));
  }

  // Counts a visited node; false (after one error) once over budget.
  bool Budget(absl::string_view path, Location location) {
    if (++nodes_ <= kMaxNodes) return true;
    if (nodes_ == kMaxNodes + 1) {
      Error(path, location,
            absl::StrCat("the policy is too large (over ", kMaxNodes,
                         " YAML nodes once aliases are expanded)"));
    }
    return false;
  }

 public:
  // True once the node budget ran out: the mapping stopped part way.
  bool exhausted() const { return nodes_ > kMaxNodes; }

 private:
  // Calls fn(key, key_location, value, child_path) for each entry of a
  // mapping, after checking that keys are unique scalars and recording
  // their positions.
  template <typename Fn>
  void ForEachEntry(const YAML::Node& node, const std::string& path, Location location, Fn fn) {
    std::set<std::string, std::less<>> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      const Location key_location = LocationOf(key, location);
      if (!Budget(path, key_location)) return;
      if (!key.IsScalar()) {
        Error(path, key_location, absl::StrCat("a key must be a plain name, got ", Describe(key)));
        continue;
      }
      const std::string& name = key.Scalar();
      const std::string child = JoinKey(path, name);
      if (!seen.insert(name).second) {
        Error(child, key_location, absl::StrCat("duplicate key '", name, "'"));
        continue;
      }
      source_map_->Record(child, key_location);
      fn(name, key_location, value, child);
    }
  }

  // Checks `node` is a mapping (or null: an empty one). False otherwise.
  bool ExpectMap(const YAML::Node& node, const std::string& path, Location location,
                 absl::string_view what) {
    if (node.IsNull() || node.IsMap()) return true;
    Error(path, location, absl::StrCat("expected ", what, ", got ", Describe(node)));
    return false;
  }

  // Checks `node` is a sequence (or null: an empty one). False otherwise.
  bool ExpectSequence(const YAML::Node& node, const std::string& path, Location location,
                      absl::string_view example) {
    if (node.IsNull() || node.IsSequence()) return true;
    Error(path, location,
          absl::StrCat("expected a sequence, e.g. ", example, ", got ", Describe(node)));
    return false;
  }

  // The text of a scalar; an error for anything else.
  bool ScalarText(const YAML::Node& node, const std::string& path, Location location,
                  absl::string_view what, std::string* out) {
    if (node.IsScalar()) {
      *out = node.Scalar();
      return true;
    }
    Error(path, location, absl::StrCat("expected ", what, ", got ", Describe(node)));
    return false;
  }

  bool ParseDuration(const YAML::Node& node, const std::string& path, Location location,
                     absl::Duration* out) {
    std::string text;
    if (!ScalarText(node, path, location, "a duration such as \"180s\" or \"15m\"", &text)) {
      return false;
    }
    std::string error;
    if (!ParseDurationText(text, out, &error)) {
      Error(path, location, error);
      return false;
    }
    return true;
  }

  static std::vector<std::string> FieldNames(const Descriptor* descriptor) {
    std::vector<std::string> names;
    for (int i = 0; i < descriptor->field_count(); ++i) {
      names.push_back(descriptor->field(i)->name());
    }
    return names;
  }

  void MapMessage(const YAML::Node& node, Message* message, const std::string& path,
                  Location location) {
    const Descriptor* descriptor = message->GetDescriptor();
    if (descriptor == tidewatch::v1::Condition::descriptor()) {
      MapCondition(node, static_cast<tidewatch::v1::Condition*>(message), path, location);
      return;
    }
    if (descriptor == tidewatch::v1::Clause::descriptor()) {
      MapClause(node, static_cast<tidewatch::v1::Clause*>(message), path, location);
      return;
    }
    if (descriptor == tidewatch::v1::CallUpSpec::descriptor()) {
      MapCallUp(node, static_cast<tidewatch::v1::CallUpSpec*>(message), path, location);
      return;
    }
    const std::string what = absl::StrCat("a mapping (", descriptor->name(), ")");
    if (!ExpectMap(node, path, location, what)) return;
    ForEachEntry(node, path, location,
                 [&](const std::string& key, Location key_location, const YAML::Node& value,
                     const std::string& child) {
                   const FieldDescriptor* field = descriptor->FindFieldByName(key);
                   if (field == nullptr) {
                     Error(child, key_location,
                           UnknownKeyMessage("key", key, FieldNames(descriptor)));
                     return;
                   }
                   MapField(value, message, field, child, LocationOf(value, key_location));
                 });
  }

  void MapField(const YAML::Node& node, Message* message, const FieldDescriptor* field,
                const std::string& path, Location location) {
    if (field->is_map()) {
      MapMapField(node, message, field, path, location);
      return;
    }
    if (field->is_repeated()) {
      const bool is_duration = field->message_type() == google::protobuf::Duration::descriptor();
      if (!ExpectSequence(node, path, location, is_duration ? "[5m, 15m, 60m]" : "[a, b]")) return;
      if (node.IsNull()) return;
      for (size_t i = 0; i < node.size(); ++i) {
        const YAML::Node element = node[i];
        const std::string child = JoinIndex(path, i);
        const Location element_location = LocationOf(element, location);
        if (!Budget(child, element_location)) return;
        source_map_->Record(child, element_location);
        MapValue(element, message, field, child, element_location);
      }
      return;
    }
    MapValue(node, message, field, path, location);
  }

  void MapMapField(const YAML::Node& node, Message* message, const FieldDescriptor* field,
                   const std::string& path, Location location) {
    const Descriptor* entry_type = field->message_type();
    const FieldDescriptor* value_field = entry_type->map_value();
    const std::string what =
        value_field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE
            ? absl::StrCat("a mapping of name to ", value_field->message_type()->name())
            : std::string("a mapping of name to name, e.g. {back_office: revenues-back-office}");
    if (!ExpectMap(node, path, location, what)) return;
    const Reflection* reflection = message->GetReflection();
    ForEachEntry(node, path, location,
                 [&](const std::string& key, Location key_location, const YAML::Node& value,
                     const std::string& child) {
                   Message* entry = reflection->AddMessage(message, field);
                   entry->GetReflection()->SetString(entry, entry_type->map_key(), key);
                   MapValue(value, entry, value_field, child, LocationOf(value, key_location));
                 });
  }

  // Sets a singular field or appends to a repeated one.
  void MapValue(const YAML::Node& node, Message* message, const FieldDescriptor* field,
                const std::string& path, Location location) {
    const Reflection* reflection = message->GetReflection();
    const bool repeated = field->is_repeated();
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        Message* sub = repeated ? reflection->AddMessage(message, field)
                                : reflection->MutableMessage(message, field);
        if (field->message_type() == google::protobuf::Duration::descriptor()) {
          absl::Duration d;
          if (ParseDuration(node, path, location, &d)) {
            SetDurationProto(d, static_cast<google::protobuf::Duration*>(sub));
          }
        } else {
          MapMessage(node, sub, path, location);
        }
        return;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string text;
        if (!ScalarText(node, path, location, "a string", &text)) return;
        repeated ? reflection->AddString(message, field, text)
                 : reflection->SetString(message, field, text);
        return;
      }
      case FieldDescriptor::CPPTYPE_INT32: {
        std::string text;
        int32_t value;
        if (!ScalarText(node, path, location, "a whole number", &text)) return;
        if (!absl::SimpleAtoi(text, &value)) {
          Error(path, location, absl::StrCat("expected a whole number, got '", text, "'"));
          return;
        }
        repeated ? reflection->AddInt32(message, field, value)
                 : reflection->SetInt32(message, field, value);
        return;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        std::string text;
        double value;
        if (!ScalarText(node, path, location, "a number", &text)) return;
        if (!ParseNumberText(text, /*allow_percent=*/true, &value)) {
          Error(path, location,
                absl::StrCat("expected a number (a fraction such as 0.10, or 10%), got '", text,
                             "'"));
          return;
        }
        repeated ? reflection->AddDouble(message, field, value)
                 : reflection->SetDouble(message, field, value);
        return;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        std::string text;
        if (!ScalarText(node, path, location, "true or false", &text)) return;
        const std::string lower = absl::AsciiStrToLower(text);
        bool value;
        if (lower == "true" || lower == "yes" || lower == "on") {
          value = true;
        } else if (lower == "false" || lower == "no" || lower == "off") {
          value = false;
        } else {
          Error(path, location, absl::StrCat("expected true or false, got '", text, "'"));
          return;
        }
        repeated ? reflection->AddBool(message, field, value)
                 : reflection->SetBool(message, field, value);
        return;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        std::string text;
        if (!ScalarText(node, path, location, "a name", &text)) return;
        const EnumDescriptor* type = field->enum_type();
        std::vector<std::string> names;
        const EnumValueDescriptor* found = nullptr;
        for (int i = 1; i < type->value_count(); ++i) {  // value 0 is UNSPECIFIED
          names.push_back(ShortEnumName(type->value(i)));
          if (names.back() == text) found = type->value(i);
        }
        if (found == nullptr) {
          Error(path, location, UnknownKeyMessage("value", text, names));
          return;
        }
        repeated ? reflection->AddEnum(message, field, found)
                 : reflection->SetEnum(message, field, found);
        return;
      }
      default:
        Error(path, location,
              absl::StrCat("internal: field type of ", field->full_name(), " is not mapped"));
        return;
    }
  }

  void MapCondition(const YAML::Node& node, tidewatch::v1::Condition* out, const std::string& path,
                    Location location) {
    if (node.IsNull()) return;  // no clauses: reported by the semantic checks
    if (!node.IsMap()) {
      Error(path, location,
            absl::StrCat("expected a condition {any: [clauses]} or {all: [clauses]}, got ",
                         Describe(node)));
      return;
    }
    int combines = 0;
    ForEachEntry(node, path, location,
                 [&](const std::string& key, Location key_location, const YAML::Node& value,
                     const std::string& child) {
                   if (key != "any" && key != "all") {
                     Error(child, key_location, UnknownKeyMessage("key", key, {"any", "all"}));
                     return;
                   }
                   if (++combines > 1) {
                     Error(child, key_location,
                           "a condition takes exactly one of any: (OR) or all: (AND), not both");
                     return;
                   }
                   out->set_combine(key == "any" ? tidewatch::v1::Condition::COMBINE_ANY
                                                 : tidewatch::v1::Condition::COMBINE_ALL);
                   const Location value_location = LocationOf(value, key_location);
                   if (!ExpectSequence(value, child, value_location,
                                       "[{metric: avg_wait, window: 15m, above: 180s}]")) {
                     return;
                   }
                   if (value.IsNull()) return;
                   for (size_t i = 0; i < value.size(); ++i) {
                     const YAML::Node element = value[i];
                     const std::string clause_path = JoinIndex(child, i);
                     const Location element_location = LocationOf(element, value_location);
                     if (!Budget(clause_path, element_location)) return;
                     source_map_->Record(clause_path, element_location);
                     MapClause(element, out->add_clauses(), clause_path, element_location);
                   }
                 });
  }

  void MapClause(const YAML::Node& node, tidewatch::v1::Clause* out, const std::string& path,
                 Location location) {
    if (!node.IsMap()) {
      Error(path, location,
            absl::StrCat("expected a clause such as {metric: avg_wait, window: 15m, above: 180s}, "
                         "got ",
                         Describe(node)));
      return;
    }
    struct Entry {
      YAML::Node value;
      std::string path;
      Location location;
      bool present = false;
    };
    Entry metric, window, threshold;
    ForEachEntry(node, path, location,
                 [&](const std::string& key, Location key_location, const YAML::Node& value,
                     const std::string& child) {
                   Entry entry{value, child, LocationOf(value, key_location), true};
                   if (key == "metric") {
                     metric = entry;
                   } else if (key == "window") {
                     window = entry;
                   } else if (key == "above" || key == "below") {
                     if (threshold.present) {
                       Error(child, key_location,
                             "a clause takes exactly one of above: or below:, not both");
                       return;
                     }
                     threshold = entry;
                     out->set_comparison(key == "above" ? tidewatch::v1::Clause::COMPARISON_ABOVE
                                                        : tidewatch::v1::Clause::COMPARISON_BELOW);
                   } else {
                     Error(child, key_location,
                           UnknownKeyMessage("key", key, {"metric", "window", "above", "below"}));
                   }
                 });
    tidewatch::v1::Metric m = tidewatch::v1::METRIC_UNSPECIFIED;
    if (metric.present) {
      std::string text;
      if (ScalarText(metric.value, metric.path, metric.location, "a metric name", &text)) {
        m = MetricFromName(text);
        if (m == tidewatch::v1::METRIC_UNSPECIFIED) {
          Error(metric.path, metric.location, UnknownKeyMessage("metric", text, AllMetricNames()));
        }
      }
      out->set_metric(m);
    }
    if (window.present) {
      absl::Duration d;
      if (ParseDuration(window.value, window.path, window.location, &d)) {
        SetDurationProto(d, out->mutable_window());
      }
    }
    if (threshold.present) {
      double value;
      if (ParseThreshold(m, threshold.value, threshold.path, threshold.location, &value)) {
        out->set_threshold(value);
      }
    }
  }

  // A clause threshold in the metric's unit: a duration for duration
  // metrics (stored in seconds), a fraction (or "10%") for rates, a number
  // for counts.
  bool ParseThreshold(tidewatch::v1::Metric metric, const YAML::Node& node, const std::string& path,
                      Location location, double* out) {
    std::string text;
    if (!ScalarText(node, path, location, "a threshold", &text)) return false;
    if (metric == tidewatch::v1::METRIC_UNSPECIFIED) {
      // The metric is missing or unknown (reported elsewhere): take either.
      absl::Duration d;
      std::string ignored;
      if (ParseDurationText(text, &d, &ignored)) {
        *out = absl::ToDoubleSeconds(d);
        return true;
      }
      return ParseNumberText(text, true, out);
    }
    const absl::string_view name = MetricText(metric);
    if (IsDurationMetric(metric)) {
      absl::Duration d;
      double number;
      if (ParseNumberText(text, false, &number)) {
        Error(path, location,
              absl::StrCat(name, " is a duration: write the threshold with a unit, e.g. \"",
                           absl::StripAsciiWhitespace(text), "s\", not a bare number"));
        return false;
      }
      std::string error;
      if (!ParseDurationText(text, &d, &error)) {
        Error(path, location, error);
        return false;
      }
      *out = absl::ToDoubleSeconds(d);
      return true;
    }
    const bool fraction = IsFractionMetric(metric);
    if (ParseNumberText(text, fraction, out)) return true;
    absl::Duration d;
    std::string ignored;
    if (ParseDurationText(text, &d, &ignored)) {
      Error(path, location,
            absl::StrCat(name, " is ", fraction ? "a fraction" : "a number",
                         ", not a duration: write e.g. ", fraction ? "0.10 or 10%" : "20"));
    } else if (!fraction && absl::StrContains(text, '%')) {
      Error(path, location,
            absl::StrCat(name,
                         " is a number, not a fraction: '%' applies only to answer_rate, "
                         "abandon_rate and service_level"));
    } else {
      Error(path, location,
            absl::StrCat("expected a number for ", name, fraction ? " (e.g. 0.10 or 10%)" : "",
                         ", got '", text, "'"));
    }
    return false;
  }

  void MapCallUp(const YAML::Node& node, tidewatch::v1::CallUpSpec* out, const std::string& path,
                 Location location) {
    if (!ExpectMap(node, path, location,
                   "a call-up such as {role: back_office, headcount: 4, duration: 2h}")) {
      return;
    }
    static constexpr absl::string_view kKeys[] = {"team", "role", "headcount", "max_headcount",
                                                  "duration"};
    const Descriptor* descriptor = out->GetDescriptor();
    ForEachEntry(
        node, path, location,
        [&](const std::string& key, Location key_location, const YAML::Node& value,
            const std::string& child) {
          const Location value_location = LocationOf(value, key_location);
          if (key == "headcount") {
            std::string text;
            if (!ScalarText(value, child, value_location, "a number of people or `gap`", &text)) {
              return;
            }
            int32_t count;
            if (absl::AsciiStrToLower(text) == "gap") {
              out->set_gap(true);
            } else if (absl::SimpleAtoi(text, &count)) {
              out->set_fixed(count);
            } else {
              Error(child, value_location,
                    absl::StrCat("headcount is a whole number of people or `gap` (the "
                                 "capacity gap), got '",
                                 text, "'"));
            }
            return;
          }
          if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
            Error(child, key_location,
                  UnknownKeyMessage("key", key, {std::begin(kKeys), std::end(kKeys)}));
            return;
          }
          MapField(value, out, descriptor->FindFieldByName(key), child, value_location);
        });
  }

  SourceMap* source_map_;
  Diagnostics* diag_;
  int nodes_ = 0;
};

}  // namespace

bool MapPolicyYaml(absl::string_view text, tidewatch::v1::Policy* out, SourceMap* source_map,
                   Diagnostics* diag) {
  const std::string input(text);
  YAML::Node root;
  std::optional<Location> second_document;
  try {
    // Not YAML::LoadAll: in yaml-cpp 0.7 it loops forever, allocating, on
    // some malformed input (e.g. `"",x`; jbeder/yaml-cpp#1319). Load the
    // first document, then look for a second with a bounded event scan.
    root = YAML::Load(input);
    second_document = FindSecondDocument(input);
  } catch (const YAML::Exception& e) {
    const Location location =
        e.mark.line >= 0 ? Location{e.mark.line + 1, e.mark.column + 1} : Location{1, 1};
    diag->AddSchema("", location, absl::StrCat("YAML syntax error: ", e.msg));
    return false;
  } catch (const std::exception& e) {
    diag->AddSchema("", Location{1, 1}, absl::StrCat("YAML could not be read: ", e.what()));
    return false;
  }
  if (second_document) {
    diag->AddAt("", *second_document,
                "a policy is one YAML document; found more after it here (a second '---' "
                "document or stray characters)");
  }
  try {
    Mapper mapper(source_map, diag);
    mapper.MapRoot(root, out);
    return !mapper.exhausted();
  } catch (const std::exception& e) {
    // yaml-cpp node access should not throw on a parsed document; if it
    // does, report it rather than let it escape.
    diag->AddSchema("", Location{1, 1}, absl::StrCat("YAML could not be read: ", e.what()));
    return false;
  }
}

}  // namespace tidewatch::policy::internal
