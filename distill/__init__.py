"""distill: a PyTorch knowledge-distillation engine (pretrain, precompute, train, generate).

Seams (plain module-level functions that tests and mutants monkeypatch; the engine always
calls them through their module, so a patch takes effect everywhere):
- `distill.loss.kd_loss`       the whole loss (value, true KL, CE, token count)
- `distill.loss.term_weights`  (alpha * T^2, 1 - alpha): the weights of the KL and CE sums
- `distill.train.optimizer_step`  the one parameter update per step
- `distill.cache.manifest_dict`   the manifest written next to the cached shards
- `distill.cache.top_k`           the teacher's top-k selection and its tie-break
- `distill.stages.distill`        the train stage: opens the cache, never loads a teacher
"""

from __future__ import annotations

__version__ = "0.1.0"
