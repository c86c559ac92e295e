"""Flows: canonical JSON documents (validated by the core) and a Python builder that
produces the same JSON.

    flow = cr.Flow("winback", abandon_after="2h", paths=[
        cr.Path("everyone", steps=[
            cr.Step(after="1h", channels=["email"]),
            cr.Step(channels=["email"], branches={
                "unopened": cr.Branch("10h"), "opened": cr.Branch("6h")}),
        ])],
        policies={"frequency_cap": "24h"})
"""
from __future__ import annotations

import json
import os
from typing import Any, Iterable, Mapping

from . import _core


class Branch:
    def __init__(self, after: str, template: str | None = None):
        self.after, self.template = after, template

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"after": self.after}
        if self.template:
            d["template"] = self.template
        return d


class Variant:
    """One arm of a step's A/B test: its share (``weight``) and what it changes."""

    def __init__(self, name: str, weight: int = 1, template: str | None = None,
                 coupon: str | None = None):
        self.name, self.weight, self.template, self.coupon = name, weight, template, coupon

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "weight": self.weight}
        if self.template:
            d["template"] = self.template
        if self.coupon:
            d["coupon"] = self.coupon
        return d


class Step:
    """A reminder. ``variants`` (with an optional ``holdout`` weight, who get nothing from
    this step on) make it an experiment named ``experiment`` (default
    "<flow>/<path>/<step number>"); each contact's arm is drawn once and kept."""

    def __init__(self, after: str | None = None, channels: Iterable[str] = ("email",),
                 template: str | None = None, branches: Mapping[str, Branch | dict] | None = None,
                 coupon: str | None = None, variants: Iterable[Variant | dict] | None = None,
                 holdout: int | None = None, experiment: str | None = None):
        self.after, self.channels, self.template = after, list(channels), template
        self.branches, self.coupon = dict(branches) if branches else None, coupon
        self.variants = list(variants) if variants is not None else None
        self.holdout, self.experiment = holdout, experiment

    def to_dict(self) -> dict:
        d: dict[str, Any] = {}
        if self.after is not None:
            d["after"] = self.after
        if self.branches is not None:
            d["branches"] = {k: (v.to_dict() if isinstance(v, Branch) else v)
                             for k, v in self.branches.items()}
        d["channels"] = self.channels
        if self.template:
            d["template"] = self.template
        if self.coupon:
            d["coupon"] = self.coupon
        if self.variants is not None:
            d["variants"] = [v.to_dict() if isinstance(v, Variant) else v for v in self.variants]
        if self.holdout is not None:
            d["holdout"] = self.holdout
        if self.experiment is not None:
            d["experiment"] = self.experiment
        return d


class Path:
    def __init__(self, name: str, steps: Iterable[Step | dict], when: Mapping[str, int] | None = None):
        self.name, self.steps, self.when = name, list(steps), dict(when) if when else None

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name}
        if self.when:
            d["when"] = self.when
        d["steps"] = [s.to_dict() if isinstance(s, Step) else s for s in self.steps]
        return d


class Flow:
    """A validated flow. Build it with the constructor, or load it with from_json()."""

    def __init__(self, name: str, paths: Iterable[Path | dict], abandon_after: str = "1h",
                 enter_when: Mapping[str, Any] | None = None,
                 policies: Mapping[str, str] | None = None):
        doc: dict[str, Any] = {"name": name, "abandon_after": abandon_after}
        if enter_when is not None:
            doc["enter_when"] = dict(enter_when)
        doc["paths"] = [p.to_dict() if isinstance(p, Path) else p for p in paths]
        if policies is not None:
            doc["policies"] = dict(policies)
        self._json = _core.canonical_flow_json(json.dumps(doc))

    @classmethod
    def from_json(cls, source: str | bytes | Mapping[str, Any]) -> "Flow":
        """From JSON text or a dict. Raises ConfigError naming the path of the problem."""
        if isinstance(source, Mapping):
            try:
                text = json.dumps(source)
            except (TypeError, ValueError) as e:
                raise _flow_error(f"not a JSON document ({e})") from None
        elif isinstance(source, (bytes, bytearray)):
            try:
                text = bytes(source).decode("utf-8")
            except UnicodeDecodeError as e:
                raise _flow_error(f"not valid JSON: the text is not UTF-8 (byte {e.start})") from None
        elif isinstance(source, str):
            text = source
        else:
            raise _flow_error(f"expected JSON text, bytes or a dict, got {type(source).__name__}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise _flow_error("not valid JSON: the text holds a lone surrogate") from None
        flow = cls.__new__(cls)
        flow._json = _core.canonical_flow_json(text)
        return flow

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "Flow":
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise _flow_error(f"cannot read flow file {os.fspath(path)!r}: {e.strerror}") from None
        return cls.from_json(data)

    def to_json(self) -> str:
        """The canonical JSON text (stable key order, durations in canonical form)."""
        return self._json

    def to_dict(self) -> dict:
        return json.loads(self._json)

    @property
    def name(self) -> str:
        return self.to_dict()["name"]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Flow) and other._json == self._json

    def __hash__(self) -> int:
        return hash(self._json)

    def __repr__(self) -> str:
        return f"<Flow {self.name!r}>"


def default_flow() -> Flow:
    """The playbook flow: customers 1 h / +24 h / +48 h; visitors 1 h, then the opened /
    not opened / clicked table (PLAYBOOKS R2.2, R2.3)."""
    return Flow.from_json(_core.default_flow_json())


def coerce_flow(item: Any) -> Flow:
    """A Flow from a Flow, a dict, JSON text or a path to a JSON file."""
    if isinstance(item, Flow):
        return item
    if isinstance(item, Mapping):
        return Flow.from_json(item)
    if isinstance(item, os.PathLike):
        return Flow.from_file(item)
    if isinstance(item, str):
        if item.lstrip().startswith("{"):
            return Flow.from_json(item)
        return Flow.from_file(item)
    err = _core.ConfigError(f"flows: expected Flow, dict, JSON text or a path, got {type(item).__name__}")
    err.field = "flows"
    raise err


def _flow_error(message: str) -> _core.ConfigError:
    err = _core.ConfigError(message)
    err.field = None
    return err
