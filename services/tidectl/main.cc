// tidectl: the tidewatch command-line tool.
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"

namespace {

constexpr char kUsage[] =
    "usage: tidectl COMMAND [flags]\n"
    "commands:\n"
    "  replay     replay a JSON-lines event file through the engine\n"
    "  capacity   Erlang C / Erlang A what-if: wait, abandonment, agents needed\n"
    "  publish    produce a JSON-lines event file to Kafka's events topic, validated\n"
    "  status     per-line wallboard from tidewatchd (gRPC)\n"
    "  watch      live call-ups (--team T, --line L)\n"
    "  ack        acknowledge a call-up: ack ID --headcount N --eta 15m\n"
    "  decline    decline a call-up: decline ID --reason TEXT\n"
    "  policy     get | validate FILE | apply FILE | rollback\n"
    "  token      token hash TOKEN: the tokens-file hash of a bearer token\n"
    "run 'tidectl COMMAND --help' for a command's flags\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "replay") return tidewatch::tidectl::RunReplay(args);
  if (command == "capacity") return tidewatch::tidectl::RunCapacity(args);
  if (command == "publish") return tidewatch::tidectl::RunPublish(args);
  if (command == "status") return tidewatch::tidectl::RunStatus(args);
  if (command == "watch") return tidewatch::tidectl::RunWatch(args);
  if (command == "ack") return tidewatch::tidectl::RunAck(args);
  if (command == "decline") return tidewatch::tidectl::RunDecline(args);
  if (command == "policy") return tidewatch::tidectl::RunPolicy(args);
  if (command == "token") return tidewatch::tidectl::RunToken(args);
  std::fprintf(stderr, "tidectl: unknown command '%s'\n%s", command.c_str(), kUsage);
  return 2;
}
