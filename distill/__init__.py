"""distill: a PyTorch knowledge-distillation engine (pretrain, precompute, train, onpolicy,
eval, generate).

Seams (plain module-level functions that tests and mutants monkeypatch; the engine always
calls them through their module, so a patch takes effect everywhere):
- `distill.loss.kd_loss`       the whole loss (value, true KL, CE, token count)
- `distill.loss.term_weights`  (alpha * T^2, 1 - alpha): the weights of the KL and CE sums
- `distill.train.optimizer_step`  the one parameter update per step
- `distill.cache.manifest_dict`   the manifest written next to the cached shards
- `distill.cache.top_k`           the teacher's top-k selection and its tie-break
- `distill.stages.distill`        the train stage: opens the cache, never loads a teacher
- `distill.stages.on_policy`      the onpolicy stage
- `distill.onpolicy.OnPolicy.continuation`  a micro-batch's continuation: sampled or the corpus's
- `distill.onpolicy.samples_this_micro`     the lambda draw of a micro-batch
- `distill.onpolicy.draw_seed`    every on-policy seed, from (seed, step, micro, rank)
- `distill.onpolicy.loss_targets` which tokens the on-policy loss covers (the continuation)
- `distill.onpolicy.freeze` / `teacher_logits`  the frozen teacher and its scores
- `distill.onpolicy.sampled_loss` the sampled-token estimator of reverse KL
- `distill.rollout.pick`          the next ids from the last logits (argmax or a draw)
"""

from __future__ import annotations

__version__ = "0.1.0"
