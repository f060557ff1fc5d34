-- Late cancellations and no-shows (issue 20, item 3). A coach's
-- `cancel_notice_hours`: a member's cancellation closer to the start than
-- that is allowed but recorded as late, by the database, whatever path
-- cancels. A no-show is recorded by the coach or an admin after the start;
-- it changes no status, so it frees nothing.

ALTER TABLE coach_profiles
    ADD COLUMN cancel_notice_hours integer,
    ADD CONSTRAINT coach_profiles_cancel_notice_valid
        CHECK (cancel_notice_hours BETWEEN 1 AND 8760);

ALTER TABLE sessions
    ADD COLUMN late_cancel boolean NOT NULL DEFAULT false,
    ADD COLUMN no_show_at timestamptz,
    ADD COLUMN no_show_by uuid REFERENCES users (id) ON DELETE SET NULL,
    ADD CONSTRAINT sessions_late_cancel_cancelled CHECK (NOT late_cancel OR status = 'cancelled'),
    ADD CONSTRAINT sessions_no_show_after_start CHECK (no_show_at IS NULL OR no_show_at >= starts_at);

-- A member's cancellation (cancelled by the member, not the coach or an
-- admin) inside the coach's notice is late.
CREATE FUNCTION sessions_mark_late_cancel() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.late_cancel := NEW.cancelled_by IS NOT DISTINCT FROM NEW.member_id
        AND coalesce(NEW.starts_at - make_interval(hours => (
                SELECT p.cancel_notice_hours FROM coach_profiles p WHERE p.user_id = NEW.coach_id))
            < now(), false);
    RETURN NEW;
END
$$;

CREATE TRIGGER sessions_mark_late_cancel
    BEFORE UPDATE OF status ON sessions
    FOR EACH ROW WHEN (NEW.status = 'cancelled' AND OLD.status <> 'cancelled')
    EXECUTE FUNCTION sessions_mark_late_cancel();

-- A no-show only of a scheduled session that has started.
CREATE FUNCTION sessions_check_no_show() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.no_show_at IS NOT NULL AND (NEW.status <> 'scheduled' OR NEW.starts_at > now()) THEN
        RAISE EXCEPTION 'session % is not a started scheduled session', NEW.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'sessions_no_show_started';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER sessions_check_no_show
    BEFORE UPDATE OF no_show_at ON sessions
    FOR EACH ROW WHEN (NEW.no_show_at IS DISTINCT FROM OLD.no_show_at)
    EXECUTE FUNCTION sessions_check_no_show();

DO $do$
DECLARE
    f regprocedure;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'sessions_mark_late_cancel()'::regprocedure,
        'sessions_check_no_show()'::regprocedure]
    LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp',
                       f, current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$do$;

CREATE FUNCTION identity_grants_late_cancels(p text) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT UPDATE (cancel_notice_hours) ON coach_profiles TO %I', p || '_coach');
    EXECUTE format('GRANT UPDATE (no_show_at, no_show_by) ON sessions TO %I', p || '_coach');
END
$$;
SELECT identity_install();
