-- Sessions are bounded in length (issue 23, item 3). The bound lives here,
-- once: the CHECK holds every path that writes a session to it, and lists
-- of sessions not yet ended read `starts_at > now() - session_max_length()`
-- beside `ends_at > now()`, an index range on start time instead of a walk
-- through a coach's or member's whole history. It matches the longest
-- session the code accepts (a session length of at most 1,440 minutes).
CREATE FUNCTION session_max_length() RETURNS interval
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN interval '1440 minutes';

ALTER TABLE sessions
    ADD CONSTRAINT sessions_length_bounded CHECK (ends_at - starts_at <= session_max_length());
