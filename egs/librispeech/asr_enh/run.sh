#!/usr/bin/env bash
# KD-trained speech enhancement for noise-robust ASR (Charishma, draft paper): a Conformer teacher and
# DeepFilterNet3 distilled into a DCCRN student with frame-level (L_e) and sequence-level (L_d) terms,
# the enhanced speech decoded by two ASR backends (pocketsphinx, moonshine).  Stages of
# egs/TEMPLATE/enh/enh.sh, lists in local/kd_asr.sh, corpus paths in db.sh.
#
#   ./run.sh [--conf_dir conf/cpu] [--seeds "1 2 3"] [options of this script and of enh.sh, in any order]
#
# Steps (each resumable: enh.sh stamps; caches, model files and score dirs are written atomically and
# reused when up to date):
#   1. enh.sh stages 1-3: data (local/data.sh), resample, mixtures
#   2. DeepFilterNet3 over train/valid once -> exp/df_cache/{train,valid}.npz (kdspeech.bin.cache_teacher)
#   3. the Wiener filter's model file -> exp/wiener/best.pth (kdspeech.bin.make_classical), and
#      DeepFilterNet3 packed as a system -> exp/deepfilternet3/model.zip (kdspeech pack pretrained:...)
#   4. enh.sh stages 4-7 and 10: train, enhance, score (quality + WER/CER with the first backend)
#   5. WER/CER with the other backends -> exp/<model>/score_asr_<backend>_test
#   6. deployment report of teacher vs students -> exp/deploy (kdspeech.bin.deploy)
#   7. local/make_tables.py -> exp/results/results/tables.md (the paper's table layouts, every backend), beside
#      the template's exp/results/results/enh_results.md; --update_results true copies both over the
#      committed results/ (a run never touches tracked files)
#   8. with --asr_approaches true, the ASR training approaches of the paper's Tables 1 and 3 (MCT-noisy,
#      + standardize-SR, MCT-all, Joint-Straight, Joint-ASO, Joint-Grad, proposed; local/asr_approaches.sh)
#      by egs/TEMPLATE/enh_asr/enh_asr.sh on ASR sets of --asr_data: at CPU scale Speech Commands words
#      (local/prepare_speech_commands.py) mixed by enh.sh; front ends: this recipe's student_lr and
#      student_le_ld -> exp/results/asr_rows.md (WER/CER, each row against MCT-noisy)
set -euo pipefail

command_words=("$0" "$@")   # the command as given, for the results files
conf_dir=conf/cpu      # configs of one scale; <conf_dir>/scale.sh sets the options below (they are conf/cpu's here)
train_snrs="-5,0,5,10"   # SNRs of the training and validation mixtures
test_snrs="0,5,10"       # SNRs of the test mixtures
train_mix_per_utt=2      # mixtures per training utterance
valid_mix_per_utt=1      # mixtures per validation utterance
test_mix_per_utt=2       # mixtures per test utterance
local_data_opts="--num_train 60 --num_valid 10 --max_seconds 1"   # options of local/data.sh
metrics=pesq_wb,stoi,si_sdr,sdr,seg_snr,csig,cbak,covl          # quality metrics of enh.sh's stage 6
backends="moonshine pocketsphinx"   # the first decodes every system in enh.sh's stage 7, the others in step 5
other_backend_models=""            # systems step 5 decodes, at every seed (empty: noisy, clean and every system)
deploy_models="conformer_teacher student_lr"   # systems of the deployment report (step 6; their first seed)
deploy_seconds=1         # seconds of audio per timed forward pass in step 6
seeds=""                 # training seeds of every system, e.g. "1 2 3" (utils/seeds.sh; verdicts need 3)
nj=2                     # parallel jobs
train_jobs=2             # trainings at the same time
update_results=false     # also copy this run's results (exp/results/results/) over the committed results/
asr_approaches=false     # step 8: train and compare the ASR training approaches (Tables 1 and 3)
asr_data=speech_commands # step 8's ASR sets: speech_commands (CPU scale) | mixtures (the train/valid/test mixtures: their text)
asr_conf_dir=../../TEMPLATE/asr/conf/cpu   # the recognisers' configs (../../TEMPLATE/asr/conf: the paper's sizes)
asr_train_args=""        # config overrides of every recogniser, e.g. "trainer.max_epochs=10"
asr_train_mix_per_utt=2  # mixtures per Speech Commands training word
asr_data_opts=""         # options of local/prepare_speech_commands.py (speaker counts, --max_per_set)

help_message="Usage: $0 [options]   (<conf_dir>/scale.sh sets this script's options; the command line wins)"
pass_options_to=./enh.sh   # every other option
first_pass() { local -a passed_options; . utils/parse_options.sh; }   # finds --conf_dir in any position
first_pass "$@"
# shellcheck disable=SC1091
[ ! -f "${conf_dir}/scale.sh" ] || . "${conf_dir}/scale.sh"
. utils/parse_options.sh     # again: the command line over the scale's values
. ./path.sh
. local/kd_asr.sh
other_backend_models=$(models_with_seeds "${seeds}" "${other_backend_models:-noisy clean ${kd_names} ${kd_untrained}}" \
  "${kd_base_systems}")

log() { echo "$(date '+%F %T') run.sh: $*" >&2; }
read -r -a _backends <<< "${backends}"
common=(--fs 16000 --nj "${nj}" --local_data_opts "${local_data_opts}" "${kd_opts[@]}"
        --metrics "${metrics}" --score_with_asr true --asr_backend "${_backends[0]}"
        --results results/enh_results.md --results_dir results --results_note conf/results_note.md
        --train_jobs "${train_jobs}" --update_results "${update_results}")

./enh.sh "${common[@]}" --stop_stage 3 ${passed_options[@]+"${passed_options[@]}"}

mkdir -p exp/df_cache
for set in train valid; do
  if [ ! -f exp/df_cache/${set}.npz ] || [ dump/mix/${set}/.done -nt exp/df_cache/${set}.npz ]; then
    log "DeepFilterNet3 over dump/mix/${set} -> exp/df_cache/${set}.npz (log: exp/df_cache/${set}.log)"
    python -m kdspeech.bin.cache_teacher --config "${conf_dir}/student_df.yaml" --teacher df \
      --data dump/mix/${set} --out exp/df_cache/${set}.npz --batch_size 8 --device cpu \
      > exp/df_cache/${set}.log 2>&1 || { tail exp/df_cache/${set}.log >&2; log "ERROR: step 2 (teacher cache) failed"; exit 1; }
  fi
done
# a stamped stage (utils/stage.sh), so that enh.sh's stages 5-7 depend on exp/wiener like on a trained system
stage=0 stop_stage=0
. utils/stage.sh
stage_run 0 "Wiener filter model file (no training)" --out exp/wiener -- \
  python -m kdspeech.bin.make_classical --model wiener --out exp/wiener
stage_run 0 "DeepFilterNet3 itself as a system: its packed card (no training)" --out exp/deepfilternet3 -- \
  python -m kdspeech pack pretrained:deepfilternet3 exp/deepfilternet3/model.zip --sr 16000

./enh.sh "${common[@]}" --stage 4 ${passed_options[@]+"${passed_options[@]}"}

for backend in "${_backends[@]:1}"; do
  for m in ${other_backend_models}; do
    est=exp/${m}/enhanced_test/wav.scp
    [ "${m}" != noisy ] || est=dump/mix/test/wav.scp
    [ "${m}" != clean ] || est=dump/mix/test/spk1.scp
    out=exp/${m}/score_asr_${backend}_test
    if [ -f "${out}/summary.json" ] && [ "${out}/summary.json" -nt "${est}" ]; then continue; fi
    log "decode (${backend}) and score wer,cer: ${m} on test"
    utils/score.sh --nj "${nj}" --fs 16000 --metrics wer,cer --asr_backend "${backend}" dump/mix/test "${est}" "${out}"
  done
done

deploy_dirs=()
for m in ${deploy_models}; do deploy_dirs+=("exp/${m}"); done
if [ ! -f exp/deploy/deploy.md ] || [ "${deploy_dirs[0]}/best.pth" -nt exp/deploy/deploy.md ]; then
  log "deployment report of ${deploy_models} -> exp/deploy/deploy.md"
  python -m kdspeech.bin.deploy --models "${deploy_dirs[@]}" --seconds "${deploy_seconds}" --sr 16000 \
    --num_threads 1 --onnx --out_dir exp/deploy   # ONNX: the network between STFT and iSTFT (deploy's export hook)
fi

python local/make_tables.py --exp exp --models "noisy ${kd_untrained} ${kd_names} clean" --set test \
  --seeds "${seeds}" --backends "${backends}" --out exp/results/results/tables.md
if [ "${update_results}" = true ]; then
  cp exp/results/results/tables.md results/tables.md
  log "tables: exp/results/results/tables.md, copied to the committed results/tables.md"
else
  log "tables: exp/results/results/tables.md; the template's results: exp/results/results/enh_results.md"
fi

# Step 8: the ASR training approaches (enh_asr.sh's stages; the front ends are this recipe's students).
[ "${asr_approaches}" = true ] || exit 0
. local/asr_approaches.sh
if [ "${asr_data}" = speech_commands ]; then
  . ./db.sh
  stage_run 0 "Speech Commands words for the ASR approaches" --out data/clean_asr_train --out data/clean_asr_valid \
    --out data/clean_asr_test --inputs "${SPEECH_COMMANDS}" -- \
    python local/prepare_speech_commands.py --root "${SPEECH_COMMANDS}" --out data ${asr_data_opts}
  ./enh.sh "${common[@]}" ${passed_options[@]+"${passed_options[@]}"} --stage 2 --stop_stage 3 \
    --mix_sets "${asr_mix_sets}" --corpus_dirs "clean_asr_train clean_asr_valid clean_asr_test noise_train noise_test"
fi
./enh_asr.sh --nj "${nj}" --train_jobs "${train_jobs}" --fs 16000 "${asr_opts[@]}" --run_command "$(printf '%q ' "${command_words[@]}")"
if [ "${update_results}" = true ]; then
  cp exp/results/asr_rows.md results/asr_rows.md
  log "ASR approaches: exp/results/asr_rows.md, copied to the committed results/asr_rows.md"
else
  log "ASR approaches: exp/results/asr_rows.md"
fi
