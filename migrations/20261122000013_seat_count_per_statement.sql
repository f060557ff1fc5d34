-- Coach seat counts per statement, not per row (issue 11, bulk import).
--
-- The row trigger of migration 000001 updated the coach's profile row once
-- per member. Inside one transaction every such update leaves a row version
-- that no one may prune until the transaction ends, so the n-th update of a
-- coach walks n-1 dead versions first: a roster of 100,000 members over 200
-- coaches took two minutes, nearly all of it here. These statement triggers
-- read the statement's old and new rows (transition tables) and update each
-- coach once per statement with the net change, in coach order (no
-- deadlock between two statements touching the same coaches). The
-- guarantees are the same: the update takes the coach's row lock, so
-- concurrent assignments to one coach queue, and the CHECK
-- (member_count <= max_members) refuses an overfull coach whatever path
-- writes; a coach not accepting members still refuses new assignments.

DROP TRIGGER member_profiles_coach_count ON member_profiles;
DROP FUNCTION member_profiles_keep_coach_count();

-- Add `delta` seats to each coach of `seats` (coach, delta) rows: the
-- coaches locked in id order first, so two statements touching the same
-- coaches cannot deadlock.
CREATE FUNCTION coach_profiles_add_seats(seats jsonb) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM coach_profiles
    WHERE user_id IN (SELECT (e->>'coach')::uuid FROM jsonb_array_elements(seats) e)
    -- NO KEY UPDATE, as the update itself takes: the foreign key check of
    -- the member row already holds KEY SHARE on it, which FOR UPDATE would
    -- have to wait for (two assignments would deadlock).
    ORDER BY user_id FOR NO KEY UPDATE;
    UPDATE coach_profiles c SET member_count = c.member_count + (e->>'delta')::integer
    FROM jsonb_array_elements(seats) e
    WHERE c.user_id = (e->>'coach')::uuid;
END
$$;

CREATE FUNCTION refuse_not_accepting(coach uuid) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    IF coach IS NOT NULL THEN
        RAISE EXCEPTION 'coach % is not accepting members', coach
            USING ERRCODE = 'check_violation', CONSTRAINT = 'coach_profiles_accepting_members';
    END IF;
END
$$;

CREATE FUNCTION member_profiles_seats_insert() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refuse_not_accepting((
        SELECT n.coach_id FROM new_rows n JOIN coach_profiles c ON c.user_id = n.coach_id
        WHERE member_holds_seat(n.coach_id, n.membership_status) AND NOT c.accepting_members
        LIMIT 1));
    PERFORM coach_profiles_add_seats((
        SELECT jsonb_agg(jsonb_build_object('coach', coach_id, 'delta', n))
        FROM (SELECT coach_id, count(*) AS n FROM new_rows
              WHERE member_holds_seat(coach_id, membership_status) GROUP BY coach_id) s));
    RETURN NULL;
END
$$;

CREATE FUNCTION member_profiles_seats_update() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    -- A member already assigned who becomes active again is not new.
    PERFORM refuse_not_accepting((
        SELECT n.coach_id FROM new_rows n
        JOIN old_rows o ON o.user_id = n.user_id
        JOIN coach_profiles c ON c.user_id = n.coach_id
        WHERE member_holds_seat(n.coach_id, n.membership_status)
          AND o.coach_id IS DISTINCT FROM n.coach_id
          AND NOT c.accepting_members
        LIMIT 1));
    PERFORM coach_profiles_add_seats((
        SELECT jsonb_agg(jsonb_build_object('coach', coach, 'delta', delta))
        FROM (SELECT coach, sum(delta) AS delta FROM (
                  SELECT coach_id AS coach, -1 AS delta FROM old_rows
                  WHERE member_holds_seat(coach_id, membership_status)
                  UNION ALL
                  SELECT coach_id, 1 FROM new_rows
                  WHERE member_holds_seat(coach_id, membership_status)) d
              GROUP BY coach HAVING sum(delta) <> 0) s));
    RETURN NULL;
END
$$;

CREATE FUNCTION member_profiles_seats_delete() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM coach_profiles_add_seats((
        SELECT jsonb_agg(jsonb_build_object('coach', coach_id, 'delta', -n))
        FROM (SELECT coach_id, count(*) AS n FROM old_rows
              WHERE member_holds_seat(coach_id, membership_status) GROUP BY coach_id) s));
    RETURN NULL;
END
$$;

-- A trigger with transition tables names one event (and no column list).
CREATE TRIGGER member_profiles_seats_insert
    AFTER INSERT ON member_profiles REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION member_profiles_seats_insert();
CREATE TRIGGER member_profiles_seats_update
    AFTER UPDATE ON member_profiles REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION member_profiles_seats_update();
CREATE TRIGGER member_profiles_seats_delete
    AFTER DELETE ON member_profiles REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION member_profiles_seats_delete();
