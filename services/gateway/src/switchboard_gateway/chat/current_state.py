"""A history page's messages in their current state. Pure: events and stored states in.

A page read from the CHAT stream holds each event as it was published: a message with its
first content, and the edits and deletions of the range as events of their own. PostgreSQL
holds each message's current state (``ChatStore``), written milliseconds behind the stream.
``current_state`` takes the stored state where there is one and applies the page's own events
that state does not include yet, so that the newest page shows an edit as soon as it is acked.
An edit whose message is deleted loses its content here too (docs/protocol.md §2, "Edit and
delete").

Reactions: a message's reactions are PostgreSQL's where it has the message; else (the newest
page, read without asking PostgreSQL) they are folded from the page's own reaction events
(``fold_reactions``), which are all of them: every event after a message of the newest page is
in that page. A deleted message has none.
"""

from collections.abc import Iterable, Mapping

from switchboard_contracts import ChatMessage, EventKind
from switchboard_contracts.chat import REACTION_KINDS
from switchboard_contracts.reactions import fold_reactions

__all__ = ["current_state", "ids_to_look_up"]


def ids_to_look_up(page: Iterable[ChatMessage]) -> list[str]:
    """The messages of ``page`` whose stored state ``current_state`` needs: its messages, and
    the targets of its edits and deletions."""
    wanted = {m.id if m.kind is None else m.target_id for m in page}
    return sorted(i for i in wanted if i is not None)


def current_state(page: list[ChatMessage], stored: Mapping[str, ChatMessage]) -> list[ChatMessage]:
    """``page`` (any order, kept) with each message in its current state: ``stored``'s (by
    id) where PostgreSQL has it, with the page's later edits and its deletions applied."""
    edits: dict[str, list[ChatMessage]] = {}
    reactions: dict[str, list[tuple[int, str, str, bool]]] = {}
    deleted = {m.id for m in stored.values() if m.deleted}
    for event in page:
        if event.target_id is None:
            continue
        if event.kind is EventKind.DELETE:
            deleted.add(event.target_id)
        elif event.kind is EventKind.EDIT:
            edits.setdefault(event.target_id, []).append(event)
        elif event.kind in REACTION_KINDS:
            reactions.setdefault(event.target_id, []).append(
                (event.seq, event.content, event.sender_id, event.kind is EventKind.REACT)
            )
    shown: list[ChatMessage] = []
    for item in page:
        if item.kind is None:
            base = stored.get(item.id)
            if base is None:
                held = fold_reactions(reactions.get(item.id, []))
                base = item.model_copy(update={"reactions": held or None})
            shown.append(_message(base, edits.get(item.id, []), deleted))
        elif item.kind is EventKind.EDIT and item.target_id in deleted:
            shown.append(item.model_copy(update={"content": ""}))
        else:
            shown.append(item)
    return shown


def _message(base: ChatMessage, edits: list[ChatMessage], deleted: set[str]) -> ChatMessage:
    if base.id in deleted:
        return base.model_copy(update={"content": "", "deleted": True, "reactions": None})
    latest = max(edits, key=lambda e: e.seq, default=None)
    if latest is None or latest.seq <= (base.edited_seq or 0):
        return base
    return base.model_copy(
        update={
            "content": latest.content,
            "edit_count": max(base.edit_count or 0, len(edits)),
            "edited_at": latest.timestamp,
            "edited_seq": latest.seq,
        }
    )
