# shellcheck shell=bash
# The SNR-based teachers-student paper (Hao et al., arXiv:2005.14441) as lists for the enhancement
# task template (egs/TEMPLATE/enh/enh.sh): its mixture sets, its systems and how it is scored.
# Sourced by the run.sh of egs/librispeech/enh, egs/timit/enh and egs/mini_espeak/enh, after they set
# the paper's options below; it takes those options out of "$@" (--name value or --name=value) and
# leaves every other word for enh.sh in the array enh_opts.  It sets:
#
#   mix_sets     teacher_<k> / valid_teacher_<k> at the SNRs of teacher k, student / valid at
#                student_snrs, test_seen / test_unseen at test_snrs
#   systems      teacher_<k> (conf teacher_conf on teacher_<k>); student_s1 (student_conf on student);
#                baseline_<name> for each name of baselines (a registered model, trained on the student
#                set with its config: the matching word of baseline_confs, or when that is empty
#                <conf_dir>/train_<name>.yaml); student_s2 (kd_conf on student, distilled from every
#                teacher, routed by the mixture's SNR: teachers.snr.members and teachers.snr.bounds,
#                the bounds being the lowest SNR of each teacher set after the first); with
#                student_seeds "1 2 ...": S1 and S2 once per seed (the first seed as student_s1 /
#                student_s2, the others as student_s1_seed<s> / student_s2_seed<s>)
#   snr_subsets, extra_tests   with score_teachers=true: teacher k on the test mixtures of its range
#   snr_opts     these and the paper's other template options: the models scored on the whole test
#                sets (S1, S2, the baselines; teachers only on their ranges), comparisons (S2 against S1
#                per seed and, by input SNR, S2 against S1 pooled over the seeds; S2 against each
#                baseline), tables, title
#
# The paper's options (each recipe's run.sh sets its defaults before sourcing this file):
#   teacher_snrs  student_snrs  test_snrs  teacher_mix_per_utt  student_mix_per_utt  valid_mix_per_utt
#   test_mix_per_utt  test_unseen_mix_per_utt  teacher_conf  student_conf  kd_conf  baselines
#   baseline_confs  score_teachers  student_seeds (training seeds of S1 and S2; empty: enh.sh's --seed)
# --baseline NAME and --baseline_conf FILE (one baseline, the form before several were possible) set
# baselines and baseline_confs.

_snr_names=(teacher_snrs student_snrs test_snrs teacher_mix_per_utt student_mix_per_utt valid_mix_per_utt
            test_mix_per_utt test_unseen_mix_per_utt teacher_conf student_conf kd_conf baselines
            baseline_confs score_teachers student_seeds)
enh_opts=()
while [ $# -gt 0 ]; do
  _snr_opt=${1%%=*}
  _snr_name=${_snr_opt#--}
  _snr_name=${_snr_name//-/_}
  case ${_snr_name} in baseline) _snr_name=baselines ;; baseline_conf) _snr_name=baseline_confs ;; esac
  if [[ $1 == --* && " ${_snr_names[*]} " == *" ${_snr_name} "* ]]; then
    if [[ $1 == *=* ]]; then
      printf -v "${_snr_name}" '%s' "${1#*=}"
      shift
    else
      [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
      printf -v "${_snr_name}" '%s' "$2"
      shift 2
    fi
  else
    if [[ $1 == --help || $1 == -h ]]; then
      echo "Options of the SNR-based teachers-student recipe (current value in brackets):"
      for _snr_name in "${_snr_names[@]}"; do printf '  --%-24s [%s]\n' "${_snr_name}" "${!_snr_name}"; done
      echo "  (--baseline NAME --baseline_conf FILE: the same for one baseline)"
      echo "Every other option goes to enh.sh:"
      echo
    fi
    enh_opts+=("$1")
    shift
  fi
done
[ "${score_teachers}" = true ] || [ "${score_teachers}" = false ] ||
  { echo "$0: --score_teachers expects true or false, got '${score_teachers}'" >&2; exit 1; }

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
    "${conf_dir:-conf}/train_<name>.yaml" >&2
  exit 1
fi
for _k in "${!_snr_baselines[@]}"; do
  _b=${_snr_baselines[_k]}
  _snr_models+=" baseline_${_b}"
  systems+="baseline_${_b} ${_snr_baseline_confs[_k]:-${conf_dir:-conf}/train_${_b}.yaml} student valid - model.name=${_b};"
  _snr_compare+=" student_s2:baseline_${_b}"
done
for _s in "${_snr_kd[@]}"; do   # "<name>[ seed=N]"
  systems+="${_s%% *} ${kd_conf} student valid $(IFS=,; echo "${_snr_teachers[*]}")${_s#"${_s%% *}"}"
  systems+=" teachers.snr.members=[$(IFS=,; echo "${_snr_members[*]}")] teachers.snr.bounds=[$(IFS=,; echo "${_snr_bounds[*]}")];"
done

# Teacher k on the test mixtures routed to it (SNR in [bound k-1, bound k)), as the paper's Table 2.
if [ "${score_teachers}" = true ]; then
  for _k in $(seq "${#_snr_groups[@]}"); do
    _low=-inf _high=inf
    [ "${_k}" -gt 1 ] && _low=${_snr_bounds[_k - 2]}
    [ "${_k}" -lt "${#_snr_groups[@]}" ] && _high=${_snr_bounds[_k - 1]}
    for _t in test_seen test_unseen; do
      snr_subsets+="${_t}_teacher_${_k} ${_t} ${_low} ${_high};"
      extra_tests+=" teacher_${_k}:${_t}_teacher_${_k}"
    done
  done
fi

snr_opts=(--mix_sets "${mix_sets}" --systems "${systems}" --snr_subsets "${snr_subsets}"
          --extra_tests "${extra_tests# }" --test_sets "test_seen test_unseen" --models "${_snr_models}"
          --compare "${_snr_compare}" --compare_by_snr "${_snr_s2}:${_snr_s1}"
          --noise_snr_tables "noisy student_s2"
          --results_title "$(basename "$(dirname "$PWD")")/$(basename "$PWD"): SNR-based teachers-student enhancement")
unset _snr_seeds _snr_s1 _snr_s2 _snr_kd _s _suffix _seed_arg
unset _snr_names _snr_opt _snr_name _snr_groups _snr_group _snr_bounds _snr_teachers _snr_members _snr_compare _snr_models \
  _snr_baselines _snr_baseline_confs _b _k _t _low _high
