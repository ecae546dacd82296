"""What the customer reads when a status change is pushed: the reply, a template, never the note.

Internal notes (处理说明, 协商记录 with phone numbers in them) stay in the hub
(DESIGN rule 6). A status change that the source shows to the customer — a
pushed status (`chase.yaml push.statuses`) on a source in `push.reply_required`
(12315's 协商过程, 黑猫's public reply, the SMS, the call-centre result) —
needs a reply; without one the source's `push.reply_templates` text is used, and
without a template the change is refused (`ReplyRequired`, field `reply`).
"""

from __future__ import annotations

from core.errors import ReplyRequired
from core.schema import Status, Ticket
from hub.chase.config import get_chase_config


def customer_reply(t: Ticket, status: Status, reply: str | None) -> str | None:
    """The text to push for this change (None: nothing for the customer); raises ReplyRequired."""
    if reply is not None and reply.strip():
        return reply
    cfg = get_chase_config().push
    if t.source not in cfg.reply_required or status.value not in cfg.statuses:
        return None
    template = cfg.reply_templates.get(t.source)
    if template:
        return template
    raise ReplyRequired(f"ticket {t.ticket_id}: {t.source} shows this {status.value} to the customer; give a "
                        "reply (the internal note is never sent)",
                        hint="write the customer text in `reply`, or set push.reply_templates in config/chase.yaml")
