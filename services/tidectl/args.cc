#include "args.h"

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tidewatch::tidectl {

void CommandArgs::AddFlag(std::string name, std::string help) {
  specs_[std::move(name)] = Spec{false, std::move(help)};
}

void CommandArgs::AddBool(std::string name, std::string help) {
  specs_[std::move(name)] = Spec{true, std::move(help)};
}

absl::Status CommandArgs::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional_.insert(positional_.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (!absl::StartsWith(arg, "--")) {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto spec = specs_.find(name);
    if (spec == specs_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tidectl ", command_, ": unknown flag --", name, "\n", Usage()));
    }
    if (spec->second.is_bool) {
      std::string v = value.value_or("true");
      if (v != "true" && v != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " takes true or false, not '", v, "'"));
      }
      values_[name] = v;
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
      value = args[++i];
    }
    values_[name] = *value;
  }
  return absl::OkStatus();
}

std::optional<int> CommandArgs::ParseOrExit(const std::vector<std::string>& args,
                                            const std::string& help_intro,
                                            const std::string& help_notes) {
  AddBool("help", "show this help");
  if (absl::Status s = Parse(args); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (GetBool("help")) {
    std::fputs(absl::StrCat(help_intro, Usage(), help_notes).c_str(), stdout);
    return 0;
  }
  return std::nullopt;
}

std::optional<std::string> CommandArgs::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string CommandArgs::GetOr(const std::string& name, std::string fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

bool CommandArgs::GetBool(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && it->second == "true";
}

absl::StatusOr<absl::Duration> CommandArgs::GetDuration(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return absl::NotFoundError(absl::StrCat("--", name, " not given"));
  absl::Duration d;
  if (!absl::ParseDuration(it->second, &d) || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": '", it->second, "' is not a duration (e.g. 90s, 15m, 1h30m)"));
  }
  return d;
}

absl::StatusOr<double> CommandArgs::GetDouble(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return absl::NotFoundError(absl::StrCat("--", name, " not given"));
  double v;
  if (!absl::SimpleAtod(it->second, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": '", it->second, "' is not a number"));
  }
  return v;
}

absl::StatusOr<int64_t> CommandArgs::GetInt(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return absl::NotFoundError(absl::StrCat("--", name, " not given"));
  int64_t v;
  if (!absl::SimpleAtoi(it->second, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": '", it->second, "' is not a whole number"));
  }
  return v;
}

std::string CommandArgs::Usage() const {
  std::string out = absl::StrCat("usage: tidectl ", command_, " [flags]\n");
  for (const auto& [name, spec] : specs_) {
    absl::StrAppend(&out, "  --", name, spec.is_bool ? "" : " VALUE", "  ", spec.help, "\n");
  }
  return out;
}

}  // namespace tidewatch::tidectl
