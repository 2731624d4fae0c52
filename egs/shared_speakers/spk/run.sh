#!/usr/bin/env bash
# Contrastive knowledge distillation of a 150k-parameter speaker encoder (TinyECAPA) from a frozen
# speaker encoder (Serre et al., "Contrastive Knowledge Distillation for Embedding Refinement in
# Personalized Speech Enhancement", first half), at CPU scale on the shared corpora subsets:
# LibriSpeech train-clean-100 + Speech Commands + AN4 speakers for training, held-out Speech Commands
# speakers for validation, LibriSpeech test-other speakers (unseen) for the trials and the t-SNE plot
# (local/prepare_shared.py).  Teacher: Resemblyzer's GE2E encoder (256-d), cached once (stage 4).
# Systems: the paper's contrastive_chunks student and, beyond the paper, cos_emb and mse_emb students
# with the same data and steps.  Stages in egs/TEMPLATE/spk/spk.sh.
#   ./run.sh                       every stage (20 minutes on 2 shared cores; see RESULTS.md)
#   ./run.sh --stage 6             re-embed and re-score; any spk.sh option (./run.sh --help)
set -euo pipefail
help_message="Usage: $0 [options]   (every option is spk.sh's: the recipe's settings below come first)"
pass_options_to=./spk.sh
. utils/parse_options.sh

systems="
contrastive conf/train_contrastive.yaml train valid cache
cos         conf/train_cos.yaml         train valid cache
mse         conf/train_mse.yaml         train valid cache
"

./spk.sh \
  --fs 16000 \
  --teacher_conf conf/teacher.yaml --teacher_set teacher --teacher_name resemblyzer \
  --cache_sets "train valid" \
  --systems "${systems}" \
  --test_sets test --tsne_set test --tsne_speakers 10 \
  --protocols "asym ss" \
  --compare "contrastive:cos contrastive:mse" \
  --chunk_sweep "0.5 1.0 1.5 2.0 3.0" --chunk_models contrastive \
  --deploy true \
  --paper_results conf/paper_results.yaml \
  --results_note conf/results_note.md \
  --run_command "$(printf '%q ' "$0" ${passed_options[@]+"${passed_options[@]}"})" \
  ${passed_options[@]+"${passed_options[@]}"}
