# shellcheck shell=bash
# Helpers shared by the task templates (egs/TEMPLATE/*/*.sh), one definition each.  Source after
# utils/stage.sh.  The bodies of the functions a stage calls are part of its fingerprint
# (utils/stage.sh), so they name the options they read (${nj}, ${fs}, ...) rather than having them
# expanded into the command, and a stage that calls one gives those options as --param.
#
#   entries LIST        the entries of a list option (--systems, --mix_sets...), one a line:
#                       separated by ';' or newlines, blanks around them and empty ones dropped
#   set_dir SET         the data dir of a set named in the lists: SET itself when it holds a '/'
#                       (a path; an external test set's import dir, below), else ${set_root}/SET (the
#                       template sets set_root: dump/mix for enh.sh's mixture sets, dump/raw for
#                       spk.sh and pse.sh)
#   set_name DIR        the name of a set (its last path component)
#   resample_dir SRC DST
#                       SRC resampled to ${fs} Hz into DST, ${nj} jobs (utils/resample.sh; a file at
#                       another rate than the rest: a warning, or an error with ${strict_rate} true)
#   train_system CONF TRAIN VALID EXP [seed=N] [key.path=value ...]
#                       one training (utils/train.sh) on ${ngpu} GPUs of ${num_nodes} nodes, seeded
#                       by ${seed} or by the word seed=N (another seed of a system, utils/seeds.sh),
#                       with the overrides ${train_args} and then the given ones
#   selected_systems MODELS
#                       the systems of ${sys_names[@]} (in list order) that --models MODELS needs:
#                       each model that is a system, and the systems it distils from (${sys_deps},
#                       transitively); --models selects the systems of every stage, training included
#   model_dep MODEL     the stage_run words of a stage that reads model MODEL (${expdir}/MODEL):
#                       "--deps ${expdir}/MODEL" when it is trained here (a stamp, or a system to
#                       train in this run: ${sys_conf[MODEL]} with ${skip_train} false), else, for a
#                       model made elsewhere (--skip_train, or a model of --models that no system
#                       trains), "--param model_MODEL=<sha256 of its best.pth>": one word, so that
#                       the stage re-runs when that file's content changes, and only then; a packed
#                       model (kdspeech pack) put there as ${expdir}/MODEL/model.zip counts as its
#                       best.pth (every stage that loads a model loads a packed one)
#
# Test sets of your own (every template's --test_sets, pse.sh's --blind_sets): a set is a name (a set the
# recipe makes) or a data-dir path.  A path that no stage of this run makes and that holds no stamp
# (.done) is external: your recordings (wav.scp; optionally spk1.scp, the clean reference in ESPnet's
# naming, text, utt2spk, utt2snr, utt2enroll, trials, utt2label).
#
#   external_sets N IMPORT [STAGE_RUN WORDS...] -- SETS...
#                       call once the stages that make sets are declared (their stage_run calls, in
#                       range or not): each external set of SETS is checked now (a data dir; its name,
#                       the folder's, used by no other set), and stage N imports it into
#                       ${dumpdir}/test/<name> by the function IMPORT <set> <import dir> (import_set:
#                       every audio file read, every problem in one error, then resampled to ${fs}
#                       Hz), with the set and every file it lists in the stage's fingerprint
#                       (stage_run --inputs_listed) and the given stage_run words (--deps, --param of
#                       what IMPORT reads); set_dir then gives the import dir.  Stage N being the
#                       first stage that reads test sets, `--stage N --test_sets "<dir>"` works on a
#                       finished recipe.  Sets the array ext_sets (the external sets, as given).
#   is_external_set SET whether SET is one (a path no stage of this run makes, without a stamp)
#   set_source SET      the set's own dir (an external set: the path given; else set_dir)
#   set_has SET FILE    whether the set has FILE (wav.scp, spk1.scp, utt2snr, text...): looked up in
#                       set_source when it exists; a set no stage has made yet is a set of the recipe
#                       itself, which has what the recipe needs (true)
#   import_set SRC DST  SRC checked (kdspeech.bin.validate_data_dir --audio --any_rate: unreadable or
#                       empty files, references of another length than their input, all in one error
#                       naming each file and what to do) and resampled to ${fs} Hz into DST

entries() { tr ';' '\n' <<< "$1" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | grep -v '^$' || true; }

set_dir() {
  if [ -n "${_ext_import[$1]+set}" ]; then echo "${_ext_import[$1]}"
  elif [[ $1 == */* ]]; then echo "$1"
  else echo "${set_root:?the template sets set_root}/$1"; fi
}

set_name() { basename "$1"; }

resample_dir() {  # resample_dir <src> <dst>
  utils/resample.sh --nj "${nj}" --strict_rate "${strict_rate}" "$1" "$2" "${fs}"
}

train_system() {  # train_system <config> <train dir> <valid dir> <exp dir> [seed=N] [key.path=value ...]
  local train_seed=${seed} word overrides=()
  for word in "${@:5}"; do
    case ${word} in seed=*) train_seed=${word#seed=} ;; *) overrides+=("${word}") ;; esac
  done
  # shellcheck disable=SC2086  # train_args are words
  utils/train.sh --ngpu "${ngpu}" --num_nodes "${num_nodes}" --seed "${train_seed}" "$1" "$2" "$3" "$4" ${train_args} \
    ${overrides[@]+"${overrides[@]}"}
}

selected_systems() {  # selected_systems <models>: the systems to train for them, in list order
  local -A wanted=()
  local -a todo=()
  local name dep
  for name in $1; do [ -z "${sys_conf[${name}]+set}" ] || todo+=("${name}"); done
  while [ "${#todo[@]}" -gt 0 ]; do
    name=${todo[0]} todo=("${todo[@]:1}")
    [ -z "${wanted[${name}]+set}" ] || continue
    wanted[${name}]=1
    for dep in ${sys_deps[${name}]:-}; do [ -z "${sys_conf[${dep}]+set}" ] || todo+=("${dep}"); done
  done
  for name in ${sys_names[@]+"${sys_names[@]}"}; do [ -z "${wanted[${name}]+set}" ] || echo "${name}"; done
}

model_dep() {  # model_dep <model>: the --deps/--param word pair of a stage that reads it
  local m=$1 file
  if [ -f "${expdir}/${m}/.done" ] || { [ "${skip_train}" = false ] && [ -n "${sys_conf[${m}]+set}" ]; }; then
    echo "--deps ${expdir}/${m}"
    return 0
  fi
  file=${expdir}/${m}/best.pth
  [ -f "${file}" ] || [ ! -f "${expdir}/${m}/model.zip" ] || file=${expdir}/${m}/model.zip   # a packed model
  if [ ! -f "${file}" ]; then
    log "ERROR: model ${m}: ${file} not found (train it in this run, put a packed model there as" \
      "${expdir}/${m}/model.zip, or leave it out of the models to score)"
    return 1
  fi
  echo "--param model_${m}=$(sha256sum < "${file}" | cut -d' ' -f1)"
}

compare_with_committed() {  # compare_with_committed <stage>: every template's last stage
  # This run's results (${expdir}/results, laid out as the committed ones) against the committed
  # ${results}, the reference, which only --update_results true rewrites (kdspeech.bin.compare_results).
  local n=$1 ours=${expdir}/results update_opts=()
  [ "${update_results}" = false ] || update_opts=(--update "${ours}")
  stage_run "${n}" "compare with the committed ${results}" --out "${expdir}/compare" --deps "${ours}/${results_dir}" \
    --inputs "${results}" --param "update_results=${update_results}" --log "${expdir}/compare/log/compare.log" -- \
    python -m kdspeech.bin.compare_results --ours "${ours}/${results}" --reference "${results}" \
      --out "${expdir}/compare/compare.md" ${update_opts[@]+"${update_opts[@]}"}
}

# ---------------------------------------------------------------------------------------------------
# Test sets of your own (see the header).
declare -gA _ext_import=()   # external set (the path given) -> its import dir
ext_sets=()

is_external_set() {  # is_external_set <set>: a path that no stage of this run makes, without a stamp
  [[ $1 == */* ]] || return 1
  [ -z "${_KD_PRODUCER[$(_kd_key "$1")]+set}" ] || return 1   # made by a stage of this run
  [ ! -f "$1/.done" ] || return 1                              # made by a stage of a recipe
}

set_source() { if [ -n "${_ext_import[$1]+set}" ]; then echo "$1"; else set_dir "$1"; fi; }

set_has() {  # set_has <set> <file>
  local dir
  dir=$(set_source "$1")
  if [ -d "${dir}" ]; then [ -f "${dir}/$2" ]; else return 0; fi
}

import_set() {  # import_set <src data dir> <dst data dir>
  python -m kdspeech.bin.validate_data_dir "$1" --audio --any_rate
  utils/resample.sh --nj "${nj}" --strict_rate "${strict_rate:-false}" "$1" "$2" "${fs}"
}

external_sets() {  # external_sets <stage> <import function> [stage_run words...] -- <set>...
  local n=$1 import=$2 t name dir
  local -A seen=()
  local -a words=()
  shift 2
  while [ $# -gt 0 ] && [ "$1" != -- ]; do words+=("$1"); shift; done
  [ $# -gt 0 ] && shift   # --
  for t in "$@"; do
    name=$(set_name "${t}")
    if [ -n "${seen[${name}]+set}" ] && [ "${seen[${name}]}" != "${t}" ]; then
      log "ERROR: test sets '${seen[${name}]}' and '${t}' have one name (${name}): their outputs" \
        "(exp/<model>/*_${name}) would clash; give one of them another folder name"
      exit 1
    fi
    seen[${name}]=${t}
    is_external_set "${t}" || continue
    [ -z "${_ext_import[${t}]+set}" ] || continue
    if [ ! -f "${t}/wav.scp" ]; then
      # Out of the stages run, a set not there yet may be another script's (pse.sh's synthetic set):
      # a later stage that reads it says which stage makes it.
      ((n >= stage && n <= stop_stage)) || continue
      log "ERROR: test set ${t}: $([ -d "${t}" ] && echo "no wav.scp in it" || echo "no such folder"):" \
        "a test set of yours is a data dir (make one from a folder of recordings with" \
        "python -m kdspeech.bin.data_dir_from --audio <folder> --out ${t}); a set a stage makes is" \
        "there once that stage has run"
      exit 1
    fi
    dir=${dumpdir}/test/${name}
    _ext_import[${t}]=${dir}
    ext_sets+=("${t}")
    stage_run "${n}" "test set ${t}: check it, import it" --out "${dir}" --inputs_listed "${t}" \
      ${words[@]+"${words[@]}"} -- "${import}" "${t}" "${dir}"
  done
}
