-- A member's history with a coach ("is this their first session?") is probed
-- on every booking. Ordered by start, the probe stops at the first entry of
-- the index even when a coach has tens of thousands of past sessions; the
-- two-column index it replaces gave the planner no order to stop on.
CREATE INDEX sessions_coach_member_start_idx ON sessions (coach_id, member_id, starts_at);
DROP INDEX sessions_coach_member_idx;
