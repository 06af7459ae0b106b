#include "api/line_directory.h"

#include <utility>

#include "common/proto_time.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::api {

using tidewatch::v1::LineView;

tidewatch::v1::LineFigures FiguresOf(const stream::LineStatus& l) {
  tidewatch::v1::LineFigures f;
  for (const auto& [length, kpis] : l.windows) {
    tidewatch::v1::KpiSnapshot* s = f.add_windows();
    s->set_line_id(l.line_id);
    if (l.engine_time != absl::InfinitePast()) ToProto(l.engine_time, s->mutable_time());
    ToProto(length, s->mutable_window());
    *s->mutable_kpis() = kpis;
  }
  f.set_calls_waiting(l.calls_waiting);
  if (l.longest_waiting) ToProto(*l.longest_waiting, f.mutable_longest_waiting());
  f.set_agents_logged_in(l.agents.LoggedIn());
  for (int s = tidewatch::v1::AGENT_STATUS_AVAILABLE; s <= tidewatch::v1::AGENT_STATUS_AWAY; ++s) {
    const auto status = static_cast<tidewatch::v1::AgentStatus>(s);
    const int64_t n = l.agents.InState(status);
    if (n > 0) (*f.mutable_agents_by_state())[tidewatch::v1::AgentStatus_Name(status)] = n;
    for (int o = 0; o < line::AgentCounts::kOrigins; ++o) {
      if (l.agents.n[s][o] > 0) {
        (*f.mutable_agents_by_origin())[tidewatch::v1::AgentOrigin_Name(
            static_cast<tidewatch::v1::AgentOrigin>(o))] += l.agents.n[s][o];
      }
    }
  }
  if (l.capacity.enough_data) {
    f.set_arrivals_per_hour(l.capacity.arrivals_per_hour);
    f.set_mean_handle_seconds(l.capacity.mean_handle_seconds);
    if (l.capacity.predicted_wait_seconds)
      f.set_predicted_wait_seconds(*l.capacity.predicted_wait_seconds);
    if (l.capacity.agents_needed) f.set_agents_needed(*l.capacity.agents_needed);
    if (l.capacity.gap) f.set_capacity_gap(*l.capacity.gap);
  }
  if (l.last_event != absl::InfinitePast()) ToProto(l.last_event, f.mutable_last_event());
  return f;
}

LineDirectory::LineDirectory(LocalLines local, CurrentPolicy current_policy)
    : local_(std::move(local)), current_policy_(std::move(current_policy)) {}

void LineDirectory::ApplyStateRecord(const kafka::Record& record) {
  tidewatch::v1::LineTideState s;
  if (!s.ParseFromString(record.value) || s.line_id().empty()) return;
  absl::MutexLock lock(&mu_);
  tidewatch::v1::LineTideState& slot = state_[s.line_id()];
  // The newest engine time wins (an old owner's late write never hides a
  // newer one).
  if (slot.line_id().empty() || FromProto(s.engine_time()) >= FromProto(slot.engine_time())) {
    slot = std::move(s);
  }
}

std::map<std::string, LineView> LineDirectory::Build() const {
  const PolicyStore::Version policy = current_policy_();
  std::map<std::string, LineView> out;
  auto tier_name = [&](const std::string& line_id, int level) -> std::string {
    if (policy.compiled == nullptr || level <= 0) return "";
    const policy::LinePolicy* lp = policy.compiled->FindLine(line_id);
    if (lp == nullptr || level > static_cast<int>(lp->tiers.size())) return "";
    return lp->tiers[level - 1].name;
  };
  if (policy.compiled != nullptr) {
    for (const auto& [id, lp] : policy.compiled->lines) {
      LineView& v = out[id];
      v.set_line_id(id);
      v.set_display_name(lp.display_name);
      v.set_source("none");
    }
  }
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, s] : state_) {
      LineView& v = out[id];
      v.set_line_id(id);
      v.set_level(s.level());
      v.set_tier(tier_name(id, s.level()));
      v.set_feed_stale(s.feed_stale());
      *v.mutable_figures() = s.figures();
      *v.mutable_open_callups() = s.open_callups();
      *v.mutable_as_of() = s.engine_time();
      v.set_source("state");
      v.set_policy_version(s.policy_version());
    }
  }
  if (local_) {
    for (const stream::LineStatus& l : local_()) {
      LineView& v = out[l.line_id];
      v.set_line_id(l.line_id);
      v.set_level(l.tide.level);
      v.set_tier(l.tide.tier);
      v.set_feed_stale(l.tide.feed_stale);
      *v.mutable_figures() = FiguresOf(l);
      v.clear_open_callups();
      for (const auto& c : l.open_callups) *v.add_open_callups() = c;
      if (l.engine_time != absl::InfinitePast()) ToProto(l.engine_time, v.mutable_as_of());
      v.set_source("live");
      v.set_policy_version(policy.version);
    }
  }
  return out;
}

std::vector<LineView> LineDirectory::List() const {
  std::vector<LineView> out;
  for (auto& [id, v] : Build()) out.push_back(std::move(v));
  return out;
}

std::optional<LineView> LineDirectory::Get(const std::string& line_id) const {
  std::map<std::string, LineView> all = Build();
  auto it = all.find(line_id);
  if (it == all.end()) return std::nullopt;
  return it->second;
}

}  // namespace tidewatch::api
