-- A program's series meets the booking limits (issue 20) like any seat: the
-- conflicts it reports name the limit of each occurrence that would pass it,
-- so a series is refused whole with the reason instead of by the per-row
-- guard's first error. Seats of the series itself are counted by that guard
-- as its rows go in (all or nothing either way).
--
-- The function reads every seat as its owner, so it also checks that the
-- asker may plan for that coach: otherwise a coach's login could ask about
-- any coach's or member's schedule.
ALTER FUNCTION series_conflicts(uuid, uuid, jsonb, uuid) RENAME TO series_rule_conflicts;

CREATE FUNCTION series_conflicts(coach uuid, member uuid, occurrences jsonb, moving uuid DEFAULT NULL)
    RETURNS TABLE (occurrence timestamptz, problem text, other_start timestamptz)
    LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF current_actor_role() NOT IN ('owner', 'admin')
       AND current_actor() IS DISTINCT FROM coach THEN
        RAISE EXCEPTION 'only the coach or an admin plans a series for this coach'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN QUERY
    SELECT * FROM series_rule_conflicts(coach, member, occurrences, moving)
    UNION ALL
    SELECT l.s, l.refusal, NULL::timestamptz
    FROM (SELECT (e->>'start')::timestamptz AS s,
                 seat_limit_refusal(coach, member, (e->>'start')::timestamptz,
                                    (e->>'end')::timestamptz, NULL) AS refusal
          FROM jsonb_array_elements(occurrences) e
          -- a series moving its own seats would count them against itself
          WHERE moving IS NULL) l
    WHERE l.refusal IS NOT NULL
    ORDER BY 1, 2;
END
$$;

DO $do$
DECLARE
    p text;
    g text;
BEGIN
    EXECUTE format('ALTER FUNCTION series_conflicts(uuid, uuid, jsonb, uuid) SET search_path = %I, pg_temp',
                   current_schema());
    REVOKE EXECUTE ON FUNCTION series_conflicts(uuid, uuid, jsonb, uuid) FROM PUBLIC;
    SELECT group_prefix INTO p FROM identity_settings;
    FOREACH g IN ARRAY ARRAY['_admin', '_coach', '_member', '_notifier'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p || g) THEN
            EXECUTE format('REVOKE EXECUTE ON FUNCTION series_rule_conflicts(uuid, uuid, jsonb, uuid) FROM %I',
                           p || g);
        END IF;
    END LOOP;
END
$do$;

-- identity_grants_programs() grants series_conflicts by name: the new one
SELECT identity_install();
