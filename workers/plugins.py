"""Plugins: installed packages that add skills (`llmos.skills`) or surfaces (`llmos.surfaces`).

A package declares them as entry points in its `pyproject.toml`:

    [project.entry-points."llmos.skills"]
    haiku = "my_package:haiku"          # a `Skill`, or a mapping (see `skill_from`)

    [project.entry-points."llmos.surfaces"]
    echo = "my_package:surface"         # a callable returning a surface object, or None

A plugin that fails to load or is malformed is reported (`Found.problem`) and skipped; it never
stops LLMOS from starting.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from workers.events import Kind
from workers.requests import reserved
from workers.skills import Skill, SkillBook

log = logging.getLogger(__name__)

SKILLS_GROUP = "llmos.skills"
SURFACES_GROUP = "llmos.surfaces"
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_OPTIONAL = ("system", "params", "max_tokens", "temperature", "usage")


@dataclass(frozen=True, slots=True)
class Found:
    """One entry point, where it comes from, and what is wrong with it (empty: nothing)."""

    group: str
    name: str
    package: str
    problem: str = ""
    loaded: object = None

    def failed(self, problem: str) -> Found:
        return Found(self.group, self.name, self.package, problem=problem)


class PluginError(ValueError):
    pass


def entries(group: str) -> list[Found]:
    """Every entry point of `group`, loaded; a failure is recorded in `problem`, not raised."""
    found = []
    for point in sorted(metadata.entry_points(group=group), key=lambda p: p.name):
        dist = point.dist
        package = f"{dist.name} {dist.version}" if dist is not None else "?"
        try:
            found.append(Found(group, point.name, package, loaded=point.load()))
        except Exception as exc:  # any import error of a third-party package
            log.warning("plugin %s %r from %s does not load: %s", group, point.name, package, exc)
            found.append(Found(group, point.name, package).failed(f"does not load: {type(exc).__name__}: {exc}"))
    return found


def skill_from(name: str, value: object) -> Skill:
    """A `Skill` as a plugin gave it, or built from a mapping with name, description and a prompt
    that uses `{input}` (optional: system, params, max_tokens, temperature, usage)."""
    if isinstance(value, Skill):
        skill = value
    elif isinstance(value, Mapping):
        skill = _from_mapping(value)
    else:
        raise PluginError(f"is a {type(value).__name__}, not a Skill or a mapping")
    if not NAME.match(skill.name) or skill.kind is not Kind.SKILL:
        raise PluginError(f"needs kind SKILL and a name of lowercase letters, digits, - and _ (got {skill.name!r})")
    if skill.name in reserved():
        raise PluginError(f"{skill.name!r} is a built-in skill or command")
    if skill.name != name:
        raise PluginError(f"is registered as {name!r} but names itself {skill.name!r}")
    return skill


def _from_mapping(value: Mapping[str, Any]) -> Skill:
    missing = [key for key in ("name", "description", "prompt") if not isinstance(value.get(key), str)]
    if missing:
        raise PluginError(f"lacks {', '.join(missing)} (text)")
    unknown = set(value) - {"name", "description", "prompt", *_OPTIONAL}
    if unknown:
        raise PluginError(f"has unknown keys {sorted(unknown)}")
    if "{input}" not in value["prompt"]:
        raise PluginError("its prompt must contain {input}, where the user's text goes")
    params = value.get("params") or {}
    if not isinstance(params, Mapping) or not all(isinstance(v, str) for v in params.values()):
        raise PluginError("params must map names to default texts")
    temperature, max_tokens = value.get("temperature", 0.3), value.get("max_tokens")
    if temperature is not None and not isinstance(temperature, int | float):
        raise PluginError("temperature must be a number")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise PluginError("max_tokens must be a positive whole number")
    name = value["name"]
    return Skill(
        kind=Kind.SKILL,
        name=name,
        usage=str(value.get("usage") or f"/{name} <text>"),
        summary=value["description"],
        template=value["prompt"],
        defaults=dict(params),
        temperature=None if temperature is None else float(temperature),
        max_tokens=max_tokens,
        system=str(value.get("system") or ""),
    )


def skill_book() -> SkillBook:
    """The built-in skills and every installed plugin skill that works: what an entry point builds."""
    return SkillBook(skills()[0])


def skills() -> tuple[list[Skill], list[Found]]:
    """The installed plugin skills that work, and what was found (with the problems of the rest)."""
    good: list[Skill] = []
    report: list[Found] = []
    for found in entries(SKILLS_GROUP):
        if found.problem:
            report.append(found)
            continue
        try:
            good.append(skill_from(found.name, found.loaded))
            report.append(found)
        except PluginError as exc:
            log.warning("plugin skill %r from %s skipped: %s", found.name, found.package, exc)
            report.append(found.failed(str(exc)))
    return good, report
