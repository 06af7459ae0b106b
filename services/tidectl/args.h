// Command-line parsing for tidectl's subcommands.
//
// Each subcommand declares the flags it takes; anything else is an error
// that names the flag. Flags are "--name value", "--name=value", or a bare
// "--name" for booleans.
//
//   CommandArgs args("capacity");
//   args.AddFlag("aht", "mean handle time, e.g. 240s");
//   args.AddBool("json", "print JSON");
//   if (std::optional<int> exit = args.ParseOrExit(argv_tail)) return *exit;
//   absl::StatusOr<absl::Duration> aht = args.GetDuration("aht");
#ifndef TIDEWATCH_SERVICES_TIDECTL_ARGS_H_
#define TIDEWATCH_SERVICES_TIDECTL_ARGS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tidewatch::tidectl {

// The flags and positional arguments of one subcommand invocation.
class CommandArgs {
 public:
  explicit CommandArgs(std::string command) : command_(std::move(command)) {}

  // Declares a flag that takes a value.
  void AddFlag(std::string name, std::string help);
  // Declares a boolean flag (present or "--name=true|false").
  void AddBool(std::string name, std::string help);

  absl::Status Parse(const std::vector<std::string>& args);

  // Declares --help and parses `args`, handling the two ways a command ends
  // before it starts: a bad command line (the error on stderr; exit code 2)
  // and --help (`help_intro`, Usage() and `help_notes` on stdout; exit code
  // 0). Returns that exit code, or nullopt when the command should run.
  std::optional<int> ParseOrExit(const std::vector<std::string>& args,
                                 const std::string& help_intro = "",
                                 const std::string& help_notes = "");

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::optional<std::string> Get(const std::string& name) const;
  std::string GetOr(const std::string& name, std::string fallback) const;
  bool GetBool(const std::string& name) const;
  // Typed getters: an error naming the flag when the value is malformed,
  // NotFound when absent.
  absl::StatusOr<absl::Duration> GetDuration(const std::string& name) const;
  absl::StatusOr<double> GetDouble(const std::string& name) const;
  absl::StatusOr<int64_t> GetInt(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

  // "usage: tidectl COMMAND [flags]" with one line per flag.
  std::string Usage() const;

 private:
  struct Spec {
    bool is_bool = false;
    std::string help;
  };
  std::string command_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace tidewatch::tidectl

#endif  // TIDEWATCH_SERVICES_TIDECTL_ARGS_H_
