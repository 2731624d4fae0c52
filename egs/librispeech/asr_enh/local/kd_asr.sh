# shellcheck shell=bash
# KD-trained speech enhancement for noise-robust ASR (Charishma, draft; ../../../../shared/papers/
# charishma_kd_se_for_asr.txt) as lists for egs/TEMPLATE/enh/enh.sh.  Sourced by run.sh after it sets
# conf_dir, the SNRs, the mixture counts and seeds; sets kd_opts (options of enh.sh), kd_models (with
# every seed's copy), kd_names and kd_base_systems (without them) and kd_untrained.
#
#   mix_sets   train / valid: LibriSpeech x training noises at train_snrs; test: transcribed speech
#              (AN4 test, SpeechBrain sentences, LJ Speech clips) x unseen noise types at test_snrs
#   systems    conformer_teacher (L_r); student_lr (DCCRN, L_r only); student_le, student_ld,
#              student_le_ld (distilled from conformer_teacher: the paper's ablation); student_df
#              (distilled from DeepFilterNet3 through its cached outputs, {expdir}/df_cache/*.npz)
#   models     the systems, the parameter-free Wiener filter (exp/wiener) and DeepFilterNet3 itself
#              (exp/deepfilternet3/model.zip, a packed pretrained network), both made by run.sh

mix_sets="train clean_train noise_train ${train_snrs} ${train_mix_per_utt};"
mix_sets+="valid clean_valid noise_train ${train_snrs} ${valid_mix_per_utt};"
mix_sets+="test clean_test noise_test ${test_snrs} ${test_mix_per_utt}"

_teacher="teachers.conformer.members=[{expdir}/conformer_teacher]"
systems="conformer_teacher ${conf_dir}/teacher.yaml train valid -;"
systems+="student_lr ${conf_dir}/student_lr.yaml train valid -;"
for _v in le ld le_ld; do
  systems+="student_${_v} ${conf_dir}/student_${_v}.yaml train valid conformer_teacher ${_teacher};"
done
systems+="student_df ${conf_dir}/student_df.yaml train valid - teachers.df.precomputed=[{expdir}/df_cache/train.npz,{expdir}/df_cache/valid.npz]"

# --seeds (run.sh): every system once per training seed (utils/seeds.sh: <name>_seed<k> after the first,
# each student distilled from its own seed's teacher); kd_names keeps the names without the copies.
# kd_untrained: the models run.sh makes without training (exp/wiener/best.pth; DeepFilterNet3 packed as
# exp/deepfilternet3/model.zip, kdspeech.packing.pretrained), one copy whatever the seeds.
kd_names="conformer_teacher student_lr student_le student_ld student_le_ld student_df"
kd_untrained="wiener deepfilternet3"
kd_base_systems=${systems}
. utils/seeds.sh
systems=$(systems_with_seeds "${seeds:-}" "${systems}")
kd_models="$(models_with_seeds "${seeds:-}" "${kd_names}" "${kd_base_systems}") ${kd_untrained}"
kd_opts=(--mix_sets "${mix_sets}" --systems "${systems}" --test_sets test --models "${kd_models}"
         --compare "student_le_ld:student_lr student_le:student_lr student_ld:student_lr student_df:student_lr student_lr:wiener student_df:deepfilternet3"
         --noise_snr_tables "student_lr student_le_ld"
         --results_title "librispeech/asr_enh: KD-trained speech enhancement for noise-robust ASR")
unset _teacher _v
