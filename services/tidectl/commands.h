// tidectl's subcommands. Each takes the arguments after its name and
// returns the process exit code (0 ok, 1 failure, 2 usage error).
#ifndef TIDEWATCH_SERVICES_TIDECTL_COMMANDS_H_
#define TIDEWATCH_SERVICES_TIDECTL_COMMANDS_H_

#include <string>
#include <vector>

namespace tidewatch::tidectl {

// tidectl replay: replays a JSON-lines event file through the engine.
int RunReplay(const std::vector<std::string>& args);
// tidectl capacity: Erlang what-if questions.
int RunCapacity(const std::vector<std::string>& args);
// Clients of tidewatchd's gRPC API (api_commands.cc, docs/api.md).
int RunStatus(const std::vector<std::string>& args);
int RunWatch(const std::vector<std::string>& args);
int RunAck(const std::vector<std::string>& args);
int RunDecline(const std::vector<std::string>& args);
int RunPolicy(const std::vector<std::string>& args);
int RunToken(const std::vector<std::string>& args);
// tidectl publish: produces a JSON-lines event file to the events topic.
int RunPublish(const std::vector<std::string>& args);

}  // namespace tidewatch::tidectl

#endif  // TIDEWATCH_SERVICES_TIDECTL_COMMANDS_H_
