"""``json_depth`` (the body's nesting, counted with numpy) agrees with a plain scanner.

A one-bracket text is answered from the bracket count alone, an upper bound."""

from __future__ import annotations

import json
import random
from typing import Any

from mindsync.api.middleware import json_depth


def _reference_depth(text: bytes) -> int:
    """Nesting depth by walking the text character by character (strings and escapes skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in text:
        char = chr(byte)
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _document(rng: random.Random, level: int = 0) -> Any:
    roll = rng.random()
    if level > 12 or roll < 0.3:
        return rng.choice([1, 2.5, "a[b{", '"]}\\', 'x\\"[', "", None, True])
    if roll < 0.65:
        return [_document(rng, level + 1) for _ in range(rng.randint(0, 3))]
    keys = ["k", "[", '{"', "\\", "]}"]
    return {rng.choice(keys) + str(i): _document(rng, level + 1) for i in range(rng.randint(0, 3))}


def test_the_depth_matches_a_character_scanner_on_random_documents() -> None:
    rng = random.Random(18)
    for _ in range(2000):
        text = json.dumps(_document(rng)).encode()
        if text.count(b"[") + text.count(b"{") > 1:
            assert json_depth(text) == _reference_depth(text), text
        else:  # one bracket at most: counted without looking (an upper bound, never less)
            assert json_depth(text) >= _reference_depth(text), text


def test_a_large_list_form_body_is_measured() -> None:
    samples = [
        {"timestamp": i / 50, "acceleration": {"x": 0.1, "y": 0.2, "z": 9.8}} for i in range(3000)
    ]
    assert json_depth(json.dumps({"motion_data": samples}).encode()) == 4
