"""Judgement of a complaint text: taxonomy category, urgency, escalation intent, vulnerability, risk.

`judge_text(channel, text, ...)` is pure and cheap (one Aho-Corasick pass over the
text with an automaton built once from `config/taxonomy.yaml`).
"""

from hub.judge.config import Taxonomy, get_taxonomy, load_taxonomy
from hub.judge.core import JudgeResult, age_from_id, amount_in_text, judge_text
from hub.judge.matcher import get_matcher

__all__ = ["JudgeResult", "Taxonomy", "age_from_id", "amount_in_text", "get_matcher", "get_taxonomy",
           "judge_text", "load_taxonomy"]
