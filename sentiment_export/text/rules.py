"""Which preprocessing rule sets are trusted: the ones this project ships, known by fingerprint.

A spec's rules are regular expressions, and Python's ``re`` has no time
bound: a spec whose step is ``((a+)+)$`` makes one short text take seconds,
then minutes. A spec read from an artifact made by someone else is therefore
code in disguise. The rule-bearing fields (:data:`RULE_FIELDS`: every field
that is a regex or decides which regexes run) are hashed into a fingerprint;
the rule sets the project ships are trusted by that fingerprint, and anything
else is refused unless the caller opts in (``trust_custom_rules=True``).
Fields that are not rules (``max_length``, padding, truncation, the version)
do not enter the fingerprint, so every preset shares one rule set.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .spec import PreprocessingSpec

RULE_FIELDS = ("lowercase", "digit_pattern", "digit_replacement", "url_pattern", "url_token", "tokenizer_steps")
"""The spec fields that are, or choose, the regular expressions an encoder runs."""

RECORDED_RULE_FINGERPRINTS = frozenset({
    "7cb9d79f69de7d67a6cc29f64b4d21c3d01197c3d63c1b5f871861dfd03d4fa9",  # NLTK 3.10.4 steps, URL rule with 18 TLDs
})
"""Fingerprints of rule sets earlier releases shipped, so that their artifacts stay trusted after the
default rules change (record the old fingerprint here when they do)."""

_MAX_DIFFERENCES = 3


def rules_of(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The rule-bearing fields of a spec's JSON object (a missing field is ``None``)."""
    return {name: spec.get(name) for name in RULE_FIELDS}


def rules_fingerprint(spec: Mapping[str, Any]) -> str:
    """Hex sha256 of the canonical JSON (sorted keys, no spaces, UTF-8) of a spec's :data:`RULE_FIELDS`."""
    canonical = json.dumps(rules_of(spec), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def trusted_fingerprints() -> frozenset[str]:
    """The rule sets this sentiment_export trusts: its default rules and every recorded earlier one."""
    return RECORDED_RULE_FINGERPRINTS | {rules_fingerprint(PreprocessingSpec().to_dict())}


def rule_differences(spec: Mapping[str, Any]) -> list[str]:
    """Where ``spec``'s rules differ from the shipped default, as short phrases (at most a few steps named)."""
    shipped, found = rules_of(PreprocessingSpec().to_dict()), rules_of(spec)
    differences = []
    for name in RULE_FIELDS:
        if found[name] == shipped[name]:
            continue
        if name == "tokenizer_steps" and isinstance(found[name], list):
            differences.append(f"tokenizer_steps: {_step_differences(shipped[name], found[name])}")
        else:
            differences.append(f"{name} = {json.dumps(found[name], ensure_ascii=False):.80}")
    return differences


def _step_differences(shipped: list[Any], found: list[Any]) -> str:
    """The steps inserted, changed or removed relative to the shipped ones (an insertion is one change, not a shift)."""
    as_text = [json.dumps(step, ensure_ascii=False) for step in found]
    matcher = difflib.SequenceMatcher(a=[json.dumps(step, ensure_ascii=False) for step in shipped], b=as_text, autojunk=False)
    phrases = []
    for tag, first, last, new_first, new_last in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            phrases += [f"step {index} {as_text[index]:.80} is not a shipped step" for index in range(new_first, new_last)]
        elif tag == "delete":
            phrases.append(f"shipped steps {first}..{last - 1} are missing")
    more = f" and {len(phrases) - _MAX_DIFFERENCES} more" if len(phrases) > _MAX_DIFFERENCES else ""
    return "; ".join(phrases[:_MAX_DIFFERENCES]) + more


def untrusted_rules_problem(spec: Mapping[str, Any]) -> str | None:
    """None when ``spec``'s rules are a trusted rule set, else a sentence saying what differs."""
    fingerprint = rules_fingerprint(spec)
    if fingerprint in trusted_fingerprints():
        return None
    differences = "; ".join(rule_differences(spec)) or "they differ from the shipped rules"
    return f"its preprocessing rules (fingerprint {fingerprint[:16]}...) are not a rule set sentiment_export ships: {differences}"
