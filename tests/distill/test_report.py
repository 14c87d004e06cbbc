"""`distill report`: the loss chart and the static page for real (tiny) runs, labelled right,
valid HTML, checked in a real browser; and every refused input as one error line."""

from __future__ import annotations

import base64
import json
import struct
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from distill import pipeline, report
from distill.cli import main
from distill.errors import ConfigError
from tests.pages import assert_screenshot_not_blank, assert_valid_html, probe


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def written(report_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report_out")
    result = invoke("report", report_root, "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"report: {out / 'report.html'}",
        f"chart:  {out / 'loss.png'}",
    ]
    return out


@pytest.mark.cli("distill report")
def test_a_run_folder_gives_a_chart_and_a_page_with_every_run_labelled(
    written: Path, report_root: Path
) -> None:
    png = (written / "loss.png").read_bytes()
    assert png_size(png) == (800, 450)
    page = (written / "report.html").read_text(encoding="utf-8")
    assert_valid_html(page)
    assert base64.b64encode(png).decode() in page  # the chart is inline, not a link
    for label in ("teacher", "distilled", "from-scratch"):
        assert f'id="run-{label}"' in page
        assert f'id="sample-{label}"' in page
    assert "http://" not in page
    assert "https://" not in page
    meta = json.loads((report_root / "distill" / "metadata.json").read_text(encoding="utf-8"))
    assert f"{meta['epochs'][-1]['val_loss']:.4f}" in page
    assert f"moved {meta['drift_gate']['relative_change']:.1%}" in page
    assert "bytes/token of teacher signal" in page
    assert 'id="margin"' in page


def test_the_teacher_is_told_from_a_same_shaped_baseline_by_its_weights(report_root: Path) -> None:
    runs = report.load_runs([report_root])
    assert [r.label for r in runs] == ["teacher", "distilled", "from-scratch"]
    assert [r.path.name for r in runs] == ["teacher", "distill", "scratch"]
    distilled = runs[1]
    assert distilled.cache is not None
    cache = distilled.cache
    # top-k 8 of a 256-byte vocabulary: a uint8 id and an fp16 value per kept logit
    assert cache.bytes_per_token == pytest.approx(8 * (1 + 2))
    assert cache.total_bytes > cache.signal_bytes


def test_several_run_directories_default_to_the_folder_they_share(
    report_root: Path, tmp_path: Path
) -> None:
    for name in ("teacher", "distill"):
        (tmp_path / name).symlink_to(report_root / name)
    html, chart = report.write_report([tmp_path / "teacher", tmp_path / "distill"], None)
    assert html == tmp_path / "report.html"
    assert chart.is_file()
    assert 'id="run-from-scratch"' not in html.read_text(encoding="utf-8")


def test_the_report_page_renders_in_a_browser_with_its_chart(written: Path, tmp_path: Path) -> None:
    seen = probe(
        written / "report.html",
        "var img = document.getElementById('loss-chart');"
        "window.probe = {complete: img.complete, width: img.naturalWidth,"
        " height: img.naturalHeight, shown: img.getBoundingClientRect().width,"
        " runs: Array.from(document.querySelectorAll('section')).map(function (s) {"
        " return s.id; })};",
        tmp_path,
    )
    assert seen["complete"] is True
    assert (seen["width"], seen["height"]) == (800, 450)
    assert isinstance(seen["shown"], (int, float))
    assert seen["shown"] > 0
    assert seen["runs"] == ["run-teacher", "run-distilled", "run-from-scratch"]
    assert_screenshot_not_blank(written / "report.html", tmp_path)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "is not a run directory"),
        (lambda p: p, "no metadata.json in"),
        (lambda p: (p / "metadata.json").write_text("{not json") and p, "not readable JSON"),
        (lambda p: (p / "metadata.json").write_text('{"epochs": []}') and p, "no finished epoch"),
        (
            lambda p: (
                (p / "metadata.json").write_text('{"config": {}, "epochs": [{"epoch": 1}]}') and p
            ),
            "an epoch record lacks one of",
        ),
    ],
    ids=["missing", "empty", "corrupt", "unfinished", "no-val-loss"],
)
def test_what_is_not_a_finished_run_is_refused_in_one_line(
    tmp_path: Path, make: object, message: str
) -> None:
    result = invoke("report", make(tmp_path))  # type: ignore[operator]
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_out_that_is_a_file_is_refused_untouched(report_root: Path, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("keep")
    result = invoke("report", report_root / "distill", "--out", target)
    assert result.exit_code == 1
    assert "is not a directory" in result.stderr
    assert target.read_text() == "keep"


def test_without_matplotlib_the_chart_is_refused_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[plot\]'"):
        report.pyplot()


def test_the_run_table_states_the_margin_over_the_baseline() -> None:
    def val(teacher: float, distilled: float, scratch: float) -> dict[str, float]:
        return {"teacher": teacher, "distilled": distilled, "from scratch": scratch}

    lines = pipeline.table(val(1.5, 1.9, 2.1))
    assert lines[2].split("|")[1:3] == [" teacher      ", "   1.5000 "]
    assert "| distilled    |   1.9000 |         -0.2000 |" in lines
    assert lines[-1].startswith("margin: +0.2000 nats/token: distillation beats the same")
    assert "did NOT beat" in pipeline.table(val(1.5, 2.2, 2.1))[-1]
    four = {**val(1.5, 1.9, 2.1), "distilled + on-policy": 1.8}
    nll = {"teacher": 2.4, "distilled": 2.6, "distilled + on-policy": 2.5, "from scratch": 2.9}
    lines = pipeline.table(four, nll)
    assert lines[0].endswith("| teacher NLL of samples |")
    row = "| distilled + on-policy |   1.8000 |         -0.3000 |                 2.5000 |"
    assert row in lines


def test_every_value_on_the_page_is_escaped(tmp_path: Path) -> None:
    """The template autoescapes: markup in a run's path, config or sample is text on the page;
    the sample's control bytes are shown as U+FFFD; the clock's cells stay marked."""
    from distill import page
    from distill.runs import Run

    hostile = '</pre><script>alert("x")</script>'
    meta = {
        "config": {"kind": "train", "note": hostile},
        "epochs": [{"epoch": 1, "step": 2, "train_loss": 1.0, "val_loss": 2.0,
                    "tokens_per_second": 1234.5, "wall_seconds": 3.0}],
        "drift_gate": {"passed": True, "relative_change": 0.5, "tolerance": 0.05,
                       "measure": hostile},
    }  # fmt: skip
    run = Run(path=tmp_path / hostile, label="distilled", metadata=meta, sample=hostile + "\x01")
    html = page.render([run], b"\x89PNG")
    assert_valid_html(html)
    assert "<script>" not in html
    assert html.count("&lt;/pre&gt;&lt;script&gt;alert(") == 5  # path x2, config, gate, sample
    assert "\ufffd" in html
    assert '<td class="clock">1,234</td>' in html
    assert '<td class="clock">3.0</td>' in html
