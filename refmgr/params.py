"""What a line can set for synthesis, and what a valid value is: the one definition.

refmgr.toml's [render] (its defaults), `render --seed`, `say`'s options, a script line's
{key=value} overrides and every engine read the parameters from here. Engines may be
stricter (``backends.base.ParamRules``); nothing may be looser.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

MAX_SEED = 2**32 - 1  # what every engine's generator accepts (numpy's is the narrowest)


@dataclass(frozen=True)
class SynthesisParams:
    seed: int
    temperature: float
    top_p: float
    repetition_penalty: float
    max_new_tokens: int


# The project's defaults: refmgr.toml [render] starts from these (config.RenderSettings).
DEFAULTS = SynthesisParams(
    seed=0, temperature=0.7, top_p=0.7, repetition_penalty=1.2, max_new_tokens=1024
)

# Each parameter's type, from the dataclass: int or float.
PARAM_TYPES: dict[str, type] = {
    f.name: int if f.type in (int, "int") else float for f in fields(SynthesisParams)
}


def param_problem(name: str, value: float) -> str | None:
    """Why ``value`` is not a valid synthesis parameter ``name``, or None."""
    if not math.isfinite(value):
        return f"{name} must be a finite number, not {value}"
    if name == "seed" and not 0 <= value <= MAX_SEED:
        return f"seed must be between 0 and {MAX_SEED}, not {value}"
    if name == "temperature" and not value > 0:
        return f"temperature must be above 0, not {value}"
    if name == "top_p" and not 0 < value <= 1:
        return f"top_p must be above 0 and at most 1, not {value}"
    if name == "repetition_penalty" and not value > 0:
        return f"repetition_penalty must be above 0, not {value}"
    if name == "max_new_tokens" and not value >= 1:
        return f"max_new_tokens must be at least 1, not {value}"
    return None


def with_overrides(base: object, overrides: Mapping[str, float]) -> SynthesisParams:
    """The parameters of ``base`` (anything with the parameters as attributes, such as
    refmgr.toml's [render]) with ``overrides`` (other keys are ignored)."""
    values: dict[str, float] = {name: getattr(base, name) for name in PARAM_TYPES}
    values.update((k, v) for k, v in overrides.items() if k in PARAM_TYPES)
    # int() / float(): 1 and 1.0 must give the same key.
    return SynthesisParams(**{k: PARAM_TYPES[k](v) for k, v in values.items()})
