CREATE TABLE chat_messages (
    id            text        PRIMARY KEY,
    room          text        NOT NULL,
    seq           bigint      NOT NULL,
    sender_id     text        NOT NULL,
    sender_name   text,
    client_msg_id text,
    content       text        NOT NULL,
    sent_at       bigint      NOT NULL,
    stored_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (room, seq)
);
