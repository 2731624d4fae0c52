# shellcheck shell=bash
# Helpers shared by the task templates (egs/TEMPLATE/*/*.sh), one definition each.  Source after
# utils/stage.sh.  The bodies of the functions a stage calls are part of its fingerprint
# (utils/stage.sh), so they name the options they read (${nj}, ${fs}, ...) rather than having them
# expanded into the command, and a stage that calls one gives those options as --param.
#
#   entries LIST        the entries of a list option (--systems, --mix_sets...), one a line:
#                       separated by ';' or newlines, blanks around them and empty ones dropped
#   set_dir SET         the data dir of a set named in the lists: SET itself when it holds a '/'
#                       (a path), else ${set_root}/SET (the template sets set_root: dump/mix for
#                       enh.sh's mixture sets, dump/raw for spk.sh and pse.sh)
#   set_name DIR        the name of a set (its last path component)
#   resample_dir SRC DST
#                       SRC resampled to ${fs} Hz into DST, ${nj} jobs (utils/resample.sh; a file at
#                       another rate than the rest: a warning, or an error with ${strict_rate} true)
#   train_system CONF TRAIN VALID EXP [seed=N] [key.path=value ...]
#                       one training (utils/train.sh) on ${ngpu} GPUs of ${num_nodes} nodes, seeded
#                       by ${seed} or by the word seed=N (another seed of a system, utils/seeds.sh),
#                       with the overrides ${train_args} and then the given ones
#   model_dep MODEL     the stage_run words of a stage that reads model MODEL (${expdir}/MODEL):
#                       "--deps ${expdir}/MODEL" when it is trained here (a stamp, or a system to
#                       train in this run: ${sys_conf[MODEL]} with ${skip_train} false), else, for a
#                       model made elsewhere (--skip_train, or a model of --models that no system
#                       trains), "--param model_MODEL=<sha256 of its best.pth>": one word, so that
#                       the stage re-runs when that file's content changes, and only then

entries() { tr ';' '\n' <<< "$1" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | grep -v '^$' || true; }

set_dir() { if [[ $1 == */* ]]; then echo "$1"; else echo "${set_root:?the template sets set_root}/$1"; fi; }

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

model_dep() {  # model_dep <model>: the --deps/--param word pair of a stage that reads it
  local m=$1 file
  if [ -f "${expdir}/${m}/.done" ] || { [ "${skip_train}" = false ] && [ -n "${sys_conf[${m}]+set}" ]; }; then
    echo "--deps ${expdir}/${m}"
    return 0
  fi
  file=${expdir}/${m}/best.pth
  if [ ! -f "${file}" ]; then
    log "ERROR: model ${m}: ${file} not found (train it in this run, or leave it out of the models to score)"
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
