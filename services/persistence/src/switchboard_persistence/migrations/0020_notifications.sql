-- Each user's inbox: notifications by their per-user cursor (1, 2, 3, ... gap-free).
-- The key is (user_id, cursor), not id: a broadcast re-expanded after the stream's duplicate
-- window may repeat an id under a new cursor, and the inbox must never have a hole.
CREATE TABLE notifications (
    user_id      text        NOT NULL,
    cursor       bigint      NOT NULL,
    id           text        NOT NULL,
    type         text        NOT NULL,
    title        text        NOT NULL,
    message      text        NOT NULL,
    created_at   bigint      NOT NULL,
    broadcast_id text,
    team         text,
    stored_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, cursor)
);
CREATE INDEX notifications_user_id ON notifications (user_id, id);

-- Read state: everything up to read_upto is read (read-all), plus cursors read one by one above
-- it. version grows with every change, so that unread-count events can be ordered.
CREATE TABLE notification_read_state (
    user_id   text   PRIMARY KEY,
    read_upto bigint NOT NULL DEFAULT 0,
    version   bigint NOT NULL DEFAULT 0
);
CREATE TABLE notification_reads (
    user_id text   NOT NULL,
    cursor  bigint NOT NULL,
    PRIMARY KEY (user_id, cursor)
);

-- Users known to the system (they connected or received a notification), with the teams of
-- their latest connection: the recipients of broadcasts.
CREATE TABLE notification_users (
    user_id    text        PRIMARY KEY,
    teams      text[]      NOT NULL DEFAULT '{}',
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_users_teams ON notification_users USING gin (teams);
