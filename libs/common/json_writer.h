// A small streaming JSON writer with deterministic number formatting, for
// tidectl's --format json output.
//
//   JsonWriter w;
//   w.BeginObject();
//   w.Key("offered").Int(12);
//   w.Key("answer_rate").Ratio(0.9166);
//   w.EndObject();
//   std::string text = w.Take();   // {"offered":12,"answer_rate":0.9166}
#ifndef TIDEWATCH_LIBS_COMMON_JSON_WRITER_H_
#define TIDEWATCH_LIBS_COMMON_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tidewatch {

// Appends `value` as a quoted JSON string (", \\, \n, \r, \t escaped;
// other control characters as \u00XX) to `out`.
void AppendJsonString(std::string_view value, std::string& out);

// Writes compact JSON. Commas are placed automatically.
class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  // Up to 6 decimals, trailing zeros trimmed (ratios, rates).
  JsonWriter& Ratio(double value);
  // Up to 3 decimals (milliseconds), trailing zeros trimmed.
  JsonWriter& Seconds(double value);
  // Up to `decimals` decimals, trailing zeros trimmed; non-finite as null.
  JsonWriter& Number(double value, int decimals);

  std::string Take() { return std::move(out_); }

 private:
  void Separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written yet
  bool after_key_ = false;
};

}  // namespace tidewatch

#endif  // TIDEWATCH_LIBS_COMMON_JSON_WRITER_H_
