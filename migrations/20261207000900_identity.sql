-- Identity in the database (issue 17, first part; docs/design/identity.md).
--
-- Who is asking is decided by PostgreSQL: a login role per person (table
-- `logins`), mapped to its user by `current_actor()`. Every table has row
-- level security; the policies below are written once, `TO PUBLIC`, and ask
-- `current_actor_role()`, so they need no role names and read the same on
-- every database. Only the group roles made by `identity_install()` get
-- table privileges, so the policies are what a login lives under. The
-- schema owner (the operator's connection, the embedded default,
-- migrations) owns the tables and bypasses row level security: for it
-- nothing changes, and the library decides as before.
--
-- Checks that must see other people's rows (capacity, buffers, windows,
-- seat counts, rate limits, notices) run in trigger functions that are
-- SECURITY DEFINER, owned by the schema owner, with a fixed search_path
-- (set for every definer function at the end of this file). A member's
-- booking is checked against seats the member cannot read.

CREATE TABLE identity_settings (
    singleton     boolean PRIMARY KEY DEFAULT true,
    -- Group roles are per database (`<prefix>_member`, ...), so two coachctl
    -- databases on one server keep their logins apart. A database made from
    -- a template keeps its template's groups.
    group_prefix  text NOT NULL,
    CONSTRAINT identity_settings_one_row CHECK (singleton),
    CONSTRAINT identity_settings_prefix_valid CHECK (group_prefix ~ '^[a-z][a-z0-9_]{0,40}$')
);
INSERT INTO identity_settings (group_prefix)
VALUES ('coachctl_' || substr(md5(gen_random_uuid()::text), 1, 8));

CREATE TABLE logins (
    role_name   name PRIMARY KEY,
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    service     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    changed_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT logins_user_key UNIQUE (user_id),
    CONSTRAINT logins_person_or_service CHECK ((user_id IS NULL) <> (service IS NULL)),
    CONSTRAINT logins_service_known CHECK (service IN ('notifier'))
);

-- What the session's login is: 'owner' when it is nobody's login (the
-- operator), a service name, the person's role, or 'none' for a login of a
-- deactivated person or of another database. `session_user`, not
-- `current_user`: inside a definer function current_user is the owner.
CREATE FUNCTION current_actor_role() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT CASE
        WHEN l.role_name IS NULL THEN 'owner'
        WHEN l.service IS NOT NULL THEN l.service
        WHEN u.active THEN u.role
        ELSE 'none'
    END
    FROM (SELECT session_user::name AS r) s
    LEFT JOIN logins l ON l.role_name = s.r
    LEFT JOIN users u ON u.id = l.user_id
$$;

-- The person acting: the login's user, or, for an admin's login only, the
-- active user that `coachctl.act_as` names (any other login's setting is
-- ignored, so no one can act as another by setting it).
CREATE FUNCTION current_actor() RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT CASE
        WHEN u.role = 'admin' AND nullif(current_setting('coachctl.act_as', true), '') IS NOT NULL
            THEN (SELECT a.id FROM users a
                  WHERE a.id = nullif(current_setting('coachctl.act_as', true), '')::uuid
                    AND a.active)
        ELSE u.id
    END
    FROM logins l JOIN users u ON u.id = l.user_id AND u.active
    WHERE l.role_name = session_user
$$;

-- The admin whose login acts for someone else (NULL when acting as oneself).
CREATE FUNCTION current_actor_via() RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT u.id
    FROM logins l JOIN users u ON u.id = l.user_id AND u.active AND u.role = 'admin'
    WHERE l.role_name = session_user
      AND nullif(current_setting('coachctl.act_as', true), '') IS NOT NULL
      AND nullif(current_setting('coachctl.act_as', true), '')::uuid <> u.id
$$;

-- Members whose profile a coach reads: assigned to them, or connected.
CREATE FUNCTION actor_member_ids() RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT m.user_id FROM member_profiles m WHERE m.coach_id = current_actor()
    UNION
    SELECT c.member_id FROM connections c
    WHERE c.coach_id = current_actor() AND c.status = 'accepted'
$$;

-- People whose name and email the actor reads besides themselves and the
-- coaches: a coach's members and connections (open ones too, to answer
-- them), the members of their sessions and conversations, and members who
-- made themselves public (`connect search`); a member's coaches are
-- coaches, so a member reads no other member.
CREATE FUNCTION actor_people_ids() RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT m.user_id FROM member_profiles m
    WHERE m.coach_id = current_actor()
       OR (m.privacy = 'public' AND current_actor_role() = 'coach')
    UNION
    SELECT c.member_id FROM connections c
    WHERE c.coach_id = current_actor() AND c.status IN ('pending', 'accepted')
    UNION
    SELECT s.member_id FROM sessions s WHERE s.coach_id = current_actor()
    UNION
    SELECT v.member_id FROM conversations v WHERE v.coach_id = current_actor()
$$;

-- What a coach may read of a member's private fields: what the member
-- shares with an assigned or connected coach; coach notes are the assigned
-- coach's. Admins and the member read everything; the owner too (the
-- library redacts for `--as` itself).
CREATE FUNCTION member_private_fields(member uuid)
    RETURNS TABLE (goals text, health_info text, coach_notes text)
    LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT
        CASE WHEN r.role IN ('owner', 'admin') OR member = current_actor()
                  OR (m.share_goals AND member IN (SELECT actor_member_ids()))
             THEN m.goals END,
        CASE WHEN r.role IN ('owner', 'admin') OR member = current_actor()
                  OR (m.share_health_info AND member IN (SELECT actor_member_ids()))
             THEN m.health_info END,
        CASE WHEN r.role IN ('owner', 'admin') OR m.coach_id = current_actor()
             THEN m.coach_notes END
    FROM member_profiles m, (SELECT current_actor_role() AS role) r
    WHERE m.user_id = member
      -- no row at all for a member the actor may not read: not an oracle
      AND (r.role IN ('owner', 'admin') OR member = current_actor()
           OR member IN (SELECT actor_member_ids()))
$$;

-- The grants: group roles for this database and what each may touch. The
-- migration runs it when the owner may create roles; `login grant` runs it
-- again (it is idempotent) so that a CREATEROLE given later suffices.
-- Column lists leave out what a group may never read or set: invitation
-- code hashes for everyone, a member's private fields and a session's coach
-- notes for the other side (read through member_private_fields()).
-- The columns of a table but the ones named: for grants that leave them out.
CREATE FUNCTION identity_columns(t regclass, hidden text[]) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
    WHERE attrelid = t AND attnum > 0 AND NOT attisdropped AND attname <> ALL (hidden)
$$;

CREATE FUNCTION identity_install() RETURNS boolean
    LANGUAGE plpgsql AS $$
DECLARE
    p text := (SELECT group_prefix FROM identity_settings);
    schema text := current_schema();
    g text;
    t text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user
                   AND (rolcreaterole OR rolsuper)) THEN
        RETURN false;
    END IF;
    FOREACH g IN ARRAY ARRAY['admin', 'coach', 'member', 'notifier'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p || '_' || g) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', p || '_' || g);
        END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', schema, p || '_' || g);
        EXECUTE format('GRANT EXECUTE ON FUNCTION current_actor(), current_actor_role(),
                        current_actor_via(), actor_member_ids(), actor_people_ids(),
                        member_private_fields(uuid), email_key(text) TO %I', p || '_' || g);
        EXECUTE format('GRANT SELECT ON _sqlx_migrations, identity_settings, audit_commits TO %I',
                       p || '_' || g);
    END LOOP;

    -- Admins: every row, every column but the code hashes.
    FOR t IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = schema::regnamespace AND c.relkind = 'r'
               AND c.relname NOT IN ('_sqlx_migrations', 'identity_settings', 'invitations')
    LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %I TO %I', t, p || '_admin');
    END LOOP;
    EXECUTE format('GRANT DELETE ON availability_windows, availability_blocks, slot_watchers,
                    sessions, bookings, session_notes TO %I', p || '_admin');
    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO %I, %I, %I, %I', schema,
                   p || '_admin', p || '_coach', p || '_member', p || '_notifier');
    EXECUTE format('GRANT SELECT (%s), INSERT, UPDATE ON invitations TO %I, %I',
        identity_columns('invitations', '{code_hash}'), p || '_admin', p || '_coach');
    EXECUTE format('GRANT SELECT (%s) ON invitations TO %I',
        identity_columns('invitations', '{code_hash}'), p || '_member');

    -- Coaches and members: reads under the policies, writes where a person
    -- acts (the policies and triggers decide which rows and transitions).
    FOREACH g IN ARRAY ARRAY['coach', 'member'] LOOP
        EXECUTE format('GRANT SELECT ON users, coach_profiles, availability_windows,
                        availability_blocks, slots, bookings, session_notes, session_ratings,
                        connections, conversations, messages, relationship_events, outbox,
                        audit_log, slot_watchers TO %I', p || '_' || g);
        EXECUTE format('GRANT UPDATE (name, timezone, updated_at) ON users TO %I', p || '_' || g);
        EXECUTE format('GRANT INSERT ON sessions, bookings, session_notes, connections,
                        conversations, messages, relationship_events, audit_log TO %I',
                       p || '_' || g);
        EXECUTE format('GRANT UPDATE (status, responded_at, decline_reason, cancelled_at,
                        cancelled_by, cancellation_reason, starts_at, ends_at, sequence,
                        window_id, slot_capacity, buffer_minutes, off_grid, expires_at,
                        member_notes, updated_at) ON sessions TO %I', p || '_' || g);
        EXECUTE format('GRANT UPDATE (status, answered_at, answered_by, removed_at, removed_by)
                        ON connections TO %I', p || '_' || g);
        EXECUTE format('GRANT UPDATE (read_at) ON messages TO %I', p || '_' || g);
        EXECUTE format('GRANT INSERT, DELETE ON slot_watchers TO %I', p || '_' || g);
    END LOOP;
    EXECUTE format('GRANT SELECT ON sessions TO %I', p || '_coach');
    EXECUTE format('GRANT SELECT (%s) ON sessions TO %I, %I',
        identity_columns('sessions', '{coach_notes}'), p || '_member', p || '_notifier');
    EXECUTE format('GRANT UPDATE (completed_at, outcomes, coach_notes) ON sessions TO %I',
                   p || '_coach');
    EXECUTE format('GRANT SELECT (%s) ON member_profiles TO %I',
        identity_columns('member_profiles', '{goals,health_info,coach_notes}'), p || '_coach');
    EXECUTE format('GRANT SELECT (%s) ON member_profiles TO %I',
        identity_columns('member_profiles', '{coach_notes}'), p || '_member');
    EXECUTE format('GRANT UPDATE (privacy, share_goals, share_health_info, goals, health_info,
                    updated_at) ON member_profiles TO %I', p || '_member');
    EXECUTE format('GRANT UPDATE (onboarding_status, membership_status, coach_notes, updated_at)
                    ON member_profiles TO %I', p || '_coach');
    EXECUTE format('GRANT UPDATE (specialization, bio, certifications, accepting_members,
                    min_notice_minutes, horizon_days, updated_at) ON coach_profiles TO %I',
                   p || '_coach');
    EXECUTE format('GRANT INSERT, UPDATE, DELETE ON availability_windows, availability_blocks
                    TO %I', p || '_coach');
    EXECUTE format('GRANT INSERT ON session_ratings TO %I', p || '_member');

    -- The cron job's login: the outbox and what a notice is rendered from.
    EXECUTE format('GRANT SELECT ON outbox, users, coach_profiles TO %I', p || '_notifier');
    EXECUTE format('GRANT SELECT (user_id, coach_id, membership_status) ON member_profiles TO %I',
                   p || '_notifier');
    EXECUTE format('GRANT INSERT, UPDATE ON outbox TO %I', p || '_notifier');
    EXECUTE format('GRANT INSERT ON audit_log TO %I', p || '_notifier');
    RETURN true;
END
$$;

-- Policies. `me` is `(SELECT current_actor())` and the role
-- `(SELECT current_actor_role())`, written as subqueries so that each runs
-- once per statement, not once per row.

ALTER TABLE _sqlx_migrations ENABLE ROW LEVEL SECURITY;
CREATE POLICY migrations_read ON _sqlx_migrations FOR SELECT USING (true);
ALTER TABLE identity_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY identity_settings_read ON identity_settings FOR SELECT USING (true);

ALTER TABLE logins ENABLE ROW LEVEL SECURITY;
CREATE POLICY logins_admin ON logins
    USING ((SELECT current_actor_role()) = 'admin'
           OR user_id = (SELECT current_actor()));

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY users_read ON users FOR SELECT USING (
    (SELECT current_actor_role()) IN ('admin', 'notifier')
    OR id = (SELECT current_actor())
    OR (role = 'coach' AND (SELECT current_actor_role()) IN ('coach', 'member'))
    OR id IN (SELECT actor_people_ids()));
CREATE POLICY users_admin_write ON users FOR INSERT
    WITH CHECK ((SELECT current_actor_role()) = 'admin');
CREATE POLICY users_update ON users FOR UPDATE
    USING ((SELECT current_actor_role()) = 'admin' OR id = (SELECT current_actor()))
    WITH CHECK ((SELECT current_actor_role()) = 'admin' OR id = (SELECT current_actor()));

ALTER TABLE coach_profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY coach_profiles_read ON coach_profiles FOR SELECT
    USING ((SELECT current_actor_role()) IN ('admin', 'coach', 'member', 'notifier'));
CREATE POLICY coach_profiles_insert ON coach_profiles FOR INSERT
    WITH CHECK ((SELECT current_actor_role()) = 'admin');
CREATE POLICY coach_profiles_update ON coach_profiles FOR UPDATE
    USING ((SELECT current_actor_role()) = 'admin' OR user_id = (SELECT current_actor()))
    WITH CHECK ((SELECT current_actor_role()) = 'admin' OR user_id = (SELECT current_actor()));

ALTER TABLE member_profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY member_profiles_read ON member_profiles FOR SELECT USING (
    (SELECT current_actor_role()) IN ('admin', 'notifier')
    OR user_id = (SELECT current_actor())
    OR user_id IN (SELECT actor_member_ids())
    OR (privacy = 'public' AND (SELECT current_actor_role()) = 'coach'));
CREATE POLICY member_profiles_insert ON member_profiles FOR INSERT
    WITH CHECK ((SELECT current_actor_role()) = 'admin');
CREATE POLICY member_profiles_update ON member_profiles FOR UPDATE
    USING ((SELECT current_actor_role()) = 'admin'
           OR user_id = (SELECT current_actor())
           OR coach_id = (SELECT current_actor()))
    WITH CHECK ((SELECT current_actor_role()) = 'admin'
           OR user_id = (SELECT current_actor())
           OR coach_id = (SELECT current_actor()));

ALTER TABLE availability_windows ENABLE ROW LEVEL SECURITY;
CREATE POLICY availability_windows_read ON availability_windows FOR SELECT
    USING ((SELECT current_actor_role()) IN ('admin', 'coach', 'member'));
CREATE POLICY availability_windows_write ON availability_windows FOR ALL
    USING ((SELECT current_actor_role()) = 'admin' OR coach_id = (SELECT current_actor()))
    WITH CHECK ((SELECT current_actor_role()) = 'admin' OR coach_id = (SELECT current_actor()));

ALTER TABLE availability_blocks ENABLE ROW LEVEL SECURITY;
CREATE POLICY availability_blocks_read ON availability_blocks FOR SELECT
    USING ((SELECT current_actor_role()) IN ('admin', 'coach', 'member'));
CREATE POLICY availability_blocks_write ON availability_blocks FOR ALL
    USING ((SELECT current_actor_role()) = 'admin' OR coach_id = (SELECT current_actor()))
    WITH CHECK ((SELECT current_actor_role()) = 'admin' OR coach_id = (SELECT current_actor()));

-- Seat counts: written only by the definer trigger; read by the coach and
-- admins (a member sees free seats through the slots the library offers).
ALTER TABLE slots ENABLE ROW LEVEL SECURITY;
CREATE POLICY slots_read ON slots FOR SELECT
    USING ((SELECT current_actor_role()) = 'admin' OR coach_id = (SELECT current_actor()));

ALTER TABLE slot_watchers ENABLE ROW LEVEL SECURITY;
CREATE POLICY slot_watchers_all ON slot_watchers
    USING ((SELECT current_actor_role()) IN ('admin', 'coach', 'member'))
    WITH CHECK ((SELECT current_actor_role()) IN ('admin', 'coach', 'member'));

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY sessions_read ON sessions FOR SELECT USING (
    (SELECT current_actor_role()) IN ('admin', 'notifier')
    OR member_id = (SELECT current_actor())
    OR coach_id = (SELECT current_actor()));
CREATE POLICY sessions_insert ON sessions FOR INSERT WITH CHECK (
    (SELECT current_actor_role()) = 'admin'
    OR member_id = (SELECT current_actor())
    OR coach_id = (SELECT current_actor()));
CREATE POLICY sessions_update ON sessions FOR UPDATE
    USING ((SELECT current_actor_role()) = 'admin'
           OR member_id = (SELECT current_actor())
           OR coach_id = (SELECT current_actor()))
    WITH CHECK ((SELECT current_actor_role()) = 'admin'
           OR member_id = (SELECT current_actor())
           OR coach_id = (SELECT current_actor()));
CREATE POLICY sessions_delete ON sessions FOR DELETE
    USING ((SELECT current_actor_role()) = 'admin');

ALTER TABLE bookings ENABLE ROW LEVEL SECURITY;
CREATE POLICY bookings_own ON bookings
    USING ((SELECT current_actor_role()) = 'admin'
           OR member_id = (SELECT current_actor())
           OR coach_id = (SELECT current_actor()))
    WITH CHECK ((SELECT current_actor_role()) = 'admin'
           OR member_id = (SELECT current_actor())
           OR coach_id = (SELECT current_actor()));

-- Private notes are the session's coach's; shared ones its member's too.
ALTER TABLE session_notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY session_notes_read ON session_notes FOR SELECT USING (
    (SELECT current_actor_role()) = 'admin'
    OR session_id IN (SELECT s.id FROM sessions s WHERE s.coach_id = (SELECT current_actor()))
    OR (visibility = 'shared'
        AND session_id IN (SELECT s.id FROM sessions s WHERE s.member_id = (SELECT current_actor()))));
CREATE POLICY session_notes_write ON session_notes FOR INSERT WITH CHECK (
    (SELECT current_actor_role()) = 'admin'
    OR (author_id = (SELECT current_actor())
        AND session_id IN (SELECT s.id FROM sessions s
                           WHERE s.coach_id = (SELECT current_actor())
                              OR (s.member_id = (SELECT current_actor()) AND visibility = 'shared'))));

ALTER TABLE session_ratings ENABLE ROW LEVEL SECURITY;
CREATE POLICY session_ratings_read ON session_ratings FOR SELECT USING (
    (SELECT current_actor_role()) = 'admin'
    OR member_id = (SELECT current_actor())
    OR coach_id = (SELECT current_actor()));
CREATE POLICY session_ratings_write ON session_ratings FOR INSERT WITH CHECK (
    (SELECT current_actor_role()) = 'admin' OR member_id = (SELECT current_actor()));

ALTER TABLE connections ENABLE ROW LEVEL SECURITY;
CREATE POLICY connections_read ON connections FOR SELECT USING (
    (SELECT current_actor_role()) = 'admin'
    OR coach_id = (SELECT current_actor())
    OR member_id = (SELECT current_actor()));
CREATE POLICY connections_insert ON connections FOR INSERT WITH CHECK (
    (SELECT current_actor_role()) = 'admin'
    OR (requested_by = (SELECT current_actor())
        AND (coach_id = (SELECT current_actor()) OR member_id = (SELECT current_actor()))));
CREATE POLICY connections_update ON connections FOR UPDATE
    USING ((SELECT current_actor_role()) = 'admin'
           OR coach_id = (SELECT current_actor())
           OR member_id = (SELECT current_actor()))
    WITH CHECK ((SELECT current_actor_role()) = 'admin'
           OR coach_id = (SELECT current_actor())
           OR member_id = (SELECT current_actor()));

ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
CREATE POLICY conversations_own ON conversations
    USING ((SELECT current_actor_role()) = 'admin'
           OR coach_id = (SELECT current_actor())
           OR member_id = (SELECT current_actor()))
    WITH CHECK ((SELECT current_actor_role()) = 'admin'
           OR coach_id = (SELECT current_actor())
           OR member_id = (SELECT current_actor()));

ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY messages_read ON messages FOR SELECT USING (
    (SELECT current_actor_role()) = 'admin'
    OR conversation_id IN (SELECT v.id FROM conversations v
                           WHERE v.coach_id = (SELECT current_actor())
                              OR v.member_id = (SELECT current_actor())));
CREATE POLICY messages_send ON messages FOR INSERT WITH CHECK (
    (SELECT current_actor_role()) = 'admin'
    OR (sender_id = (SELECT current_actor())
        AND conversation_id IN (SELECT v.id FROM conversations v
                                WHERE v.coach_id = (SELECT current_actor())
                                   OR v.member_id = (SELECT current_actor()))));
-- Marking read: the other participant's messages.
CREATE POLICY messages_mark_read ON messages FOR UPDATE
    USING ((SELECT current_actor_role()) = 'admin'
           OR (sender_id <> (SELECT current_actor())
               AND conversation_id IN (SELECT v.id FROM conversations v
                                       WHERE v.coach_id = (SELECT current_actor())
                                          OR v.member_id = (SELECT current_actor()))));

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
CREATE POLICY invitations_read ON invitations FOR SELECT USING (
    (SELECT current_actor_role()) = 'admin'
    OR coach_id = (SELECT current_actor())
    OR email_key(email) = (SELECT email_key(u.email) FROM users u WHERE u.id = (SELECT current_actor())));
CREATE POLICY invitations_write ON invitations FOR INSERT WITH CHECK (
    (SELECT current_actor_role()) = 'admin' OR coach_id = (SELECT current_actor()));
CREATE POLICY invitations_update ON invitations FOR UPDATE
    USING ((SELECT current_actor_role()) = 'admin' OR coach_id = (SELECT current_actor()))
    WITH CHECK ((SELECT current_actor_role()) = 'admin' OR coach_id = (SELECT current_actor()));

ALTER TABLE relationship_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY relationship_events_read ON relationship_events FOR SELECT USING (
    (SELECT current_actor_role()) = 'admin'
    OR member_id = (SELECT current_actor())
    OR coach_id = (SELECT current_actor()));
CREATE POLICY relationship_events_write ON relationship_events FOR INSERT WITH CHECK (
    (SELECT current_actor_role()) = 'admin'
    OR member_id = (SELECT current_actor())
    OR coach_id = (SELECT current_actor()));

-- The outbox: each person their own notices; the cron job's login all.
ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY outbox_read ON outbox FOR SELECT USING (
    (SELECT current_actor_role()) IN ('admin', 'notifier')
    OR recipient_id = (SELECT current_actor()));
CREATE POLICY outbox_send ON outbox FOR UPDATE
    USING ((SELECT current_actor_role()) IN ('admin', 'notifier'))
    WITH CHECK ((SELECT current_actor_role()) IN ('admin', 'notifier'));
CREATE POLICY outbox_queue ON outbox FOR INSERT
    WITH CHECK ((SELECT current_actor_role()) IN ('admin', 'notifier'));

-- The audit log: admins read all, a person what they did. Nobody but the
-- owner updates or deletes (no grant), and a login cannot write another
-- actor (audit_log_actor_from_login below).
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_log_read ON audit_log FOR SELECT USING (
    (SELECT current_actor_role()) = 'admin'
    OR actor_id = (SELECT current_actor()));
CREATE POLICY audit_log_append ON audit_log FOR INSERT
    WITH CHECK ((SELECT current_actor_role()) IN ('admin', 'coach', 'member', 'notifier'));

-- Commit tickets (migration 000202) say only in which order transactions
-- committed: anyone who reads the log reads them.
ALTER TABLE audit_commits ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_commits_read ON audit_commits FOR SELECT USING (true);

-- With a login, the audit row's actor is the login's, whatever the client
-- sent; acting for someone else (an admin's login) is recorded as both.
CREATE FUNCTION audit_log_actor_from_login() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    role text := current_actor_role();
    via uuid;
BEGIN
    IF role = 'owner' THEN
        RETURN NEW;
    END IF;
    NEW.actor_id := current_actor();
    via := current_actor_via();
    NEW.actor_label := coalesce(
        (SELECT a.email FROM users a WHERE a.id = via) || ' as ', '')
        || coalesce((SELECT u.email FROM users u WHERE u.id = NEW.actor_id), session_user::text);
    NEW.at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_actor_from_login
    BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_actor_from_login();

-- Every trigger function decides on rows the login may not read: run them
-- as their owner. Then fix the search_path of every definer function, and
-- let only the group roles run them.
DO $do$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT DISTINCT t.tgfoid::regprocedure FROM pg_trigger t
             JOIN pg_class c ON c.oid = t.tgrelid
             WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace
    LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER', f);
    END LOOP;
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = current_schema()::regnamespace AND p.prosecdef
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$do$;

SELECT identity_install();
