-- People: users, coach and member profiles, and the audit log.
-- Every constraint is named: src/error.rs maps the names to domain errors.

CREATE TABLE users (
    id          uuid PRIMARY KEY,
    email       text NOT NULL,
    name        text NOT NULL,
    role        text NOT NULL,
    timezone    text NOT NULL DEFAULT 'UTC',
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_role_valid CHECK (role IN ('admin', 'coach', 'member')),
    CONSTRAINT users_name_not_blank CHECK (length(btrim(name)) > 0),
    CONSTRAINT users_email_has_at CHECK (position('@' in email) > 1)
);
-- Email is unique whatever its case: Bo@Example.com and bo@example.com are one person.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE coach_profiles (
    user_id            uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    specialization     text,
    bio                text,
    certifications     text,
    max_members        integer NOT NULL DEFAULT 20,
    accepting_members  boolean NOT NULL DEFAULT true,
    -- Maintained by the trigger below, never by application code: the row lock
    -- taken by that update serialises concurrent assignments to one coach, and
    -- the CHECK makes an assignment beyond max_members impossible, whatever
    -- path (coachctl, a script, psql) tries it.
    member_count       integer NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT coach_profiles_max_members_positive CHECK (max_members > 0),
    CONSTRAINT coach_profiles_member_count_within_max CHECK (member_count <= max_members),
    CONSTRAINT coach_profiles_member_count_not_negative CHECK (member_count >= 0)
);
CREATE INDEX coach_profiles_accepting_idx ON coach_profiles (accepting_members);

CREATE TABLE member_profiles (
    user_id            uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    coach_id           uuid REFERENCES coach_profiles (user_id) ON DELETE SET NULL,
    membership_status  text NOT NULL DEFAULT 'active',
    onboarding_status  text NOT NULL DEFAULT 'pending',
    privacy            text NOT NULL DEFAULT 'connections',
    goals              text,
    health_info        text,
    coach_notes        text,
    joined_at          timestamptz NOT NULL DEFAULT now(),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT member_profiles_membership_status_valid
        CHECK (membership_status IN ('active', 'inactive', 'paused')),
    CONSTRAINT member_profiles_onboarding_status_valid
        CHECK (onboarding_status IN ('pending', 'in_progress', 'completed')),
    CONSTRAINT member_profiles_privacy_valid
        CHECK (privacy IN ('public', 'connections', 'private'))
);
CREATE INDEX member_profiles_coach_idx ON member_profiles (coach_id);

-- A member holds a seat with their coach while their membership is active
-- (seed 002, property 10: the count is of active assigned members).
CREATE FUNCTION member_holds_seat(coach uuid, status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$ SELECT coach IS NOT NULL AND status = 'active' $$;

CREATE FUNCTION member_profiles_keep_coach_count() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    old_seat uuid := NULL;
    new_seat uuid := NULL;
    accepting boolean;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND member_holds_seat(OLD.coach_id, OLD.membership_status) THEN
        old_seat := OLD.coach_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND member_holds_seat(NEW.coach_id, NEW.membership_status) THEN
        new_seat := NEW.coach_id;
    END IF;
    IF old_seat IS NOT DISTINCT FROM new_seat THEN
        RETURN NULL;
    END IF;
    IF old_seat IS NOT NULL THEN
        UPDATE coach_profiles SET member_count = member_count - 1 WHERE user_id = old_seat;
    END IF;
    IF new_seat IS NOT NULL THEN
        -- A coach who is not accepting members refuses new assignments
        -- (a member already assigned who becomes active again is not new).
        IF TG_OP = 'INSERT' OR OLD.coach_id IS DISTINCT FROM NEW.coach_id THEN
            SELECT accepting_members INTO accepting FROM coach_profiles WHERE user_id = new_seat;
            IF NOT accepting THEN
                RAISE EXCEPTION 'coach % is not accepting members', new_seat
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'coach_profiles_accepting_members';
            END IF;
        END IF;
        UPDATE coach_profiles SET member_count = member_count + 1 WHERE user_id = new_seat;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER member_profiles_coach_count
    AFTER INSERT OR UPDATE OF coach_id, membership_status OR DELETE ON member_profiles
    FOR EACH ROW EXECUTE FUNCTION member_profiles_keep_coach_count();

CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    -- no foreign key: the log is append-only and outlives the rows it names
    actor_id     uuid,
    -- who acted, kept even if the user row goes: an email, or 'operator'
    actor_label  text NOT NULL,
    action       text NOT NULL,
    entity       text NOT NULL,
    entity_id    uuid,
    before       jsonb,
    after        jsonb
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id);
