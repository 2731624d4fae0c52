#!/usr/bin/env bash
# The SNR-based teachers-student paper (Hao et al., arXiv:2005.14441) as lists for the enhancement
# task template (egs/TEMPLATE/enh/enh.sh): its mixture sets, its systems and how it is scored.  Run by
# the run.sh of egs/librispeech/enh, egs/timit/enh and egs/mini_espeak/enh (local/ links here) with
# their scale's options and the user's; its own options below are the paper's, with the defaults of
# the full-size recipes (one place for the three); every other option goes to ./enh.sh, after these
# lists (so that the command line may still override one).  It makes:
#
#   mix_sets     teacher_<k> / valid_teacher_<k> at the SNRs of teacher k, student / valid at
#                student_snrs, test_seen / test_unseen at test_snrs
#   systems      teacher_<k> (conf teacher_conf on teacher_<k>); student_s1 (student_conf on student);
#                baseline_<name> for each name of baselines (a registered model, trained on the student
#                set with its config: the matching word of baseline_confs, or when that is empty
#                <baseline_conf_dir>/train_<name>.yaml); student_s2 (kd_conf on student, distilled from every
#                teacher, routed by the mixture's SNR: teachers.snr.members and teachers.snr.bounds,
#                the bounds being the lowest SNR of each teacher set after the first); with
#                student_seeds "1 2 ...": S1 and S2 once per seed (the first seed as student_s1 /
#                student_s2, the others as student_s1_seed<s> / student_s2_seed<s>)
#   snr_subsets, extra_tests   with score_teachers=true: teacher k on the test mixtures of its range
#   and the paper's other template options: the models scored on the whole test sets (S1, S2, the
#   baselines; teachers only on their ranges), comparisons (S2 against S1 per seed and, by input SNR,
#   S2 against S1 pooled over the seeds; S2 against each baseline), tables, title
#
#   local/snr_teachers.sh [options of this script and of enh.sh]    (run from the recipe dir)
set -euo pipefail

teacher_snrs="-20,-17,-13,-11 -10,-7,-3,1 0,3,7,9 10,13,17,20"  # SNR set of each teacher, space-separated
student_snrs="-20,-10,0,10,20"   # SNR set of the student (and validation) data
test_snrs="-20,-15,-10,-5,0,5,10,15,20"  # SNRs of the test sets
teacher_mix_per_utt=4    # mixtures per clean utterance in each teacher set
student_mix_per_utt=5    # mixtures per clean utterance in the student set
valid_mix_per_utt=1      # mixtures per clean utterance in validation sets
test_mix_per_utt=9       # mixtures per clean test utterance (cycling through test_snrs)
test_unseen_mix_per_utt=""  # the same for the unseen-noise test set (empty: test_mix_per_utt)
teacher_conf=conf/train_teacher.yaml     # teacher training config
student_conf=conf/train_student.yaml     # student S1 config (no teachers)
kd_conf=conf/train_student_kd.yaml       # student S2 config (its teacher set 'snr' is filled in)
baselines=""                             # registered models trained on the student set as baselines, e.g. "crn psm_blstm"; empty: none
baseline_confs=""                        # their configs, one per name (empty: <baseline_conf_dir>/train_<name>.yaml)
baseline=""                              # one baseline, the form before several were possible (= --baselines NAME)
baseline_conf=""                         # its config (= --baseline_confs FILE)
baseline_conf_dir=conf                   # where the config of a baseline without one is (train_<name>.yaml)
score_teachers=true         # also score each teacher on the test mixtures of its SNR range
student_seeds=""            # training seeds of S1 and S2, e.g. "1 2" (S2 against S1 by SNR pooled over them); empty: enh.sh's --seed
test_sets="test_seen test_unseen"   # the test sets: the paper's two mixture sets, and data-dir paths of your own (see enh.sh)

help_message="Usage: $0 [options]   (the SNR-based teachers-student lists for enh.sh; every other option goes to enh.sh)"
pass_options_to=./enh.sh
. utils/parse_options.sh
[ -z "${baseline}" ] || baselines=${baseline}
[ -z "${baseline_conf}" ] || baseline_confs=${baseline_conf}

read -r -a _snr_groups <<< "${teacher_snrs}"
# Routing bounds between consecutive teachers: the lowest SNR of each teacher set after the first,
# so a mixture goes to the teacher whose range starts at or below its SNR.
_snr_bounds=()
for _snr_group in "${_snr_groups[@]:1}"; do
  _snr_bounds+=("$(tr ',' '\n' <<< "${_snr_group}" | sort -g | head -n 1)")
done

mix_sets="" systems="" snr_subsets="" extra_tests=""
_snr_teachers=() _snr_members=()
for _k in $(seq "${#_snr_groups[@]}"); do
  _snr_group=${_snr_groups[_k - 1]}
  mix_sets+="teacher_${_k} clean_train noise_train ${_snr_group} ${teacher_mix_per_utt};"
  mix_sets+="valid_teacher_${_k} clean_valid noise_train ${_snr_group} ${valid_mix_per_utt};"
  systems+="teacher_${_k} ${teacher_conf} teacher_${_k} valid_teacher_${_k} -;"
  _snr_teachers+=("teacher_${_k}")
  _snr_members+=("{expdir}/teacher_${_k}")
done
mix_sets+="student clean_train noise_train ${student_snrs} ${student_mix_per_utt};"
mix_sets+="valid clean_valid noise_train ${student_snrs} ${valid_mix_per_utt};"
mix_sets+="test_seen clean_test noise_train ${test_snrs} ${test_mix_per_utt};"
mix_sets+="test_unseen clean_test noise_test ${test_snrs} ${test_unseen_mix_per_utt:-${test_mix_per_utt}}"

# S1 and S2 per training seed: the first as student_s1 / student_s2, the others with a _seed<s> suffix.
read -r -a _snr_seeds <<< "${student_seeds:-}"
[ "${#_snr_seeds[@]}" -gt 0 ] || _snr_seeds=("")
_snr_compare="" _snr_models="" _snr_s1="" _snr_s2="" _snr_kd=()
for _k in "${!_snr_seeds[@]}"; do
  _s=${_snr_seeds[_k]}
  [[ -z ${_s} || ${_s} =~ ^[0-9]+$ ]] || { echo "$0: --student_seeds expects numbers, got '${_s}'" >&2; exit 1; }
  _suffix="" _seed_arg=""
  [ -z "${_s}" ] || _seed_arg=" seed=${_s}"
  [ "${_k}" -eq 0 ] || _suffix=_seed${_s}
  systems+="student_s1${_suffix} ${student_conf} student valid -${_seed_arg};"
  _snr_kd+=("student_s2${_suffix}${_seed_arg}")
  _snr_compare+=" student_s2${_suffix}:student_s1${_suffix}"
  _snr_models+=" student_s1${_suffix} student_s2${_suffix}"
  _snr_s1+=${_snr_s1:++}student_s1${_suffix}
  _snr_s2+=${_snr_s2:++}student_s2${_suffix}
done
_snr_compare=${_snr_compare# } _snr_models=${_snr_models# }
read -r -a _snr_baselines <<< "${baselines}"
read -r -a _snr_baseline_confs <<< "${baseline_confs}"
if [ "${#_snr_baseline_confs[@]}" -gt 0 ] && [ "${#_snr_baseline_confs[@]}" -ne "${#_snr_baselines[@]}" ]; then
  echo "$0: --baselines names ${#_snr_baselines[@]} models (${baselines}) but --baseline_confs gives" \
    "${#_snr_baseline_confs[@]} configs (${baseline_confs}): give one per baseline, or none for" \
    "${baseline_conf_dir}/train_<name>.yaml" >&2
  exit 1
fi
for _k in "${!_snr_baselines[@]}"; do
  _b=${_snr_baselines[_k]}
  _snr_models+=" baseline_${_b}"
  systems+="baseline_${_b} ${_snr_baseline_confs[_k]:-${baseline_conf_dir}/train_${_b}.yaml} student valid - model.name=${_b};"
  _snr_compare+=" student_s2:baseline_${_b}"
done
for _s in "${_snr_kd[@]}"; do   # "<name>[ seed=N]"
  systems+="${_s%% *} ${kd_conf} student valid $(IFS=,; echo "${_snr_teachers[*]}")${_s#"${_s%% *}"}"
  systems+=" teachers.snr.members=[$(IFS=,; echo "${_snr_members[*]}")] teachers.snr.bounds=[$(IFS=,; echo "${_snr_bounds[*]}")];"
done

# Teacher k on the test mixtures routed to it (SNR in [bound k-1, bound k)), as the paper's Table 2: on
# the paper's test sets among --test_sets, and on each of your own that has input SNRs (utt2snr); a set
# without them has no range to route by (its RESULTS.md section "Test sets" says so).
_own_tests=()
for _t in ${test_sets}; do
  if [[ ${_t} == test_seen || ${_t} == test_unseen || ( ${_t} == */* && -f ${_t}/utt2snr ) ]]; then _own_tests+=("${_t}"); fi
done
if [ "${score_teachers}" = true ]; then
  for _k in $(seq "${#_snr_groups[@]}"); do
    _low=-inf _high=inf
    [ "${_k}" -gt 1 ] && _low=${_snr_bounds[_k - 2]}
    [ "${_k}" -lt "${#_snr_groups[@]}" ] && _high=${_snr_bounds[_k - 1]}
    for _t in ${_own_tests[@]+"${_own_tests[@]}"}; do
      _tn=$(basename "${_t}")
      snr_subsets+="${_tn}_teacher_${_k} ${_t} ${_low} ${_high};"
      extra_tests+=" teacher_${_k}:${_tn}_teacher_${_k}"
    done
  done
fi

exec ./enh.sh --mix_sets "${mix_sets}" --systems "${systems}" --snr_subsets "${snr_subsets}" \
  --extra_tests "${extra_tests# }" --test_sets "${test_sets}" --models "${_snr_models}" \
  --compare "${_snr_compare}" --compare_by_snr "${_snr_s2}:${_snr_s1}" \
  --noise_snr_tables "noisy student_s2" \
  --results_title "$(basename "$(dirname "$PWD")")/$(basename "$PWD"): SNR-based teachers-student enhancement" \
  ${passed_options[@]+"${passed_options[@]}"}
