"""Reply templates (话术) per sub-category and source, from `config/reply_templates.yaml`.

A template is offered on a ticket when it names the ticket's sub-category and source (or leaves
either open); `fill` puts the ticket's numbers and expected time in its placeholders. The source's
own limits (SMS length, 黑猫's public visibility) travel with the offer so the console can show them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.configfile import cached_config, load_model
from core.errors import ConfigError
from core.schema import ClockKind, Ticket, to_local
from core.settings import get_settings
from hub.teams import team_name

#: the placeholders a template may use
PLACEHOLDERS = ("ticket_no", "source_no", "expected", "team")


class ReplyTemplate(BaseModel):
    """One template: id, label, the sub-categories and sources it is for (empty: all), its text."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,59}$")
    label: str
    text: str = Field(min_length=1, max_length=2000)
    sub_categories: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)

    def fits(self, t: Ticket) -> bool:
        """Whether the template is offered on this ticket."""
        return ((not self.sub_categories or t.judgement.sub_category in self.sub_categories)
                and (not self.sources or t.source in self.sources))


class SourceLimit(BaseModel):
    """A source's constraint on the customer text: a length, public visibility, a note for the handler."""

    model_config = ConfigDict(extra="forbid")
    max_chars: int | None = Field(default=None, ge=1)
    public: bool = False
    note: str = ""


class ReplyConfig(BaseModel):
    """The whole of `config/reply_templates.yaml`."""

    model_config = ConfigDict(extra="forbid")
    limits: dict[str, SourceLimit] = Field(default_factory=dict)
    templates: list[ReplyTemplate] = Field(default_factory=list)


def load_replies(path: Path | None = None) -> ReplyConfig:
    """Parse and validate reply_templates.yaml (a missing file: no templates); placeholders are checked."""
    path = path or get_settings().config_dir / "reply_templates.yaml"
    cfg = load_model(path, ReplyConfig, missing_ok=True)
    sample = dict.fromkeys(PLACEHOLDERS, "")
    for tpl in cfg.templates:
        try:
            tpl.text.format(**sample)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"{path}: templates.{tpl.id}: unknown placeholder {exc} "
                              f"(one of {', '.join(PLACEHOLDERS)})") from None
    return cfg


@cached_config
def get_replies() -> ReplyConfig:
    """This process's reply templates (cached; `core.configfile.reload_config()` re-reads them)."""
    return load_replies()


def templates_for(t: Ticket) -> list[ReplyTemplate]:
    """The templates offered on a ticket, most specific first (sub-category and source before general)."""
    fitting = [x for x in get_replies().templates if x.fits(t)]
    return sorted(fitting, key=lambda x: (not x.sub_categories, not x.sources))


def fill(tpl: ReplyTemplate, t: Ticket) -> str:
    """The template's text with the ticket's numbers, expected time and team filled in."""
    clock = t.clock(ClockKind.RESOLUTION)
    expected = f"{to_local(clock.due_at):%Y年%m月%d日 %H:%M}" if clock is not None else "尽快"
    return tpl.text.format(ticket_no=t.ticket_id, source_no=t.external_id, expected=expected,
                           team=team_name(t.handling.team))


def limit_for(t: Ticket) -> SourceLimit | None:
    """The source's constraint on the customer text, if configured."""
    return get_replies().limits.get(t.source)
