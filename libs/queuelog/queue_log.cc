#include "queuelog/queue_log.h"

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "events/events.h"
#include "events/utf8.h"
#include "yaml-cpp/yaml.h"

namespace tidewatch::queuelog {
namespace {

using tidewatch::v1::AgentOrigin;
using tidewatch::v1::CallEvent;

absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool ParseSeconds(std::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 12) return false;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// Whether `text` is a negative whole number of seconds: what Asterisk writes
// for a holdtime / waittime (time(NULL) - start) after the clock stepped
// back.
bool IsNegativeSeconds(std::string_view text) {
  int64_t unused = 0;
  return text.size() > 1 && text[0] == '-' && ParseSeconds(text.substr(1), &unused);
}

void SetSeconds(int64_t seconds, google::protobuf::Duration* d) {
  d->set_seconds(seconds);
  d->set_nanos(0);
}

MapResult Skip(SkipReason reason, std::string message) {
  MapResult r;
  r.outcome = MapOutcome::kSkipped;
  r.reason = reason;
  r.message = std::move(message);
  return r;
}

MapResult Ignore(std::string_view event) {
  MapResult r;
  r.outcome = MapOutcome::kIgnored;
  r.ignored_event = event;
  return r;
}

bool IsNone(std::string_view s) { return s.empty() || s == "NONE"; }

// Whether `s` is a whole number (digits only, at least one).
bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// ENTERQUEUE's caller id. app_queue writes url|callerid|position ("%s|%s|%d":
// the URL as the dialplan passed it to Queue(), which may itself hold '|'
// and so add fields in front of the caller id), so the caller id is found
// from the end of the data: the field before the position when the last
// field is a whole number; the last field when it is not (the url|callerid
// of older versions, 1.2 for one, which wrote no position); the second
// field of a line with exactly two (url|callerid). (A caller id number holds no '|'
// in practice.) Empty when there is none.
std::string_view EnterQueueCallerId(const QueueLogLine& line) {
  if (line.data_count < 2) return {};
  if (line.data_count == 2) return line.data[1];
  std::string_view rest = line.data_text;  // three fields or more: two '|' at least
  size_t bar = rest.rfind('|');
  const std::string_view last = rest.substr(bar + 1);
  if (!IsDigits(last)) return last;
  rest = rest.substr(0, bar);
  bar = rest.rfind('|');
  return rest.substr(bar + 1);
}

// Known app_queue / agent events that carry nothing tidewatch counts.
constexpr std::string_view kIgnoredEvents[] = {
    "RINGNOANSWER",
    "RINGCANCELED",
    "QUEUESTART",
    "CONFIGRELOAD",
    "PAUSEALL",
    "UNPAUSEALL",
    "DID",
    "INFO",
    "SYSCOMPAT",
    "AGENTLOGIN",
    "AGENTLOGOFF",
    "AGENTDUMP",
    "AGENTCALLBACKLOGIN",
    "AGENTCALLBACKLOGOFF",
    "PENALTY",
    "RINGING",
    "CALLERONHOLD",
    "CALLEROFFHOLD",
    "CONNECTATTEMPT",
};

constexpr std::pair<std::string_view, AgentOrigin> kOrigins[] = {
    {"csc", tidewatch::v1::AGENT_ORIGIN_CSC},
    {"back_office", tidewatch::v1::AGENT_ORIGIN_BACK_OFFICE},
    {"peripatetic", tidewatch::v1::AGENT_ORIGIN_PERIPATETIC},
    {"casual", tidewatch::v1::AGENT_ORIGIN_CASUAL},
};

std::string OriginName(AgentOrigin o) {
  for (const auto& [name, value] : kOrigins) {
    if (value == o) return std::string(name);
  }
  return "csc";
}

std::string Where(const YAML::Node& node, std::string_view source) {
  return absl::StrCat(Av(source), ":", node.Mark().line + 1);
}

absl::StatusOr<AgentOrigin> ParseOrigin(const YAML::Node& node, std::string_view key,
                                        std::string_view source) {
  if (!node.IsScalar()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(node, source), ": ", Av(key), ": expected an origin name"));
  }
  const std::string text = node.as<std::string>();
  for (const auto& [name, value] : kOrigins) {
    if (text == name) return value;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(Where(node, source), ": ", Av(key), ": unknown origin \"", text,
                   "\" (expected csc, back_office, peripatetic or casual)"));
}

}  // namespace

std::string_view SkipReasonName(SkipReason reason) {
  switch (reason) {
    case SkipReason::kTooFewFields:
      return "too_few_fields";
    case SkipReason::kBadTime:
      return "bad_time";
    case SkipReason::kUnknownEvent:
      return "unknown_event";
    case SkipReason::kUnmappedQueue:
      return "unmapped_queue";
    case SkipReason::kMissingCallId:
      return "missing_callid";
    case SkipReason::kMissingAgent:
      return "missing_agent";
    case SkipReason::kBadNumber:
      return "bad_number";
    case SkipReason::kMissingData:
      return "missing_data";
    case SkipReason::kInvalidEvent:
      return "invalid_event";
    case SkipReason::kTooLong:
      return "too_long";
  }
  return "unknown";
}

std::string_view Utf8Safe(std::string_view text, std::string& storage) {
  // Exactly the bytes the event decoders refuse are escaped: one definition
  // of well-formed UTF-8 (events/utf8.h).
  const size_t valid = events::ValidUtf8Prefix(text);
  if (valid == text.size()) return text;
  constexpr char kHexDigits[] = "0123456789ABCDEF";
  storage.assign(text.data(), valid);
  const auto* p = reinterpret_cast<const unsigned char*>(text.data()) + valid;
  const unsigned char* const end =
      reinterpret_cast<const unsigned char*>(text.data()) + text.size();
  while (p < end) {
    if (const int len = events::Utf8SequenceLength(p, end); len > 0) {
      storage.append(reinterpret_cast<const char*>(p), len);
      p += len;
    } else {
      storage.push_back('%');
      storage.push_back(kHexDigits[*p >> 4]);
      storage.push_back(kHexDigits[*p & 15]);
      ++p;
    }
  }
  return storage;
}

std::string ShowField(std::string_view value) {
  if (value.size() > 40) return "(withheld)";
  int run = 0;
  for (char c : value) {
    run = (c >= '0' && c <= '9') ? run + 1 : 0;
    if (run >= 5) return "(withheld)";
  }
  return absl::StrCat("\"", Av(value), "\"");
}

absl::Status ParseQueueLogLine(std::string_view line, QueueLogLine& out, SkipReason* reason) {
  std::string_view fields[5];
  size_t start = 0;
  int n = 0;
  out.data_count = 0;
  out.data_text = {};
  while (true) {
    const size_t bar = line.find('|', start);
    const std::string_view field =
        line.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
    if (n < 5) {
      fields[n++] = field;
      if (n == 5 && bar != std::string_view::npos) out.data_text = line.substr(bar + 1);
    } else if (out.data_count < QueueLogLine::kMaxData) {
      out.data[out.data_count++] = field;
    }
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  if (n < 5) {
    if (reason) *reason = SkipReason::kTooFewFields;
    return absl::InvalidArgumentError(absl::StrCat(
        "expected time|callid|queue|agent|event|..., found ", n, " field", n == 1 ? "" : "s"));
  }
  if (!ParseSeconds(fields[0], &out.time) || out.time < events::kMinEventTimeUnixSeconds ||
      out.time >= events::kMaxEventTimeUnixSeconds) {
    if (reason) *reason = SkipReason::kBadTime;
    return absl::InvalidArgumentError(
        absl::StrCat("time ", ShowField(fields[0]), " is not Unix seconds between 2000 and 2100"));
  }
  out.callid = fields[1];
  out.queue = fields[2];
  out.agent = fields[3];
  out.event = fields[4];
  return absl::OkStatus();
}

AgentOrigin LineMap::OriginFor(std::string_view agent) const {
  // Longest matching prefix: walk candidates below upper_bound(agent).
  AgentOrigin best = default_agent_origin;
  if (agent.empty()) return best;
  size_t best_len = 0;
  for (auto it = agent_origins.upper_bound(agent); it != agent_origins.begin();) {
    --it;
    const std::string& prefix = it->first;
    if (prefix.empty() || prefix[0] != agent[0]) break;
    if (agent.substr(0, prefix.size()) == prefix && prefix.size() > best_len) {
      best = it->second;
      best_len = prefix.size();
    }
  }
  return best;
}

absl::StatusOr<LineMap> ParseLineMap(std::string_view yaml, std::string_view source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(source_name), ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(source_name), ": expected a mapping with a 'queues' key"));
  }
  LineMap map;
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "queues") {
      if (!v.IsMap()) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(v, source_name), ": queues: expected queue name: line id pairs"));
      }
      for (const auto& q : v) {
        const std::string queue = q.first.as<std::string>();
        if (!q.second.IsScalar()) {
          return absl::InvalidArgumentError(absl::StrCat(Where(q.second, source_name), ": queues.",
                                                         queue, ": expected a line id"));
        }
        const std::string line = q.second.as<std::string>();
        CallEvent probe;
        probe.set_event_id("x");
        probe.set_line_id(line);
        probe.set_call_id("x");
        probe.mutable_event_time()->set_seconds(events::kMinEventTimeUnixSeconds);
        probe.mutable_queued();
        if (absl::Status s = events::ValidateEvent(probe); !s.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(Where(q.second, source_name), ": queues.", queue, ": ", s.message()));
        }
        if (queue.empty() || queue.find('|') != std::string::npos || queue == "NONE") {
          return absl::InvalidArgumentError(absl::StrCat(
              Where(q.first, source_name), ": queues: \"", queue, "\" is not a queue name"));
        }
        map.queues[queue] = line;
      }
    } else if (key == "source") {
      if (!v.IsScalar() || v.as<std::string>().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(v, source_name), ": source: expected a non-empty name"));
      }
      map.source = v.as<std::string>();
    } else if (key == "callback_exit_keys") {
      if (!v.IsSequence()) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(v, source_name), ": callback_exit_keys: expected a list of keys"));
      }
      for (const auto& k : v) {
        const std::string digit = k.as<std::string>();
        if (digit.size() != 1 ||
            std::string_view("0123456789*#").find(digit[0]) == std::string_view::npos) {
          return absl::InvalidArgumentError(absl::StrCat(
              Where(k, source_name), ": callback_exit_keys: \"", digit, "\" is not a DTMF key"));
        }
        map.callback_exit_keys.insert(digit);
      }
    } else if (key == "default_agent_origin") {
      absl::StatusOr<AgentOrigin> o = ParseOrigin(v, key, source_name);
      if (!o.ok()) return o.status();
      map.default_agent_origin = *o;
    } else if (key == "agent_origins") {
      if (!v.IsMap()) {
        return absl::InvalidArgumentError(absl::StrCat(
            Where(v, source_name), ": agent_origins: expected interface prefix: origin pairs"));
      }
      for (const auto& a : v) {
        const std::string prefix = a.first.as<std::string>();
        if (prefix.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(Where(a.first, source_name), ": agent_origins: empty prefix"));
        }
        absl::StatusOr<AgentOrigin> o =
            ParseOrigin(a.second, absl::StrCat("agent_origins.", prefix), source_name);
        if (!o.ok()) return o.status();
        map.agent_origins[prefix] = *o;
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(kv.first, source_name), ": unknown key \"", key,
                       "\" (expected queues, source, callback_exit_keys, default_agent_origin, "
                       "agent_origins)"));
    }
  }
  if (map.queues.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(source_name), ": queues: at least one queue must be mapped to a line"));
  }
  return map;
}

absl::StatusOr<LineMap> LoadLineMapFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read line map ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseLineMap(ss.str(), path);
}

std::string LineMapToYaml(const LineMap& map) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "source" << YAML::Value << map.source;
  out << YAML::Key << "queues" << YAML::Value << YAML::BeginMap;
  for (const auto& [q, l] : map.queues) out << YAML::Key << q << YAML::Value << l;
  out << YAML::EndMap;
  if (!map.callback_exit_keys.empty()) {
    out << YAML::Key << "callback_exit_keys" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const std::string& k : map.callback_exit_keys) out << YAML::DoubleQuoted << k;
    out << YAML::EndSeq;
  }
  out << YAML::Key << "default_agent_origin" << YAML::Value << OriginName(map.default_agent_origin);
  if (!map.agent_origins.empty()) {
    out << YAML::Key << "agent_origins" << YAML::Value << YAML::BeginMap;
    for (const auto& [p, o] : map.agent_origins) {
      out << YAML::Key << YAML::DoubleQuoted << p << YAML::Value << OriginName(o);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return absl::StrCat(out.c_str(), "\n");
}

QueueLogMapper::QueueLogMapper(const LineMap& map, const CallerHasher& hasher)
    : map_(map), hasher_(hasher) {}

MapResult QueueLogMapper::Map(std::string_view text, uint64_t position, CallEvent& out) const {
  QueueLogLine line;
  SkipReason reason = SkipReason::kTooFewFields;
  if (absl::Status s = ParseQueueLogLine(text, line, &reason); !s.ok()) {
    return Skip(reason, std::string(s.message()));
  }
  const std::string_view ev = line.event;
  enum Kind {
    kQueued,
    kAnswered,
    kAbandoned,
    kExitTimeout,
    kExitKey,
    kExitEmpty,
    kWithdraw,
    kComplete,
    kTransfer,
    kBlindTransfer,
    kAttendedTransfer,
    kMember
  } kind;
  tidewatch::v1::AgentStatus member_state = tidewatch::v1::AGENT_STATUS_UNSPECIFIED;
  if (ev == "ENTERQUEUE") {
    kind = kQueued;
  } else if (ev == "CONNECT") {
    kind = kAnswered;
  } else if (ev == "ABANDON") {
    kind = kAbandoned;
  } else if (ev == "EXITWITHTIMEOUT") {
    kind = kExitTimeout;
  } else if (ev == "EXITWITHKEY") {
    kind = kExitKey;
  } else if (ev == "EXITEMPTY") {
    kind = kExitEmpty;
  } else if (ev == "WITHDRAW") {
    kind = kWithdraw;
  } else if (ev == "COMPLETEAGENT" || ev == "COMPLETECALLER") {
    kind = kComplete;
  } else if (ev == "TRANSFER") {
    kind = kTransfer;
  } else if (ev == "BLINDTRANSFER") {
    kind = kBlindTransfer;
  } else if (ev == "ATTENDEDTRANSFER") {
    kind = kAttendedTransfer;
  } else if (ev == "ADDMEMBER" || ev == "UNPAUSE") {
    kind = kMember;
    member_state = tidewatch::v1::AGENT_STATUS_AVAILABLE;
  } else if (ev == "REMOVEMEMBER") {
    kind = kMember;
    member_state = tidewatch::v1::AGENT_STATUS_LOGGED_OUT;
  } else if (ev == "PAUSE") {
    kind = kMember;
    member_state = tidewatch::v1::AGENT_STATUS_AWAY;
  } else {
    for (std::string_view known : kIgnoredEvents) {
      if (ev == known) return Ignore(known);
    }
    return Skip(SkipReason::kUnknownEvent, absl::StrCat("unknown event ", ShowField(ev)));
  }

  auto queue = map_.queues.find(line.queue);
  if (queue == map_.queues.end()) {
    return Skip(SkipReason::kUnmappedQueue,
                absl::StrCat(Av(ev), ": queue ", ShowField(line.queue), " is not in the line map"));
  }
  if (kind != kMember && IsNone(line.callid)) {
    return Skip(SkipReason::kMissingCallId, absl::StrCat(Av(ev), ": no callid"));
  }
  const bool needs_agent = kind == kMember || kind == kAnswered || kind == kComplete ||
                           kind == kTransfer || kind == kBlindTransfer || kind == kAttendedTransfer;
  if (needs_agent && IsNone(line.agent)) {
    return Skip(SkipReason::kMissingAgent, absl::StrCat(Av(ev), ": no agent"));
  }

  // The ids, agent ids and call ids go into proto3 strings: UTF-8 only.
  std::string callid_storage, agent_storage;
  const std::string_view callid = Utf8Safe(line.callid, callid_storage);
  const std::string_view agent = Utf8Safe(line.agent, agent_storage);

  // A whole-seconds data field.
  int64_t seconds = 0;
  auto number = [&](int index, std::string_view name) -> std::optional<MapResult> {
    if (index < 0 || index >= line.data_count) {
      return Skip(SkipReason::kMissingData,
                  absl::StrCat(Av(ev), ": missing ", Av(name), " (data field ", index + 1, ")"));
    }
    if (!ParseSeconds(line.data[index], &seconds) ||
        seconds > absl::ToInt64Seconds(events::kMaxEventDuration)) {
      return Skip(SkipReason::kBadNumber,
                  absl::StrCat(Av(ev), ": ", Av(name), " ", ShowField(line.data[index]),
                               " is not whole seconds up to 7 days"));
    }
    return std::nullopt;
  };
  // The optional wait: whole seconds (in `seconds`, true), or negative and
  // left out (false; see MapResult::wait_dropped).
  std::string wait_dropped;
  auto wait = [&](int index, std::string_view name, std::optional<MapResult>& skip) {
    if (index < line.data_count && IsNegativeSeconds(line.data[index])) {
      wait_dropped = absl::StrCat(Av(ev), ": ", Av(name), " ", ShowField(line.data[index]),
                                  " is negative (the clock stepped back?): no wait");
      return false;
    }
    skip = number(index, name);
    return !skip;
  };

  out.Clear();
  std::string& id = *out.mutable_event_id();
  absl::StrAppend(&id, "ql-", line.time, "-", position, "-", Av(kind == kMember ? agent : callid));
  out.set_line_id(queue->second);
  if (kind != kMember) out.set_call_id(callid.data(), callid.size());
  out.mutable_event_time()->set_seconds(line.time);
  out.set_source(map_.source);

  switch (kind) {
    case kQueued:
      // data: url, callerid, position. The number goes no further than this.
      out.mutable_queued()->set_caller_key(hasher_.KeyFor(EnterQueueCallerId(line)));
      break;
    case kAnswered: {
      std::optional<MapResult> skip;
      const bool has_wait = wait(0, "holdtime", skip);
      if (skip) return *skip;
      auto* a = out.mutable_answered();
      a->set_agent_id(agent.data(), agent.size());
      if (has_wait) SetSeconds(seconds, a->mutable_wait());
      break;
    }
    case kAbandoned: {
      std::optional<MapResult> skip;
      const bool has_wait = wait(2, "waittime", skip);
      if (skip) return *skip;
      auto* a = out.mutable_abandoned();
      if (has_wait) SetSeconds(seconds, a->mutable_wait());
      break;
    }
    case kExitTimeout:
      out.mutable_left_queue()->set_reason(tidewatch::v1::LEFT_QUEUE_REASON_TIMEOUT);
      break;
    case kExitEmpty:
      out.mutable_left_queue()->set_reason(tidewatch::v1::LEFT_QUEUE_REASON_EMPTY);
      break;
    case kWithdraw:
      // QueueWithdrawCaller took the caller out of the queue and back to the
      // dialplan, which sends the call on elsewhere: the call left the queue
      // unanswered without the caller hanging up (so not abandoned, though
      // app_queue counts it so in its own statistics), like EXITWITHTIMEOUT
      // and EXITEMPTY; TRANSFER is the reason that says "sent elsewhere".
      out.mutable_left_queue()->set_reason(tidewatch::v1::LEFT_QUEUE_REASON_TRANSFER);
      break;
    case kExitKey: {
      if (line.data_count < 1 || line.data[0].empty()) {
        return Skip(SkipReason::kMissingData, "EXITWITHKEY: missing key (data field 1)");
      }
      if (map_.callback_exit_keys.count(line.data[0]) > 0) {
        out.mutable_callback_requested();
      } else {
        out.mutable_left_queue()->set_reason(tidewatch::v1::LEFT_QUEUE_REASON_EXIT_KEY);
      }
      break;
    }
    case kComplete:
    case kTransfer:
    case kBlindTransfer:
    case kAttendedTransfer: {
      // holdtime|calltime|origposition: at data 0 for COMPLETE*, 2 for
      // (BLIND)TRANSFER, the last three for ATTENDEDTRANSFER.
      const int talk_index = kind == kComplete           ? 1
                             : kind == kAttendedTransfer ? line.data_count - 2
                                                         : 3;
      if (auto r = number(talk_index, "calltime")) return *r;
      auto* c = out.mutable_completed();
      c->set_agent_id(agent.data(), agent.size());
      SetSeconds(seconds, c->mutable_talk());
      break;
    }
    case kMember: {
      auto* s = out.mutable_agent_state();
      s->set_agent_id(agent.data(), agent.size());
      s->set_state(member_state);
      s->set_origin(map_.OriginFor(agent));
      break;
    }
  }
  events::RejectReason why;
  if (absl::Status s = events::ValidateEvent(out, &why); !s.ok()) {
    return Skip(SkipReason::kInvalidEvent, absl::StrCat(Av(ev), ": ", s.message()));
  }
  MapResult ok;
  ok.outcome = MapOutcome::kEvent;
  if (!wait_dropped.empty()) {
    ok.wait_dropped = true;
    ok.message = std::move(wait_dropped);
  }
  return ok;
}

void MapCounters::Add(const MapResult& r) {
  ++lines;
  switch (r.outcome) {
    case MapOutcome::kEvent:
      ++events;
      if (r.wait_dropped) ++wait_dropped;
      break;
    case MapOutcome::kIgnored: {
      auto it = ignored.find(r.ignored_event);
      if (it == ignored.end()) it = ignored.emplace(std::string(r.ignored_event), 0).first;
      ++it->second;
      break;
    }
    case MapOutcome::kSkipped:
      ++skipped[static_cast<int>(r.reason)];
      break;
  }
}

int64_t MapCounters::skipped_total() const {
  int64_t n = 0;
  for (int64_t v : skipped) n += v;
  return n;
}

std::string MapCounters::ToString() const {
  std::string out = absl::StrCat("lines=", lines, " events=", events, " ignored{");
  const char* sep = "";
  for (const auto& [k, v] : ignored) {
    absl::StrAppend(&out, sep, k, "=", v);
    sep = ",";
  }
  absl::StrAppend(&out, "} skipped{");
  sep = "";
  for (int i = 0; i < kNumSkipReasons; ++i) {
    if (skipped[i] == 0) continue;
    absl::StrAppend(&out, sep, Av(SkipReasonName(static_cast<SkipReason>(i))), "=", skipped[i]);
    sep = ",";
  }
  absl::StrAppend(&out, "}");
  if (wait_dropped > 0) absl::StrAppend(&out, " wait_dropped=", wait_dropped);
  return out;
}

}  // namespace tidewatch::queuelog
