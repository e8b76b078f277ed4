#!/usr/bin/env bash
# The CUDA checks, as one script for a lent GPU machine (its image has torch and transformers;
# nothing is installed). Needs .gpu/tokenizer (the SmolLM2 tokenizer files, made by
# copying tokenizer.json, tokenizer_config.json and chat_template.jinja from the converted
# builtin model in $FAITHLINE_CACHE/models/smollm2-135m-*/). Writes logs and benchmark JSON to $OUT.
set -uo pipefail
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 FAITHLINE_CACHE=/tmp/flcache
export FAITHLINE_TEST_TOKENIZER=$PWD/.gpu/tokenizer
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" | tee -a "$OUT/gpu.txt"
python3 -m pytest tests/models/test_hf_gpu.py -m gpu -q -p no:cacheprovider -o addopts="" 2>&1 | tee "$OUT/gpu_tests.log"
python3 -c "from faithline.models.builtin import random_smollm2_shaped as r; r('/tmp/smol-shape', '$FAITHLINE_TEST_TOKENIZER')"
python3 bench/bench_hf_generate.py --model hf:/tmp/smol-shape --batches 1,8,64 --tokens 128 \
    --repeats 3 --out "$OUT" 2>&1 | tee "$OUT/bench.log"
