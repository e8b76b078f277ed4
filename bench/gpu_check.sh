#!/usr/bin/env bash
# The CUDA checks, as one time-boxed script for a lent GPU machine (under 8 minutes in all; every
# part has its own `timeout`, and a part whose packages the machine lacks says so and is skipped).
# The machine's image has torch and transformers; vLLM, TRL and datasets are used if it has them
# (it reaches no package index). Weights cannot travel, so the model is a randomly initialised
# Llama of SmolLM2-135M's shape with the real tokenizer: needs .gpu/tokenizer (tokenizer.json,
# tokenizer_config.json and chat_template.jinja copied from the converted builtin model in
# $FAITHLINE_CACHE/models/smollm2-135m-*/). Writes logs and benchmark JSON to $OUT.
#
# Measures: (1) the hf back-end's CUDA tests; (2) generation tok/s at batch 64 and 256: HF with
# the dynamic KV cache, HF with the static one, and vLLM (bench/bench_vllm.py); (3) one GRPO step
# of arm 1 (outcome) and arm 4 (paraphrase: Shoggoth, paraphraser, Face) with HF rollouts and
# with vLLM rollouts (faithline train rl [--vllm]), the step's seconds from steps.jsonl.
set -uo pipefail
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 FAITHLINE_CACHE=/tmp/flcache
export FAITHLINE_TEST_TOKENIZER=$PWD/.gpu/tokenizer
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
START=$(date +%s)
elapsed() { echo "[gpu_check] $1 at $(( $(date +%s) - START )) s" | tee -a "$OUT/timeline.txt"; }
has() { python3 -c "import $1" >/dev/null 2>&1; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" | tee -a "$OUT/gpu.txt"
for m in vllm trl datasets; do
  python3 -c "import $m; print('$m', $m.__version__)" 2>/dev/null | tee -a "$OUT/gpu.txt" \
    || echo "$m: not installed (its parts are skipped)" | tee -a "$OUT/gpu.txt"
done

timeout 90 python3 -m pytest tests/models/test_hf_gpu.py -m gpu -q -p no:cacheprovider \
  -o addopts="" > "$OUT/gpu_tests.log" 2>&1; echo "gpu tests rc=$?" | tee -a "$OUT/gpu.txt"
elapsed "hf gpu tests"

MODEL=/tmp/smol-shape
timeout 60 python3 -c "from faithline.models.builtin import random_smollm2_shaped as r; r('$MODEL', '$FAITHLINE_TEST_TOKENIZER')" \
  || { echo "no SmolLM2-shaped model (is .gpu/tokenizer there?)" | tee -a "$OUT/gpu.txt"; exit 1; }
elapsed "random model"

if has vllm; then  # HF dynamic vs static vs vLLM, batch 64 and 256, in one run
  timeout 170 python3 bench/bench_vllm.py --model "$MODEL" --batch 64,256 --tokens 128 \
    --repeats 2 --skip early --out "$OUT" > "$OUT/bench_vllm.log" 2>&1
  echo "bench_vllm rc=$?" | tee -a "$OUT/gpu.txt"
else  # HF static cache against raw transformers (no vLLM on this machine)
  timeout 120 python3 bench/bench_hf_generate.py --model "hf:$MODEL" --batches 64,256 \
    --tokens 128 --repeats 2 --out "$OUT" > "$OUT/bench_hf.log" 2>&1
  echo "bench_hf_generate rc=$? (vllm missing: no vLLM numbers)" | tee -a "$OUT/gpu.txt"
fi
elapsed "generation bench"

if has trl && has datasets; then
  for arm in outcome paraphrase; do
    for side in hf vllm; do
      flag=""; [ "$side" = vllm ] && flag="--vllm"
      if [ "$side" = vllm ] && ! has vllm; then continue; fi
      run="$OUT/rl-$arm-$side"
      timeout 75 python3 -m faithline.cli.main train rl $flag --model "hf:$MODEL" --arm "$arm" \
        --steps 1 --prompts 8 --generations 8 --max-new-tokens 128 --eval-n 1 --quiet \
        --out "$run" > "$run.log" 2>&1
      rc=$?
      secs=$(python3 -c "import json; print(json.loads(open('$run/steps.jsonl').readline())['step_seconds'])" 2>/dev/null)
      echo "grpo step arm=$arm rollouts=$side rc=$rc step_seconds=${secs:-none}" | tee -a "$OUT/gpu.txt"
      elapsed "rl $arm $side"
    done
  done
else
  echo "trl/datasets missing: no GRPO step timings" | tee -a "$OUT/gpu.txt"
fi
elapsed "done"
