#!/usr/bin/env bash
# KD-trained speech enhancement for noise-robust ASR on CHiME-4 (the paper's Tables 3, 6, 7, 9, 10):
# the systems of egs/librispeech/asr_enh (Conformer teacher, DCCRN students L_r / +L_e / +L_d /
# +L_e+L_d, Wiener filter) trained on tr05_simu (noisy CH5 + clean), validated on dt05_simu, scored on
# dt05_simu / et05_simu (quality + WER/CER) and dt05_real / et05_real (WER/CER: no clean reference).
# With --asr_approaches true, then the ASR training approaches of Table 3 (MCT-noisy, + standardize-SR,
# MCT-all, Joint-Straight/ASO/Grad, proposed: ../../librispeech/asr_enh/local/asr_approaches.sh) trained
# on tr05_simu and decoded on the four test sets by egs/TEMPLATE/enh_asr/enh_asr.sh -> exp/results/asr_rows.md.
# CHiME-4 is licensed: db.sh points at your copy.  The DeepFilterNet3 student is left out here: its
# teacher cache needs every utterance within one training crop (CHiME-4 utterances run 2-15 s).
#
#   ./run.sh [--conf_dir ../../librispeech/asr_enh/conf] [options of this script and of enh.sh, in any order]
set -euo pipefail

command_words=("$0" "$@")   # the command as given, for the results
conf_dir=../../librispeech/asr_enh/conf   # paper-size configs (conf/cpu there: the CPU scale)
backends="pocketsphinx moonshine"   # ASR backends: the first in enh.sh's stage 7, each one on the real recordings
nj=8                   # parallel jobs (enh.sh's and the real recordings')
train_jobs=1           # trainings at the same time (enh.sh's systems, enh_asr.sh's recognisers)
asr_approaches=false   # then train and compare the ASR training approaches of Table 3 (enh_asr.sh)
asr_conf_dir=../../TEMPLATE/asr/conf   # the recognisers' configs (paper size; asr/conf/cpu: CPU size)
asr_train_args=""      # config overrides of every recogniser

help_message="Usage: $0 [options]   (every other option is enh.sh's)"
pass_options_to=./enh.sh
. utils/parse_options.sh
. ./path.sh
log() { echo "$(date '+%F %T') run.sh: $*" >&2; }

raw=dump/raw
teacher="teachers.conformer.members=[{expdir}/conformer_teacher]"
systems="conformer_teacher ${conf_dir}/teacher.yaml ${raw}/tr05_simu ${raw}/dt05_simu -;"
systems+="student_lr ${conf_dir}/student_lr.yaml ${raw}/tr05_simu ${raw}/dt05_simu -;"
for v in le ld le_ld; do
  systems+="student_${v} ${conf_dir}/student_${v}.yaml ${raw}/tr05_simu ${raw}/dt05_simu conformer_teacher ${teacher};"
done
models="conformer_teacher student_lr student_le student_ld student_le_ld wiener"
read -r -a _backends <<< "${backends}"
stage=0 stop_stage=0
. utils/stage.sh   # the Wiener filter's model file as a stamped stage (enh.sh's stages 5-7 depend on it)
stage_run 0 "Wiener filter model file (no training)" --out exp/wiener -- \
  python -m kdspeech.bin.make_classical --model wiener --out exp/wiener

./enh.sh --fs 16000 --nj "${nj}" --train_jobs "${train_jobs}" --corpus_dirs "tr05_simu dt05_simu et05_simu dt05_real et05_real" \
  --systems "${systems}" --models "${models}" --test_sets "${raw}/dt05_simu ${raw}/et05_simu" \
  --metrics pesq_wb,stoi,si_sdr,sdr,seg_snr,csig,cbak,covl --score_with_asr true --asr_backend "${_backends[0]}" \
  --compare "student_le_ld:student_lr student_le:student_lr student_ld:student_lr student_lr:wiener" \
  --results_title "chime4/asr_enh: KD-trained speech enhancement for noise-robust ASR" ${passed_options[@]+"${passed_options[@]}"}

# Real recordings: enhance, then WER/CER with every backend (no clean reference, so no quality metrics).
for t in dt05_real et05_real; do
  for m in noisy ${models}; do
    est=${raw}/${t}/wav.scp
    if [ "${m}" != noisy ]; then
      est=exp/${m}/enhanced_${t}/wav.scp
      [ -f "${est}" ] || utils/enhance.sh --nj "${nj}" --fs 16000 --device cpu "exp/${m}" "${raw}/${t}" "exp/${m}/enhanced_${t}"
    fi
    for b in "${_backends[@]}"; do
      out=exp/${m}/score_asr_${b}_${t}
      [ -f "${out}/summary.json" ] && continue
      log "decode (${b}) ${m} on ${t}"
      utils/score.sh --nj "${nj}" --fs 16000 --metrics wer,cer --asr_backend "${b}" "${raw}/${t}" "${est}" "${out}"
    done
  done
done

# The ASR training approaches (Table 3): front ends student_lr and student_le_ld of the systems above.
[ "${asr_approaches}" = true ] || exit 0
asr_data=given seeds="" asr_train=${raw}/tr05_simu asr_valid=${raw}/dt05_simu asr_paper_table=local/paper_table3.tsv
asr_tests="${raw}/dt05_simu ${raw}/et05_simu ${raw}/dt05_real ${raw}/et05_real"
. ../../librispeech/asr_enh/local/asr_approaches.sh
./enh_asr.sh --nj "${nj}" --train_jobs "${train_jobs}" --fs 16000 "${asr_opts[@]}" --run_command "$(printf '%q ' "${command_words[@]}")"
log "ASR approaches: exp/results/asr_rows.md"
