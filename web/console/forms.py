"""Console form values → the typed values the (strict) action bodies take.

HTML forms send text; the action bodies accept only real booleans and integers
(the API refuses `"yes"` for true and `true` for 1). The forms' own values are
converted here, exactly: `true`/`false` and decimal digits; anything else stays
text and fails validation (422), as it would on the API.
"""

from __future__ import annotations

BOOL_FIELDS = frozenset({"approve", "settled"})
INT_FIELDS = frozenset({"days"})


def typed_form(fields: dict[str, str]) -> dict[str, object]:
    """The form's fields with the boolean and integer ones converted (exact spellings only)."""
    out: dict[str, object] = dict(fields)
    for k in BOOL_FIELDS & fields.keys():
        if fields[k] in ("true", "false"):
            out[k] = fields[k] == "true"
    for k in INT_FIELDS & fields.keys():
        v = fields[k].strip()
        if v.isascii() and v.isdigit() and len(v) <= 6:
            out[k] = int(v)
    return out
