"""What the pv fuzz tests share: contracts mutated by line and byte edits (a hypothesis
strategy), and the highest line a finding about some bytes may name."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

OPS = ("delete", "duplicate", "swap", "insert", "cut", "indent", "byte")


@st.composite
def mutated(
    draw: st.DrawFn, seeds: Sequence[bytes], snippets: Sequence[bytes], max_edits: int = 6
) -> bytes:
    """A seed contract after 1..max_edits line edits and byte edits."""
    lines = draw(st.sampled_from(seeds)).split(b"\n")
    for _ in range(draw(st.integers(1, max_edits))):
        op = draw(st.sampled_from(OPS))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        j = draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(j, lines[i])
        elif op == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "insert":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(snippets)) + lines[i][at:]
        elif op == "cut":
            lines = lines[: i + 1]
        elif op == "indent":
            lines[i] = b" " * draw(st.integers(1, 4)) + lines[i]
        elif lines[i]:
            at = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:at] + bytes([draw(st.integers(0, 255))]) + lines[i][at + 1 :]
    return b"\n".join(lines)


def last_line(raw: bytes) -> int:
    """The highest line a finding may name: YAML also breaks lines at \\r, \\x85, \\u2028,
    \\u2029, and the end of input may be one past the last."""
    text = raw.decode("utf-8", "replace")
    return 2 + sum(text.count(c) for c in ("\n", "\r", "\x85", "\u2028", "\u2029"))
