# shellcheck shell=bash
# The ASR training approaches of the Charishma paper (Tables 1 and 3) as lists for
# egs/TEMPLATE/enh_asr/enh_asr.sh (definitions in kdspeech/models/se_asr.py, configs in
# egs/TEMPLATE/asr/conf[/cpu]).  Sourced by run.sh (step 8) after local/kd_asr.sh, with asr_data,
# asr_conf_dir, asr_train_args, the SNRs, seeds and metrics (the quality metrics, for Tables 5 and 6) set
# (asr_paper_table: the paper's numbers whose orderings stage 6 checks, default local/paper_table1.tsv
# beside this file); sets asr_mix_sets (enh.sh's --mix_sets of the
# ASR sets, empty when they are the enhancement mixtures) and asr_opts (the options of enh_asr.sh).
#
#   asr_data=speech_commands  (CPU scale) Speech Commands words, speaker-disjoint
#                             (local/prepare_speech_commands.py), mixed with the training noises at
#                             train_snrs (train, valid) and with the unseen test noises at test_snrs
#                             (asr_test): a word recogniser is what CPU training can learn
#   asr_data=mixtures         (paper scale) the enhancement recipe's own train / valid / test mixtures,
#                             whose clean speech has transcripts (LibriSpeech's *.trans.txt)
#   asr_data=given            the caller's asr_train, asr_valid and asr_tests (data dirs with text;
#                             spk1.scp for MCT-all and Joint-ASO), e.g. egs/chime4/asr_enh: tr05_simu,
#                             dt05_simu, and the simulated and real dt05/et05 sets
#
# Front ends are the enhancement systems this recipe already trains (enh.sh): student_lr (DCCRN on
# SI-SNR alone: the "separately trained" front end of + standardize-SR, MCT-all's enhanced third and
# Joint-ASO's first step [25]) and student_le_ld (the KD-trained student: the proposed front end).
# Rows, at each seed (the row, recogniser and front ends of seed k > first: <name>_seed<k>):
#   mct_noisy       -> mct_noisy        Conformer-CTC trained on the noisy mixtures
#   standardize_sr  student_lr -> mct_noisy   the SI-SNR front end before the MCT-noisy recogniser
#   mct_all         -> mct_all          trained on noisy + student_lr-enhanced + clean speech
#   joint_straight  -> joint_straight   DCCRN + Conformer-CTC from scratch, CTC alone [22]
#   joint_aso       -> joint_aso        from student_lr, CTC + 0.1 x (-SI-SNR) [23]/[25]
#   joint_grad      -> joint_grad       joint_aso with the gradient remedy of Hu et al. [24]
#   proposed        -> proposed         the frozen KD student (student_le_ld) + Conformer-CTC behind it

case ${asr_data} in
  speech_commands)
    asr_train=asr_train asr_valid=asr_valid asr_tests=asr_test
    asr_mix_sets="asr_train clean_asr_train noise_train ${train_snrs} ${asr_train_mix_per_utt};"
    asr_mix_sets+="asr_valid clean_asr_valid noise_train ${train_snrs} 1;"
    asr_mix_sets+="asr_test clean_asr_test noise_test ${test_snrs} 1" ;;
  mixtures)
    asr_train=train asr_valid=valid asr_tests=test asr_mix_sets="" ;;
  given)
    asr_mix_sets="" ;;
  *) echo "local/asr_approaches.sh: --asr_data must be speech_commands, mixtures or given, got '${asr_data}'" >&2
     return 1 ;;
esac

_recognisers="" _mct="" _rows="" _rec_names=""
read -r -a _asr_seeds <<< "${seeds:-1}"
for _k in "${!_asr_seeds[@]}"; do
  _s=${_asr_seeds[_k]} _x=""
  [ "${_k}" -eq 0 ] || _x=_seed${_s}
  _a="seed=${_s} ${asr_train_args}"
  _recognisers+="mct_noisy${_x} ${asr_conf_dir}/train_asr_conformer_ctc.yaml ${asr_train} ${asr_valid} - ${_a};"
  _recognisers+="mct_all${_x} ${asr_conf_dir}/train_asr_conformer_ctc.yaml dump/asr/mct_all${_x} ${asr_valid} - ${_a};"
  _recognisers+="joint_straight${_x} ${asr_conf_dir}/train_asr_joint_straight.yaml ${asr_train} ${asr_valid} - ${_a};"
  for _j in aso grad; do
    _recognisers+="joint_${_j}${_x} ${asr_conf_dir}/train_asr_joint_${_j}.yaml ${asr_train} ${asr_valid} student_lr${_x} ${_a} model.conf.frontend_init={expdir}/student_lr${_x};"
  done
  _recognisers+="proposed${_x} ${asr_conf_dir}/train_asr_proposed.yaml ${asr_train} ${asr_valid} student_le_ld${_x} ${_a} model.conf.frontend_init={expdir}/student_le_ld${_x};"
  _mct+="mct_all${_x} ${asr_train} student_lr${_x};"
  _rows+="mct_noisy${_x} - mct_noisy${_x}; standardize_sr${_x} student_lr${_x} mct_noisy${_x};"
  for _r in mct_all joint_straight joint_aso joint_grad proposed; do _rows+="${_r}${_x} - ${_r}${_x};"; done
done
asr_row_names="mct_noisy standardize_sr mct_all joint_straight joint_aso joint_grad proposed"
asr_opts=(--recognisers "${_recognisers}" --mct_sets "${_mct}" --rows "${_rows}" --test_sets "${asr_tests}"
          --token_sets "${asr_train} ${asr_valid}" --table_rows "${asr_row_names}" --table_seeds "${seeds:-}"
          --baseline_row mct_noisy --quality_metrics "${metrics}" --loss_curves "joint_straight joint_aso joint_grad proposed"
          --loss_curves_right proposed --table_recognisers "mct_noisy mct_all joint_straight joint_aso joint_grad proposed"
          --paper_table "${asr_paper_table:-$(dirname "${BASH_SOURCE[0]}")/paper_table1.tsv}")
unset _recognisers _mct _rows _rec_names _asr_seeds _k _s _x _a _j _r
