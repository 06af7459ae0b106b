// The call-up board (libs/api/callup_board.h): a watcher starts with every
// open call-up once, then gets changes live; filters by team and line;
// re-emitted escalations are applied once; stood-down call-ups leave the
// open set; a watcher that falls behind is told to resync, gets the open set
// again and is counted, while the board never waits for it.
#include "api/callup_board.h"

#include <vector>

#include "gtest/gtest.h"

namespace tidewatch::api {
namespace {

using v1::CallUpEvent;

v1::Escalation CallUp(const std::string& line, int64_t seq, const std::string& id,
                      const std::string& team, v1::CallUpState state) {
  v1::Escalation e;
  e.set_id(line + "/" + std::to_string(seq));
  e.set_line_id(line);
  e.set_sequence(seq);
  v1::CallUp* c = e.mutable_callup();
  c->set_id(id);
  c->set_line_id(line);
  c->set_team_id(team);
  c->set_state(state);
  c->set_headcount(4);
  return e;
}

std::vector<CallUpEvent> Drain(Subscription& sub) {
  std::vector<CallUpEvent> out;
  while (std::optional<CallUpEvent> e = sub.Pop()) out.push_back(*e);
  return out;
}

std::vector<std::string> Describe(const std::vector<CallUpEvent>& events) {
  std::vector<std::string> out;
  for (const CallUpEvent& e : events) {
    std::string s = CallUpEvent::Kind_Name(e.kind());
    if (e.has_callup()) {
      s += " " + e.callup().id() + " " + v1::CallUpState_Name(e.callup().state());
    }
    out.push_back(s);
  }
  return out;
}

v1::CallUpFilter Team(const std::string& team) {
  v1::CallUpFilter f;
  f.set_team_id(team);
  return f;
}

TEST(CallUpBoardTest, SnapshotThenLiveUpdates) {
  CallUpBoard board;
  board.Apply(CallUp("revenues", 1, "rev/a", "revenues-back-office", v1::CALL_UP_STATE_PAGED));
  board.Apply(CallUp("revenues", 2, "rev/b", "csc-reserve", v1::CALL_UP_STATE_PAGED));
  int notified = 0;
  auto sub = board.Subscribe(Team("revenues-back-office"), [&] { ++notified; });
  EXPECT_EQ(Describe(Drain(*sub)),
            (std::vector<std::string>{"OPEN rev/a CALL_UP_STATE_PAGED", "SYNCED"}));
  board.Apply(
      CallUp("revenues", 3, "rev/a", "revenues-back-office", v1::CALL_UP_STATE_ACKNOWLEDGED));
  board.Apply(CallUp("revenues", 4, "rev/b", "csc-reserve", v1::CALL_UP_STATE_ACKNOWLEDGED));
  board.Apply(CallUp("revenues", 5, "rev/a", "revenues-back-office", v1::CALL_UP_STATE_STOOD_DOWN));
  EXPECT_EQ(notified, 2);  // only its team's changes
  EXPECT_EQ(Describe(Drain(*sub)),
            (std::vector<std::string>{"UPDATE rev/a CALL_UP_STATE_ACKNOWLEDGED",
                                      "UPDATE rev/a CALL_UP_STATE_STOOD_DOWN"}));
  EXPECT_FALSE(board.Find("rev/a"));
  ASSERT_TRUE(board.Find("rev/b"));
  EXPECT_EQ(board.Find("rev/b")->state(), v1::CALL_UP_STATE_ACKNOWLEDGED);
  board.Unsubscribe(sub);
  EXPECT_EQ(board.Stats().watchers, 0);
  EXPECT_EQ(board.Stats().open, 1);
}

TEST(CallUpBoardTest, LineFilterAndListing) {
  CallUpBoard board;
  board.Apply(CallUp("revenues", 1, "rev/a", "revenues-back-office", v1::CALL_UP_STATE_PAGED));
  board.Apply(CallUp("benefits", 1, "ben/a", "revenues-back-office", v1::CALL_UP_STATE_PAGED));
  v1::CallUpFilter f;
  f.set_line_id("benefits");
  ASSERT_EQ(board.Open(f).size(), 1u);
  EXPECT_EQ(board.Open(f)[0].id(), "ben/a");
  EXPECT_EQ(board.Open({}).size(), 2u);
  EXPECT_EQ(board.Open(Team("nobody")).size(), 0u);
}

TEST(CallUpBoardTest, ReemittedEscalationsAreAppliedOnce) {
  CallUpBoard board;
  auto sub = board.Subscribe({}, nullptr);
  Drain(*sub);
  board.Apply(CallUp("revenues", 1, "rev/a", "t", v1::CALL_UP_STATE_PAGED));
  board.Apply(CallUp("revenues", 1, "rev/a", "t", v1::CALL_UP_STATE_PAGED));  // same sequence
  // A new sequence carrying an identical call-up (e.g. after recovery).
  board.Apply(CallUp("revenues", 2, "rev/a", "t", v1::CALL_UP_STATE_PAGED));
  EXPECT_EQ(Drain(*sub).size(), 1u);
  EXPECT_EQ(board.Stats().duplicates, 2);
  // Tide changes and undecodable records are not call-ups.
  v1::Escalation tide;
  tide.set_line_id("revenues");
  tide.set_sequence(3);
  tide.mutable_tide_change()->set_to_level(1);
  board.Apply(tide);
  kafka::Record garbage;
  garbage.value = "\xff\xff not an escalation";
  board.ApplyRecord(garbage);
  EXPECT_EQ(Drain(*sub).size(), 0u);
  EXPECT_EQ(board.Stats().undecodable, 1);
}

TEST(CallUpBoardTest, ReconnectGetsEveryOpenCallUpOnce) {
  CallUpBoard board;
  auto first = board.Subscribe({}, nullptr);
  board.Apply(CallUp("revenues", 1, "rev/a", "t", v1::CALL_UP_STATE_PAGED));
  board.Apply(CallUp("revenues", 2, "rev/a", "t", v1::CALL_UP_STATE_ACKNOWLEDGED));
  board.Apply(CallUp("benefits", 1, "ben/a", "t", v1::CALL_UP_STATE_PAGED));
  board.Unsubscribe(first);  // disconnects
  board.Apply(CallUp("benefits", 2, "ben/b", "t", v1::CALL_UP_STATE_PAGED));
  auto again = board.Subscribe({}, nullptr);
  EXPECT_EQ(Describe(Drain(*again)), (std::vector<std::string>{
                                         "OPEN ben/a CALL_UP_STATE_PAGED",
                                         "OPEN ben/b CALL_UP_STATE_PAGED",
                                         "OPEN rev/a CALL_UP_STATE_ACKNOWLEDGED",
                                         "SYNCED",
                                     }));
}

TEST(CallUpBoardTest, SlowWatcherIsToldToResyncAndCounted) {
  CallUpBoard board({.queue_capacity = 4});
  auto slow = board.Subscribe({}, nullptr);
  auto fast = board.Subscribe({}, nullptr);
  Drain(*fast);
  // The slow watcher never reads; the board keeps going.
  for (int i = 1; i <= 10; ++i) {
    board.Apply(CallUp("revenues", i, "rev/" + std::to_string(i), "t", v1::CALL_UP_STATE_PAGED));
    EXPECT_EQ(Drain(*fast).size(), 1u);
  }
  std::vector<CallUpEvent> got = Drain(*slow);
  ASSERT_FALSE(got.empty());
  // The last overflow restarted the queue with RESYNC and the open set.
  size_t resync = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i].kind() == CallUpEvent::RESYNC) resync = i;
  }
  EXPECT_EQ(got[resync].kind(), CallUpEvent::RESYNC);
  std::set<std::string> ids;
  for (size_t i = resync + 1; i < got.size(); ++i) {
    if (got[i].has_callup()) ids.insert(got[i].callup().id());
  }
  EXPECT_EQ(ids.size(), 10u);  // nothing lost after the resync
  EXPECT_GE(slow->resyncs(), 1);
  EXPECT_EQ(fast->resyncs(), 0);
  EXPECT_EQ(board.Stats().resyncs, slow->resyncs());
}

}  // namespace
}  // namespace tidewatch::api
