"""`{% case_opinion case %}`: the browse-mode opinion block for the case page."""

from django import template

register = template.Library()


@register.inclusion_tag("teaching/_case_opinion.html", takes_context=True)
def case_opinion(context, case):
    from teaching.selectors import answers_hidden_for, library_opinion

    request = context.get("request")
    user = getattr(request, "user", None)
    # A resident in the middle of reading this case must not find the model's call here.
    if not case.in_library or (user is not None and answers_hidden_for(user, case)):
        return {"view": None}
    return {"view": library_opinion(case), "case": case}


@register.filter
def ci(cell) -> str:
    """A proportion/statistic cell {"value", "low", "high"} as '0.75 (0.41-0.93)'."""
    if not isinstance(cell, dict) or cell.get("value") is None:
        return "—"
    text = f"{cell['value']:.2f}"
    if cell.get("low") is not None and cell.get("high") is not None:
        text += f" ({cell['low']:.2f}–{cell['high']:.2f})"
    if cell.get("n") is not None and "k" in cell:
        text += f" [{cell['k']}/{cell['n']}]"
    return text


@register.filter
def pvalue(p) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


@register.filter
def get(mapping, key):
    return mapping.get(key) if isinstance(mapping, dict) else None
