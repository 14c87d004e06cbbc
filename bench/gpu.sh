#!/usr/bin/env bash
# The engine on one NVIDIA GPU, in under 5 minutes: KD-step and CE-step tokens/s, MFU and peak
# memory for a ~124M-parameter student at V=256 and V=50304 (B16 x T1024, bf16 autocast, fused
# AdamW), then the KD loss alone at N=8192, V=128256: plain vs chunked vs fused, memory and time.
# Prints the H100 reference points from issue 6 beside its numbers; writes bench/results/gpu.json.
# Usage: bench/gpu.sh   (PYTHON=... to choose the interpreter; PEAK_TFLOPS=... for a non-H100)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
"$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)" || {
    echo "bench/gpu.sh: no CUDA device visible to torch" >&2
    exit 2
}
exec timeout 290 "$PYTHON" -m bench._gpu "$@"
