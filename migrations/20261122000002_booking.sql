-- Availability, slots, sessions and bookings.
--
-- No overbooking is the database's job, not only the code's:
--   * slots.booked is kept by a trigger on sessions, under
--     CHECK (booked <= capacity); the upsert takes the slot row's lock, so
--     concurrent bookers of one slot queue and the one past capacity fails;
--   * an exclusion constraint keeps scheduled sessions of one coach with
--     different starts from coming within their buffers of each other.

CREATE EXTENSION IF NOT EXISTS btree_gist;

ALTER TABLE coach_profiles
    ADD COLUMN min_notice_minutes integer NOT NULL DEFAULT 0,
    ADD COLUMN horizon_days integer,
    ADD CONSTRAINT coach_profiles_min_notice_not_negative CHECK (min_notice_minutes >= 0),
    ADD CONSTRAINT coach_profiles_horizon_positive CHECK (horizon_days IS NULL OR horizon_days > 0);

-- Weekly windows in the coach's own zone; times are minutes after midnight.
CREATE TABLE availability_windows (
    id               uuid PRIMARY KEY,
    coach_id         uuid NOT NULL REFERENCES coach_profiles (user_id) ON DELETE CASCADE,
    day_of_week      smallint NOT NULL,
    start_minute     integer NOT NULL,
    end_minute       integer NOT NULL,
    session_minutes  integer NOT NULL DEFAULT 60,
    buffer_minutes   integer NOT NULL DEFAULT 15,
    capacity         integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT availability_windows_day_valid CHECK (day_of_week BETWEEN 0 AND 6),
    CONSTRAINT availability_windows_times_valid
        CHECK (start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute),
    CONSTRAINT availability_windows_length_fits
        CHECK (session_minutes > 0 AND start_minute + session_minutes <= end_minute),
    CONSTRAINT availability_windows_buffer_valid CHECK (buffer_minutes BETWEEN 0 AND 1440),
    CONSTRAINT availability_windows_capacity_positive CHECK (capacity > 0),
    CONSTRAINT availability_windows_no_overlap EXCLUDE USING gist (
        coach_id WITH =,
        day_of_week WITH =,
        int4range(start_minute, end_minute) WITH &&
    )
);

-- Time off: whole local dates (in the coach's zone), first to last inclusive.
CREATE TABLE availability_blocks (
    id          uuid PRIMARY KEY,
    coach_id    uuid NOT NULL REFERENCES coach_profiles (user_id) ON DELETE CASCADE,
    first_day   date NOT NULL,
    last_day    date NOT NULL,
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT availability_blocks_range_valid CHECK (first_day <= last_day)
);
CREATE INDEX availability_blocks_coach_idx ON availability_blocks (coach_id, first_day);

-- One row per (coach, start) that has ever been booked. `booked` counts the
-- scheduled sessions starting there; only the trigger below writes it.
CREATE TABLE slots (
    coach_id   uuid NOT NULL REFERENCES coach_profiles (user_id) ON DELETE CASCADE,
    starts_at  timestamptz NOT NULL,
    capacity   integer NOT NULL,
    booked     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (coach_id, starts_at),
    CONSTRAINT slots_capacity_positive CHECK (capacity > 0),
    CONSTRAINT slots_booked_within_capacity CHECK (booked >= 0 AND booked <= capacity)
);

CREATE TABLE sessions (
    id                   uuid PRIMARY KEY,
    coach_id             uuid NOT NULL REFERENCES coach_profiles (user_id),
    member_id            uuid NOT NULL REFERENCES member_profiles (user_id),
    window_id            uuid REFERENCES availability_windows (id) ON DELETE SET NULL,
    starts_at            timestamptz NOT NULL,
    ends_at              timestamptz NOT NULL,
    buffer_minutes       integer NOT NULL DEFAULT 0,
    -- the capacity of the slot when booked; the trigger copies it to slots
    slot_capacity        integer NOT NULL DEFAULT 1,
    session_type         text NOT NULL DEFAULT 'regular',
    status               text NOT NULL DEFAULT 'scheduled',
    member_notes         text,
    coach_notes          text,
    sequence             integer NOT NULL DEFAULT 0,
    completed_at         timestamptz,
    cancelled_at         timestamptz,
    cancelled_by         uuid REFERENCES users (id) ON DELETE SET NULL,
    cancellation_reason  text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sessions_time_valid CHECK (ends_at > starts_at),
    CONSTRAINT sessions_buffer_valid CHECK (buffer_minutes >= 0),
    CONSTRAINT sessions_type_valid CHECK (session_type IN ('initial', 'regular', 'followup')),
    CONSTRAINT sessions_status_valid CHECK (status IN ('scheduled', 'completed', 'cancelled')),
    CONSTRAINT sessions_completed_stamped CHECK ((status = 'completed') = (completed_at IS NOT NULL)),
    CONSTRAINT sessions_cancelled_stamped CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    -- Half of each session's buffer on either side: two sessions of equal
    -- buffer B may not start closer than length + B apart, whatever path
    -- wrote them. The code checks the stricter rule, the larger of both
    -- buffers. (timestamptz arithmetic is not immutable, so the range is a
    -- stored column that the CHECK keeps honest, not an index expression.)
    guard                tstzrange NOT NULL,
    CONSTRAINT sessions_guard_matches CHECK (guard = tstzrange(
        starts_at - make_interval(secs => buffer_minutes * 30),
        ends_at + make_interval(secs => buffer_minutes * 30))),
    CONSTRAINT sessions_buffer_no_overlap EXCLUDE USING gist (
        coach_id WITH =,
        guard WITH &&,
        starts_at WITH <>
    ) WHERE (status = 'scheduled')
);

CREATE INDEX sessions_coach_start_idx ON sessions (coach_id, starts_at);
-- A member holds at most one seat in a slot.
CREATE UNIQUE INDEX sessions_member_once_per_start ON sessions (member_id, starts_at)
    WHERE status = 'scheduled';
CREATE INDEX sessions_member_start_idx ON sessions (member_id, starts_at);

CREATE FUNCTION sessions_keep_slot_count() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'scheduled' THEN
        UPDATE slots SET booked = booked - 1
            WHERE coach_id = OLD.coach_id AND starts_at = OLD.starts_at;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'scheduled' THEN
        INSERT INTO slots AS s (coach_id, starts_at, capacity, booked)
            VALUES (NEW.coach_id, NEW.starts_at, NEW.slot_capacity, 1)
        ON CONFLICT (coach_id, starts_at)
            DO UPDATE SET booked = s.booked + 1, capacity = EXCLUDED.capacity;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_slot_count
    AFTER INSERT OR UPDATE OF status, starts_at, coach_id OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_keep_slot_count();

CREATE TABLE bookings (
    id                uuid PRIMARY KEY,
    coach_id          uuid NOT NULL REFERENCES coach_profiles (user_id),
    member_id         uuid NOT NULL REFERENCES member_profiles (user_id),
    starts_at         timestamptz NOT NULL,
    status            text NOT NULL,
    session_id        uuid UNIQUE REFERENCES sessions (id) ON DELETE SET NULL,
    member_notes      text,
    rejection_reason  text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bookings_status_valid CHECK (status IN ('confirmed', 'rejected', 'cancelled')),
    CONSTRAINT bookings_rejection_has_reason CHECK ((status = 'rejected') = (rejection_reason IS NOT NULL))
);
