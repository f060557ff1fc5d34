-- Relationships: invitations (seed 004) and connections (seeds 000, 001).
-- Every constraint is named: src/invite.rs and src/connect.rs map the names
-- to domain errors.

-- A connection between a coach and a member. At most one open (pending or
-- accepted) connection per pair, whoever asked; a declined or removed one
-- stays as history.
CREATE TABLE connections (
    id            uuid PRIMARY KEY,
    coach_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    member_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    requested_by  uuid NOT NULL,
    area          text,
    message       text,
    status        text NOT NULL DEFAULT 'pending',
    created_at    timestamptz NOT NULL DEFAULT now(),
    answered_at   timestamptz,
    answered_by   uuid,
    removed_at    timestamptz,
    removed_by    uuid,
    CONSTRAINT connections_status_valid
        CHECK (status IN ('pending', 'accepted', 'declined', 'removed')),
    CONSTRAINT connections_distinct_people CHECK (coach_id <> member_id)
);
CREATE UNIQUE INDEX connections_one_open_per_pair
    ON connections (coach_id, member_id) WHERE status IN ('pending', 'accepted');
CREATE INDEX connections_member_idx ON connections (member_id);

-- An invitation from a coach. The code itself is never stored: only its
-- SHA-256, so a copy of the database redeems nothing.
CREATE TABLE invitations (
    id           uuid PRIMARY KEY,
    coach_id     uuid NOT NULL REFERENCES coach_profiles (user_id) ON DELETE CASCADE,
    email        text NOT NULL,
    code_hash    bytea NOT NULL,
    message      text,
    assign       boolean NOT NULL DEFAULT false,
    status       text NOT NULL DEFAULT 'pending',
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    answered_at  timestamptz,
    CONSTRAINT invitations_code_hash_key UNIQUE (code_hash),
    CONSTRAINT invitations_code_hash_is_sha256 CHECK (octet_length(code_hash) = 32),
    CONSTRAINT invitations_status_valid
        CHECK (status IN ('pending', 'accepted', 'declined', 'revoked')),
    CONSTRAINT invitations_expiry_after_creation CHECK (expires_at > created_at),
    CONSTRAINT invitations_email_has_at CHECK (position('@' in email) > 1)
);
CREATE INDEX invitations_coach_created_idx ON invitations (coach_id, created_at);
CREATE INDEX invitations_email_idx ON invitations (email_key(email));

-- At most 10 invitations per coach per rolling 24 hours, whatever path
-- writes. The coach's profile row lock makes one coach's senders queue, so
-- the count below sees every committed invitation of that coach (each
-- statement of a volatile function takes a fresh snapshot once the lock is
-- granted). Senders for distinct coaches stay parallel.
CREATE FUNCTION invitations_rate_limit() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    sent integer;
BEGIN
    PERFORM 1 FROM coach_profiles WHERE user_id = NEW.coach_id FOR UPDATE;
    SELECT count(*) INTO sent FROM invitations
        WHERE coach_id = NEW.coach_id AND created_at > clock_timestamp() - interval '24 hours';
    IF sent >= 10 THEN
        RAISE EXCEPTION 'coach % has sent 10 invitations in 24 hours', NEW.coach_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'invitations_rate_limit';
    END IF;
    NEW.created_at := clock_timestamp();
    RETURN NEW;
END
$$;

CREATE TRIGGER invitations_rate_limit
    BEFORE INSERT ON invitations
    FOR EACH ROW EXECUTE FUNCTION invitations_rate_limit();

-- Messages (seed 003 r10): one conversation per coach-member pair, opened
-- by an assignment or an accepted connection; only its two participants
-- write to it.
CREATE TABLE conversations (
    id          uuid PRIMARY KEY,
    coach_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    member_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT conversations_pair_key UNIQUE (coach_id, member_id)
);
CREATE INDEX conversations_member_idx ON conversations (member_id);

CREATE TABLE messages (
    id               uuid PRIMARY KEY,
    conversation_id  uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body             text NOT NULL,
    sent_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    read_at          timestamptz,
    CONSTRAINT messages_body_not_blank CHECK (length(btrim(body)) > 0)
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, sent_at);

-- Sharing (seed 004): what a member's coach sees of their profile. Goals
-- are shared and health information is not, unless the member says so.
ALTER TABLE member_profiles
    ADD COLUMN share_goals boolean NOT NULL DEFAULT true,
    ADD COLUMN share_health_info boolean NOT NULL DEFAULT false;

-- Relationship history (seed 004: coach history): every assignment,
-- unassignment and connection change of a member, with when and who.
CREATE TABLE relationship_events (
    id          bigserial PRIMARY KEY,
    member_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    coach_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event       text NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    by_label    text NOT NULL,
    CONSTRAINT relationship_events_event_valid CHECK (event IN (
        'assigned', 'unassigned', 'connection_requested', 'connected',
        'connection_declined', 'connection_removed'))
);
CREATE INDEX relationship_events_member_idx ON relationship_events (member_id, at);
