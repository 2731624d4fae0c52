#!/usr/bin/env bash
# Personalized speech enhancement on your own corpus (made by egs/TEMPLATE/pse/setup.sh):
# pDeepFilterNet2 told the target speaker by the enrolment embedding of the reference encoder (the GE2E
# encoder of resemblyzer, conf/cpu/teacher.yaml), its oracle similarity refinement and pDCCRN (the
# systems below), trained on mixtures made on the fly from your speech, noises and rooms, scored on a
# synthetic test set of unseen speakers (PESQ, STOI, SI-SDR, DNSMOS, personalized DNSMOS); stages in
# pse.sh (egs/TEMPLATE/pse/pse.sh), corpus folders in db.sh, data dirs by local/data.sh.
#   ./run.sh                              the smallest scale (conf/cpu/scale.sh)
#   ./run.sh --conf_dir conf/big          a scale of yours: copy conf/cpu to conf/big, enlarge it
#   ./run.sh --stage 3 --skip_train true --blind_sets data/mine   your recordings: a data dir with
#       utt2enroll (python -m kdspeech.bin.data_dir_from --audio mine/noisy --enrol mine/enrol --out data/mine)
#   ./run.sh --help                       this script's options, then pse.sh's
set -euo pipefail

conf_dir=conf/cpu      # configs of one scale: <conf_dir>/scale.sh and the configs of the systems

help_message="Usage: $0 [options]   (<conf_dir>/scale.sh's options come before the command line's)"
pass_options_to=./pse.sh   # every other option
. utils/parse_options.sh

# The systems: <name> <config> <train set> <valid set> <systems it needs, or -> [overrides]
systems="
pdfnet2       ${conf_dir}/train_pdfnet2.yaml train valid -
oracle_scaled ${conf_dir}/train_oracle.yaml  train valid -
pdccrn        ${conf_dir}/train_pdccrn.yaml  train valid -
"
# shellcheck disable=SC1091
. "${conf_dir}/scale.sh"   # sets scale_opts
./pse.sh --fs 16000 \
  --corpus_dirs "train_clean test_clean noise noise_test rir" \
  --test_sources test_clean --test_noises noise_test \
  --teacher_conf "${conf_dir}/teacher.yaml" --teacher_set teacher --mix_conf "${conf_dir}/train_pdfnet2.yaml" \
  --systems "${systems}" --baseline pdfnet2 \
  --encoders "pdfnet2=GE2E/- oracle_scaled=GE2E/GE2E pdccrn=GE2E/-" \
  --run_command "$(printf '%q ' "$0" ${passed_options[@]+"${passed_options[@]}"})" \
  "${scale_opts[@]}" ${passed_options[@]+"${passed_options[@]}"}
