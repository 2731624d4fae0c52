#!/usr/bin/env bash
# Personalized speech enhancement with on-the-fly refinement of the speaker conditioning (Serre et al.,
# "Contrastive Knowledge Distillation for Embedding Refinement in Personalized Speech Enhancement",
# second half): pDeepFilterNet2 told the target speaker by a reference embedding E of an enrolment
# clip; the refined systems also get, frame by frame, the similarity between E and embeddings of 1 s
# chunks of the mixture, computed by the distilled TinyECAPA (light) or the reference encoder itself
# (oracle), scaled by alpha and clipped to [0, 1].  Baselines pDCCRN and E3Net.  Scored by DNSMOS
# P.835 and personalized DNSMOS (and PESQ/STOI/SI-SDR on a synthetic test set).  Stages in
# egs/TEMPLATE/pse/pse.sh.
#
#   ./run.sh                       CPU scale on ../shared/corpora (conf/cpu; see RESULTS.md)
#   ./run.sh --data dns5 --conf_dir conf     the paper's scale on DNS5 (point db.sh at it)
#   ./run.sh --stage 10 ...        any pse.sh option (./run.sh --help)
#
# The light similarity needs the TinyECAPA of egs/shared_speakers/spk (its ./run.sh, ~20 min on 2
# cores) or any TinyECAPA checkpoint: --light_encoder PATH.
set -euo pipefail

conf_dir=conf/cpu      # training configs and <conf_dir>/scale.sh (conf: the paper's sizes)
data=shared            # shared (../shared/corpora subsets) | dns5
light_encoder=../../shared_speakers/spk/exp/contrastive/best.pth   # TinyECAPA distilled from the reference encoder
seeds=""               # training seeds of every system, e.g. "1 2 3" (utils/seeds.sh; verdicts need 3)
skip_train=false       # pse.sh's --skip_train (no training: the light encoder is then not needed)

help_message="Usage: $0 [options]   (<conf_dir>/scale.sh's options come before the command line's)"
pass_options_to=./pse.sh   # every other option
. utils/parse_options.sh

case ${data} in
  shared)
    data_opts=(--corpus_dirs "train_clean test_clean noise noise_test rir rir_test"
               --test_sources test_clean --test_noises noise_test --test_rirs rir_test) ;;
  dns5)
    data_opts=(--corpus_dirs "train_clean noise rir blind_track1_headset blind_track2_speakerphone"
               --blind_sets "blind_track1_headset blind_track2_speakerphone") ;;
  *) echo "$0: --data must be shared or dns5, got '${data}'" >&2; exit 1 ;;
esac

# The paper's Table I systems: the plain model, the oracle and light refinements with the paper's alpha
# (2 and 6) and without scaling, and the two baselines.  "train"/"valid": pse.sh's sets.
enc=model.conf.encoder.path=${light_encoder}
systems="
pdfnet2        ${conf_dir}/train_pdfnet2.yaml train valid -
oracle_scaled   ${conf_dir}/train_oracle.yaml  train valid -
oracle_unscaled ${conf_dir}/train_oracle.yaml  train valid - model.conf.alpha=null
light_scaled    ${conf_dir}/train_light.yaml   train valid - ${enc}
light_unscaled  ${conf_dir}/train_light.yaml   train valid - ${enc} model.conf.alpha=null
pdccrn         ${conf_dir}/train_pdccrn.yaml  train valid -
e3net          ${conf_dir}/train_e3net.yaml   train valid -
"
. utils/seeds.sh
systems=$(systems_with_seeds "${seeds}" "${systems}")
if [ "${skip_train}" = false ] && [ ! -f "${light_encoder}" ]; then
  echo "$0: the light similarity needs a TinyECAPA checkpoint: ${light_encoder} not found." >&2
  echo "  Run egs/shared_speakers/spk/run.sh first, or give --light_encoder PATH." >&2
  exit 1
fi

. "${conf_dir}/scale.sh"   # sets scale_opts: mixtures, durations and jobs of this scale
run_words=("$0" --conf_dir "${conf_dir}" --data "${data}")   # the command, for RESULTS.md
[ -z "${seeds}" ] || run_words+=(--seeds "${seeds}")
[ "${skip_train}" = false ] || run_words+=(--skip_train true)
./pse.sh \
  --fs 16000 \
  --local_data_opts "--data ${data}" \
  "${data_opts[@]}" \
  --teacher_conf conf/teacher.yaml --teacher_set teacher \
  --mix_conf "${conf_dir}/train_pdfnet2.yaml" \
  --systems "${systems}" \
  --alpha_model light_scaled \
  --baseline pdfnet2 \
  --encoders "pdfnet2=GE2E/- oracle_scaled=GE2E/GE2E oracle_unscaled=GE2E/GE2E light_scaled=GE2E/TinyECAPA light_unscaled=GE2E/TinyECAPA pdccrn=GE2E/- e3net=GE2E/-" \
  --paper_results conf/paper_results.yaml \
  --results_note "${conf_dir}/results_note.md" \
  --run_command "$(printf '%q ' "${run_words[@]}" ${passed_options[@]+"${passed_options[@]}"})" \
  --skip_train "${skip_train}" \
  "${scale_opts[@]}" \
  ${passed_options[@]+"${passed_options[@]}"}
