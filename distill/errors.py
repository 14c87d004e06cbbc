"""One small exception family for the engine: raised at boundaries with a message that names
what differed and how to fix it; the CLI turns each into a one-line `error: ...` and exit 1."""

from __future__ import annotations


class DistillError(Exception):
    """Base of every refusal the engine reports to a user (never a bug)."""


class ConfigError(DistillError):
    """An option or config value outside its valid range, or inconsistent with another."""


class DataError(DistillError):
    """A data file that cannot be read, or a corpus too small for the requested windows."""


class ModelError(DistillError):
    """A model directory that cannot be found or loaded, or models that cannot be paired."""


class CacheMismatchError(DistillError):
    """A teacher-logit cache that is missing, corrupt, truncated or made for other inputs."""


class CheckpointMismatchError(DistillError):
    """A checkpoint made with another config, or one that cannot be read."""


class OutputExistsError(DistillError):
    """An output directory that already holds another run."""


class TrainingError(DistillError):
    """Training cannot go on (non-finite loss) or its result fails the drift gate."""


class RunLockedError(DistillError):
    """A run directory another live process is writing (it holds the directory's lock)."""


class WriteError(DistillError):
    """A write that failed (a full disk, a file-size limit, an I/O error); what was on disk
    before it is kept and no partial file is left where a reader would take it."""
