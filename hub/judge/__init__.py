"""Judgement of complaint texts: business line, reason, urgency, escalation intent, vulnerability, risk.

`judge_batch(items)` / `judge_text(channel, text, ...)` combine word-aware rules over normalised text
(`config/taxonomy.yaml`, the industry profile of `config/profiles/`) with the trained model of
`data/judge/model.json` (`hub judge train`); `hub judge eval` measures them on the labelled corpus.
"""

from hub.judge.config import Taxonomy, get_taxonomy, load_taxonomy
from hub.judge.core import JudgeInput, JudgeResult, age_from_id, amount_in_text, judge_batch, judge_text
from hub.judge.matcher import get_matcher

__all__ = ["JudgeInput", "JudgeResult", "Taxonomy", "age_from_id", "amount_in_text", "get_matcher", "get_taxonomy",
           "judge_batch", "judge_text", "load_taxonomy"]
