// Recovery building blocks: a line frozen while events rebuild its windows,
// then restored from a tide snapshot, continues exactly like an engine
// that never stopped (same escalations, ids and sequence numbers); lines of
// other partitions are set aside; escalation sequences have no gaps.
#include "engine/engine.h"
#include "google/protobuf/util/message_differencer.h"
#include "test_util.h"

namespace tidewatch::engine {
namespace {

using tidewatch::testing::EventBuilder;
using tidewatch::testing::MustLoad;
using tidewatch::v1::Escalation;

const absl::Time kT0 = absl::FromUnixSeconds(1664787600);  // Mon 10:00 BST

class EscalationRecorder : public EngineOutput {
 public:
  void OnEscalation(const Escalation& e) override { all.push_back(e); }
  void OnTideChange(const tidewatch::v1::TideChange&) override {}
  void OnCallUp(const tidewatch::v1::CallUp&) override {}
  std::vector<Escalation> all;
};

// A morning with a surge on revenues and a quieter housing line.
std::vector<tidewatch::v1::CallEvent> Day() {
  std::vector<tidewatch::v1::CallEvent> events;
  EventBuilder rev("revenues"), hou("housing");
  for (int i = 0; i < 900; ++i) {
    const absl::Time t = kT0 + absl::Seconds(8 * i);
    // Waits climb to 15 minutes mid-morning, then fall back.
    const int wait = i < 300 ? 60 : (i < 600 ? 900 : 40);
    std::string id = absl::StrCat("r", i);
    events.push_back(rev.Queued(id, t));
    events.push_back(rev.Answered(id, t + absl::Seconds(wait)));
    if (i % 3 == 0) {
      std::string h = absl::StrCat("h", i);
      events.push_back(hou.Queued(h, t));
      events.push_back(hou.Answered(h, t + absl::Seconds(30)));
    }
  }
  std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) {
    return a.event_time().seconds() < b.event_time().seconds();
  });
  return events;
}

TEST(RecoveryTest, RestoredEngineContinuesIdentically) {
  auto policy = MustLoad(std::string(policy::DefaultPolicyYaml()));
  const auto events = Day();
  EscalationRecorder whole;
  {
    Engine engine(policy, {}, &whole);
    for (const auto& e : events) engine.Apply(e);
    engine.Finish();
  }
  ASSERT_GE(whole.all.size(), 4u);
  // Sequences per line are 1, 2, 3, ... with ids LINE/SEQ.
  std::map<std::string, int64_t> last;
  for (const Escalation& e : whole.all) {
    EXPECT_EQ(e.sequence(), ++last[e.line_id()]);
    EXPECT_EQ(e.id(), absl::StrCat(e.line_id(), "/", e.sequence()));
  }

  for (size_t split : {events.size() / 3, events.size() / 2, 2 * events.size() / 3}) {
    // The first instance runs up to `split` and is "killed" after writing
    // its tide state.
    EscalationRecorder before;
    std::vector<tidewatch::v1::LineTideState> saved;
    {
      Engine engine(policy, {}, &before);
      for (size_t i = 0; i < split; ++i) engine.Apply(events[i]);
      for (const std::string& id : engine.LineIds()) saved.push_back(*engine.SnapshotTide(id));
    }
    // The second replays everything before `split` frozen (windows rebuilt,
    // nothing emitted), restores the saved tide, and carries on.
    EscalationRecorder after;
    Engine engine(policy, {}, &after);
    for (const std::string& id : engine.LineIds()) ASSERT_TRUE(engine.FreezeTide(id).ok());
    for (size_t i = 0; i < split; ++i) engine.Apply(events[i]);
    EXPECT_TRUE(after.all.empty());
    for (const auto& s : saved) ASSERT_TRUE(engine.RestoreTide(s).ok());
    for (size_t i = split; i < events.size(); ++i) engine.Apply(events[i]);
    engine.Finish();
    // Totals survive the restart: they equal an uninterrupted run's.
    {
      EscalationRecorder ignore;
      Engine straight(policy, {}, &ignore);
      for (const auto& e : events) straight.Apply(e);
      straight.Finish();
      for (const std::string& id : engine.LineIds()) {
        const auto& a = engine.FindLine(id)->totals();
        const auto& b = straight.FindLine(id)->totals();
        EXPECT_EQ(a.counters.offered, b.counters.offered) << id;
        EXPECT_EQ(a.counters.answered, b.counters.answered) << id;
        EXPECT_EQ(a.counters.sum_wait_all_ns, b.counters.sum_wait_all_ns) << id;
        EXPECT_EQ(a.max_wait_ns, b.max_wait_ns) << id;
        EXPECT_EQ(a.waits.QuantileSeconds(0.9), b.waits.QuantileSeconds(0.9)) << id;
      }
    }

    std::vector<Escalation> joined = before.all;
    joined.insert(joined.end(), after.all.begin(), after.all.end());
    ASSERT_EQ(joined.size(), whole.all.size()) << "split " << split;
    for (size_t i = 0; i < joined.size(); ++i) {
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(joined[i], whole.all[i]))
          << "split " << split << " escalation " << i << "\n"
          << joined[i].DebugString() << "\nvs\n"
          << whole.all[i].DebugString();
    }
  }
}

// A recovery replays only the last hour or so of input (longest window +
// lateness): a call waiting since before it is restored from the saved
// state, so calls_waiting and longest_waiting are the uninterrupted run's
// and its answer carries its whole wait. Calls the replay opens again are
// not doubled; fingerprints saved by another function are not matched.
TEST(RecoveryTest, CallsWaitingSinceBeforeTheReplayAreRestored) {
  auto policy = MustLoad(std::string(policy::DefaultPolicyYaml()));
  EventBuilder rev("revenues");
  std::vector<tidewatch::v1::CallEvent> events;
  events.push_back(rev.Queued("long", kT0));
  for (int m = 1; m <= 120; ++m) {  // two hours of short calls
    const absl::Time t = kT0 + absl::Minutes(m);
    events.push_back(rev.Queued(absl::StrCat("s", m), t));
    events.push_back(rev.Answered(absl::StrCat("s", m), t + absl::Seconds(20)));
  }
  events.push_back(rev.Queued("recent", kT0 + absl::Minutes(100)));
  std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) {
    return a.event_time().seconds() < b.event_time().seconds();
  });
  const absl::Time restart = kT0 + absl::Minutes(121);
  const auto answer_long = rev.Answered("long", restart + absl::Minutes(1));

  EscalationRecorder ignore;
  Engine straight(policy, {}, &ignore);
  for (const auto& e : events) straight.Apply(e);
  straight.AdvanceTo(restart);
  absl::StatusOr<tidewatch::v1::LineTideState> saved = straight.SnapshotTide("revenues");
  ASSERT_TRUE(saved.ok());
  // Only the call waiting since before the replay horizon is saved (the
  // replay opens "recent" again).
  ASSERT_EQ(saved->waiting_size(), 1);
  EXPECT_EQ(saved->call_fingerprint_version(), RecentIdSet::kFingerprintVersion);
  EXPECT_EQ(absl::FromUnixSeconds(saved->waiting(0).queued().seconds()), kT0);
  ASSERT_EQ(straight.FindLine("revenues")->calls_waiting(), 2);

  // Replays from 70 minutes before the restart, as a recovery would.
  auto recover = [&](const tidewatch::v1::LineTideState& state) {
    auto engine = std::make_unique<Engine>(policy, EngineOptions{}, &ignore);
    EXPECT_TRUE(engine->FreezeTide("revenues").ok());
    for (const auto& e : events) {
      if (absl::FromUnixSeconds(e.event_time().seconds()) >= restart - absl::Minutes(70)) {
        engine->Apply(e);
      }
    }
    engine->AdvanceTo(restart);
    EXPECT_TRUE(engine->RestoreTide(state).ok());
    return engine;
  };
  std::unique_ptr<Engine> recovered = recover(*saved);
  const line::LineState& line = *recovered->FindLine("revenues");
  EXPECT_EQ(line.calls_waiting(), 2);
  EXPECT_EQ(line.longest_waiting(), straight.FindLine("revenues")->longest_waiting());
  EXPECT_EQ(*line.longest_waiting(), absl::Minutes(121));
  straight.Apply(answer_long);
  EXPECT_EQ(recovered->Apply(answer_long), EventOutcome::kApplied);
  EXPECT_EQ(line.calls_waiting(), 1);
  EXPECT_EQ(line.totals().max_wait_ns, straight.FindLine("revenues")->totals().max_wait_ns);
  EXPECT_EQ(line.totals().max_wait_ns, absl::ToInt64Nanoseconds(absl::Minutes(122)));

  tidewatch::v1::LineTideState other_function = *saved;
  other_function.set_call_fingerprint_version(RecentIdSet::kFingerprintVersion + 1);
  EXPECT_EQ(recover(other_function)->FindLine("revenues")->calls_waiting(), 1);
}

TEST(RecoveryTest, SilentFeedDuringOpeningHoursIsMarkedStale) {
  auto policy = MustLoad(std::string(policy::DefaultPolicyYaml()));
  EscalationRecorder out;
  EngineOptions options;
  options.detect_stale_feeds = true;
  options.owns_line = [](std::string_view line) { return line == "revenues"; };
  Engine engine(policy, options, &out);
  EventBuilder rev("revenues");
  engine.Apply(rev.Queued("c1", kT0));
  engine.AdvanceTo(kT0 + absl::Minutes(5));
  EXPECT_TRUE(out.all.empty());
  engine.AdvanceTo(kT0 + absl::Minutes(5) + absl::Seconds(10));  // 5m (feed_stale_after) passed
  ASSERT_EQ(out.all.size(), 1u);
  ASSERT_TRUE(out.all[0].has_feed_status());
  EXPECT_TRUE(out.all[0].feed_status().stale());
  EXPECT_EQ(out.all[0].feed_status().last_event().seconds(), absl::ToUnixSeconds(kT0));
  EXPECT_TRUE(engine.Tide("revenues").feed_stale);
  // The feed comes back.
  engine.Apply(rev.Answered("c1", kT0 + absl::Minutes(6)));
  engine.AdvanceTo(kT0 + absl::Minutes(6) + absl::Seconds(10));
  ASSERT_EQ(out.all.size(), 2u);
  EXPECT_FALSE(out.all[1].feed_status().stale());
  // 17:30 local: closed lines are silent by design, never stale.
  engine.AdvanceTo(absl::FromUnixSeconds(1664814600) + absl::Hours(2));
  EXPECT_FALSE(engine.Tide("revenues").feed_stale);
}

// A line a policy version adds has had no events (they were set aside as
// an unknown line): its feed's silence counts from when it was added.
TEST(RecoveryTest, ALineAddedLiveIsNotStaleAtOnce) {
  const std::string yaml(policy::DefaultPolicyYaml());
  std::string without = yaml;
  const std::string waste =
      "  waste:\n    display_name: Waste & Recycling\n    roles: {back_office: "
      "waste-back-office}\n";
  const size_t at = without.find(waste);
  ASSERT_NE(at, std::string::npos);
  without.erase(at, waste.size());
  EscalationRecorder out;
  EngineOptions options;
  options.detect_stale_feeds = true;
  Engine engine(MustLoad(without), options, &out);
  EventBuilder rev("revenues"), was("waste");
  for (int m = 0; m <= 20; ++m) {
    engine.Apply(rev.Queued(absl::StrCat("r", m), kT0 + absl::Minutes(m)));
    EXPECT_EQ(engine.Apply(was.Queued(absl::StrCat("w", m), kT0 + absl::Minutes(m))),
              EventOutcome::kUnknownLine);
  }
  ASSERT_TRUE(engine.ReplacePolicy(MustLoad(yaml), 2).ok());
  engine.AdvanceTo(kT0 + absl::Minutes(21));
  EXPECT_FALSE(engine.Tide("waste").feed_stale);  // added a minute ago
  engine.AdvanceTo(kT0 + absl::Minutes(25) + absl::Seconds(10));
  EXPECT_TRUE(engine.Tide("waste").feed_stale);  // 5m (feed_stale_after) since then
}

TEST(RecoveryTest, LinesOfOtherPartitionsAreSetAside) {
  auto policy = MustLoad(std::string(policy::DefaultPolicyYaml()));
  EscalationRecorder out;
  EngineOptions options;
  options.owns_line = [](std::string_view line) { return line == "revenues"; };
  Engine engine(policy, options, &out);
  EventBuilder rev("revenues"), hou("housing");
  EXPECT_EQ(engine.Apply(rev.Queued("c1", kT0)), EventOutcome::kApplied);
  EXPECT_EQ(engine.Apply(hou.Queued("c2", kT0)), EventOutcome::kNotOwned);
  EXPECT_EQ(engine.SetAsideCounts().at("not_owned"), 1);
}

TEST(RecoveryTest, RestoreOfUnknownLineIsNotFound) {
  auto policy = MustLoad(std::string(policy::DefaultPolicyYaml()));
  EscalationRecorder out;
  Engine engine(policy, {}, &out);
  tidewatch::v1::LineTideState s;
  s.set_line_id("parking");
  EXPECT_EQ(engine.RestoreTide(s).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine.FreezeTide("parking").code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tidewatch::engine
