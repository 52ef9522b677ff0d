-- Created rooms. Rooms that were never created exist implicitly and are public.
CREATE TABLE rooms (
    id          text    PRIMARY KEY,
    name        text    NOT NULL,
    private     boolean NOT NULL DEFAULT false,
    created_by  text,
    created_at  bigint  NOT NULL
);

CREATE TABLE room_members (
    room    text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id text NOT NULL,
    PRIMARY KEY (room, user_id)
);

CREATE INDEX room_members_by_user ON room_members (user_id);
