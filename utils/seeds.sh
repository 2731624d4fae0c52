# shellcheck shell=bash
# Training seeds of a recipe's systems list: source it in run.sh, then
#
#   systems=$(systems_with_seeds "1 2 3" "${systems}")
#
# repeats every entry of a --systems list (<name> <config> <train> <valid> <deps> [overrides...], entries
# separated by newlines or ';') once per seed: the first seed keeps the system's name, seed <k> after it
# is named <name>_seed<k>, and a system it distils from is that system's entry at the same seed (a
# student at seed 2 learns from the teacher trained at seed 2), both in its deps and where an override
# names the system's exp dir ({expdir}/<name>, e.g. teachers.t.members=[{expdir}/teacher]).  Each copy gets the override seed=<k>,
# which the templates' train_system turns into the training's --seed.  The results makers read
# <name>_seed<k> as seed <k> of <name> (kdspeech/report/specs.py:seed_group) and compare systems over
# their seeds (kdspeech.metrics.paired: a verdict needs 3 seeds).  With no seeds, or one, the list is
# returned unchanged (that one seed then comes from the template's --seed).
same_seed_paths() {  # same_seed_paths "<overrides>" <suffix> <system names...>: {expdir}/<name> -> {expdir}/<name><suffix>
  local args=$1 suffix=$2 name
  shift 2
  for name in "$@"; do
    args=$(sed -E "s#\{expdir\}/${name}([],}/ ]|\$)#{expdir}/${name}${suffix}\1#g" <<< "${args}")
  done
  printf '%s' "${args}"
}
systems_with_seeds() {  # systems_with_seeds "<seeds>" "<systems list>"
  local seeds=$1 list=$2
  read -r -a _sw_seeds <<< "${seeds}"
  if [ "${#_sw_seeds[@]}" -le 1 ]; then printf '%s\n' "${list}"; return 0; fi
  local names=() line name conf train valid deps args
  while read -r name _; do [ -z "${name}" ] || names+=("${name}"); done < <(tr ';' '\n' <<< "${list}")
  local k s suffix dep out_deps
  for k in "${!_sw_seeds[@]}"; do
    s=${_sw_seeds[k]}
    suffix=""; [ "${k}" -eq 0 ] || suffix=_seed${s}
    while read -r name conf train valid deps args; do
      [ -n "${name}" ] || continue
      out_deps=${deps}
      if [ "${deps}" != - ] && [ -n "${suffix}" ]; then
        out_deps=""
        for dep in ${deps//,/ }; do
          if [[ " ${names[*]} " == *" ${dep} "* ]]; then dep=${dep}${suffix}; fi
          out_deps+=${out_deps:+,}${dep}
        done
      fi
      [ -z "${suffix}" ] || args=$(same_seed_paths "${args}" "${suffix}" "${names[@]}")
      echo "${name}${suffix} ${conf} ${train} ${valid} ${out_deps} ${args:+${args} }seed=${s}"
    done < <(tr ';' '\n' <<< "${list}")
  done
}

# The model names of a --models list with their seed copies: every name that is a system of the
# (unexpanded) systems list is followed by <name>_seed<k> for each seed after the first; other names
# (noisy, clean, a parameter-free model) stay as they are.
#
#   kd_models=$(models_with_seeds "1 2 3" "teacher student wiener" "${systems}")   # teacher teacher_seed2 ...
models_with_seeds() {  # models_with_seeds "<seeds>" "<names>" "<systems list>"
  local seeds=$1 names=$2 list=$3 name sys out="" s
  read -r -a _mw_seeds <<< "${seeds}"
  local systems=" "
  while read -r sys _; do [ -z "${sys}" ] || systems+="${sys} "; done < <(tr ';' '\n' <<< "${list}")
  for name in ${names}; do
    out+=${out:+ }${name}
    [[ "${systems}" == *" ${name} "* ]] || continue
    for s in "${_mw_seeds[@]:1}"; do out+=" ${name}_seed${s}"; done
  done
  printf '%s\n' "${out}"
}
