-- Read marks (docs/protocol.md §2, "Read receipts"): each member's last read seq per room. A
-- mark only grows (the upsert keeps the greatest), so a repeated or late mark changes nothing.
-- Not events of the room: no seq of their own, outside chat_messages.
CREATE TABLE room_reads (
    room       text        NOT NULL,
    user_id    text        NOT NULL,
    read_seq   bigint      NOT NULL CHECK (read_seq >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room, user_id)
);

-- A user's marks in many rooms at once (the rooms list).
CREATE INDEX room_reads_user ON room_reads (user_id);
