"""`distill report`: the loss chart (loss.png) and one static page (report.html) for one or
more runs, so what distillation bought is seen at a glance. matplotlib (the `plot` extra) is
imported here only, and only when a chart is drawn."""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distill.errors import ConfigError, DataError
from distill.runs import CacheInfo, Run

METADATA = "metadata.json"
CACHE_MANIFEST = Path("teacher_logits") / "manifest.json"
ORDER = ("teacher", "distilled", "on-policy", "from-scratch")
COLOURS = {
    "teacher": "#1f77b4",
    "distilled": "#d62728",
    "on-policy": "#2ca02c",
    "from-scratch": "#7f7f7f",
}
_EPOCH_KEYS = ("epoch", "train_loss", "val_loss")
# Sampling for the page and for `distill run`'s sample line: the temperature the demo has
# always used.
SAMPLE_TEMPERATURE = 0.8
SAMPLE_TOKENS = 200
SAMPLE_PROMPT = "The "


def run_dirs(paths: Sequence[Path]) -> list[Path]:
    """Each path that holds a metadata.json, or else its subfolders that do (a `distill run`
    directory holds teacher/, distill/ and scratch/)."""
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            raise ConfigError(f"{path} is not a run directory")
        if (path / METADATA).is_file():
            found.append(path)
            continue
        inner = sorted(p.parent for p in path.glob(f"*/{METADATA}"))
        if not inner:
            raise DataError(f"no {METADATA} in {path} or its subfolders: is it a run directory?")
        found.extend(inner)
    return found


def _read_metadata(path: Path) -> dict[str, Any]:
    file = path / METADATA
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{file} is not readable JSON: {exc}") from exc
    if not isinstance(meta, dict) or not meta.get("epochs") or "config" not in meta:
        raise DataError(f"{file} holds no finished epoch: is the run complete?")
    for epoch in meta["epochs"]:
        if not all(isinstance(epoch.get(k), (int, float)) for k in _EPOCH_KEYS):
            raise DataError(f"{file}: an epoch record lacks one of {', '.join(_EPOCH_KEYS)}")
    return meta


def _model_key(config: dict[str, Any], prefix: str) -> str:
    fields = {k.split(".", 1)[1]: v for k, v in config.items() if k.startswith(prefix)}
    return json.dumps(fields, sort_keys=True)


def label_runs(dirs: Sequence[Path], metas: Sequence[dict[str, Any]]) -> list[str]:
    """distilled for a `train` run, on-policy for an `onpolicy` one; a pretrained model whose
    weights a distilled run's cache (or an on-policy run) came from is its teacher; one shaped
    like a distilled student is the from-scratch baseline; any other pretrained model is a
    teacher."""
    from distill.model import fingerprint

    teachers = {m["config"].get("cache.teacher_fingerprint") for m in metas}
    teachers |= {m["config"].get("teacher.fingerprint") for m in metas}
    students = {_model_key(m["config"], "student.") for m in metas}
    labels = []
    for run, meta in zip(dirs, metas, strict=True):
        config = meta["config"]
        if config.get("kind") == "train":
            labels.append("distilled")
        elif config.get("kind") == "onpolicy":
            labels.append("on-policy")
        elif (run / "model").is_dir() and fingerprint(run / "model") in teachers:
            labels.append("teacher")
        elif _model_key(config, "model.") in students:
            labels.append("from-scratch")
        else:
            labels.append("teacher")
    return labels


def find_cache(run: Path, config: dict[str, Any]) -> CacheInfo | None:
    """The cache a distilled run read, looked up beside the run by its manifest's sha256."""
    want = config.get("cache.manifest_sha256")
    if not want:
        return None
    for manifest in sorted(run.parent.glob(f"*/{CACHE_MANIFEST}")):
        if hashlib.sha256(manifest.read_bytes()).hexdigest() == want:
            return cache_info(manifest.parent)  # the very manifest the run verified
    return None


def cache_info(root: Path) -> CacheInfo:
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    files = manifest["files"]
    signal = sum(f["bytes"] for f in files if f["name"].startswith(("ids-", "values-")))
    return CacheInfo(
        path=root,
        total_bytes=sum(f["bytes"] for f in files),
        signal_bytes=signal,
        tokens=int(manifest["n_windows"]) * int(manifest["data"]["seq_len"]),
        top_k=int(manifest["top_k"]),
    )


def load_runs(paths: Sequence[Path]) -> list[Run]:
    """Every run under `paths`, labelled, in the chart's order (teacher, distilled, scratch)."""
    dirs = run_dirs(paths)
    metas = [_read_metadata(d) for d in dirs]
    runs = [
        Run(path=d, label=label, metadata=meta, cache=find_cache(d, meta["config"]))
        for d, meta, label in zip(dirs, metas, label_runs(dirs, metas), strict=True)
    ]
    return sorted(runs, key=lambda r: ORDER.index(r.label))


def with_samples(runs: Sequence[Run], *, seed: int, device: str) -> list[Run]:
    """Each run with a short sample from its model (where the model is there to load)."""
    from dataclasses import replace

    from distill import stages

    out = []
    for run in runs:
        text = None
        if run.model_dir is not None:
            text = stages.generate(
                model_path=run.model_dir,
                prompt=SAMPLE_PROMPT,
                max_new_tokens=SAMPLE_TOKENS,
                temperature=SAMPLE_TEMPERATURE,
                seed=seed,
                device=device,
            )
        out.append(replace(run, sample=text))
    return out


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend, or a one-line refusal naming the extra."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigError(
            "the loss chart needs matplotlib: pip install -e '.[plot]' (make setup does)"
        ) from exc
    matplotlib.use("Agg")  # files only: never a window, never a display server
    from matplotlib import pyplot as plt

    return plt


def plot_png(runs: Sequence[Run]) -> bytes:
    """Validation cross-entropy per epoch (solid, dots) and the training loss every few steps
    (thin; the run's own objective: CE for a pretrained model, the KD mixture for a
    distilled one, the divergence on its own samples for an on-policy one) of every run on
    one chart, against epochs. A run without a per-step log shows its train CE per epoch
    (dashed)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    labels = [r.label for r in runs]
    # an on-policy run continues the distilled student: drawn after its last epoch
    distilled = [r for r in runs if r.label == "distilled"]
    after = int(distilled[0].epochs[-1]["epoch"]) if len(distilled) == 1 else 0
    try:
        for run in runs:
            shift = after if run.label == "on-policy" else 0
            x = [int(e["epoch"]) + shift for e in run.epochs]
            colour = COLOURS[run.label]
            name = run.label if labels.count(run.label) == 1 else f"{run.label} ({run.path.name})"
            ax.plot(x, [e["val_loss"] for e in run.epochs], "o-", color=colour, label=name)
            steps = run.metadata.get("steps") or []
            first = run.epochs[0]
            per_epoch = float(first.get("step", 0)) / max(int(first["epoch"]), 1)
            if steps and per_epoch > 0:
                at = [shift + s / per_epoch for s, _ in steps]
                ax.plot(at, [v for _, v in steps], "-", color=colour, alpha=0.45, linewidth=0.8)
            else:
                train = [e.get("ce_loss", e["train_loss"]) for e in run.epochs]
                ax.plot(x, train, "--", color=colour, alpha=0.6)
        ax.set_xlabel("epoch")
        ax.set_ylabel("nats/token")
        ax.set_title(
            "dots: validation cross-entropy per epoch; thin: training loss every few steps",
            fontsize="medium",
        )
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    return buf.getvalue()


def default_out(paths: Sequence[Path]) -> Path:
    """One path: itself; several: the folder they share."""
    if len(paths) == 1:
        return paths[0]
    return Path(os.path.commonpath([p.absolute() for p in paths]))


def write_report(
    paths: Sequence[Path], out_dir: Path | None, *, seed: int = 0, device: str = "cpu"
) -> tuple[Path, Path]:
    """Write OUT/loss.png and OUT/report.html (each atomically); returns both paths."""
    from distill import page
    from distill.checkpoint import atomic_write_bytes

    out = out_dir if out_dir is not None else default_out(paths)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    runs = load_runs(paths)
    png = plot_png(runs)  # before any model is loaded: a missing matplotlib costs nothing
    runs = with_samples(runs, seed=seed, device=device)
    out.mkdir(parents=True, exist_ok=True)
    chart, html = out / "loss.png", out / "report.html"
    atomic_write_bytes(chart, png)
    atomic_write_bytes(html, page.render(runs, png).encode("utf-8"))
    return html, chart
