#!/usr/bin/env bash
# Speaker-embedding task template: the stages shared by every speaker recipe (distillation of a speaker
# encoder from a frozen teacher, scored on verification trials).  A recipe's run.sh calls this script
# (symlinked as ./spk.sh); every variable below is an option (--name value), `./spk.sh --help` lists them.
#
#  1 data preparation   local/data.sh -> data/<corpus dirs> (wav.scp, utt2spk; test sets with `trials`)
#  2 resample           every corpus dir to ${fs} Hz -> dump/raw/<dir> (trials copied)
#  3 train teachers     (optional) the --teacher_systems, e.g. a reduced ECAPA-TDNN with AAM-softmax,
#                       for users without a teacher checkpoint; each in exp/<name>
#  4 teacher cache      the teacher set --teacher_set of --teacher_conf run once over each
#                       --cache_sets data set -> exp/teacher_cache/<set>/outputs.npz (the configs read
#                       it as `precomputed:`; their data.view2 must be `fixed`, so the teacher's crop of
#                       an utterance is the same in every epoch)
#  5 train              the --systems, in list order, each in exp/<name>
#  6 embed              whole utterances of the --test_sets and the --tsne_set with the teacher
#                       (exp/<teacher_name>/emb_<set>) and every model (exp/<model>/emb_<set>)
#                       (and with each --chunk_sweep length for the --chunk_models: emb_<set>_T<c>)
#  7 score              cosine trial scores and EER/MinDCF for each protocol of --protocols
#                       (asym: teacher enrols, student verifies; ss: student-student) and the teacher's
#                       tt (teacher-teacher) -> exp/<model>/trials_<set>/<protocol>/{scores,summary.json}
#  8 t-SNE              (--tsne_set) teacher and student embeddings of --tsne_speakers unseen speakers
#                       -> exp/results/<results_dir>/tsne_<set>/<model>/tsne.png
#  9 deployment         (--deploy true) parameters, MACs, CPU real-time factor, ONNX check -> exp/deploy;
#                       (--deploy_streaming true) the streaming latency table of the chunked models
# 10 results            this run's RESULTS.md: every row, paired comparisons (--compare), the paper's
#                       numbers -> exp/results/RESULTS.md (laid out as the committed --results and
#                       --results_dir, which a run never touches)
# 11 compare            this run's results against the committed RESULTS.md, table by table and cell by
#                       cell, within the run-to-run spread it states -> exp/compare/compare.md (summary
#                       printed); --update_results true then copies this run's results over the committed
#                       ones (for maintainers)
#
# Lists: --systems and --teacher_systems take entries separated by ';' or newlines, fields by blanks:
# "<name> <config> <train set> <valid set> <deps> [key.path=value ...]", deps being the systems (or
# teacher systems) it needs first, comma-separated, `cache` for the teacher caches of stage 4, or `-`.
# A data set is a dir of stage 2 (dump/raw/<name>), or a data dir path when it contains a '/'.
# In overrides, {expdir} stands for --expdir.
#
# Test sets of your own: --test_sets (and --tsne_set) take data-dir paths beside stage-2 names, e.g.
# --test_sets "test /data/mine/meeting" (utils/template_lib.sh: external_sets): wav.scp, utt2spk and a
# `trials` list (<enrol utt> <test utt> target|nontarget; python -m kdspeech.bin.make_trials makes one
# from utt2spk); checked and resampled at stage 6, then embedded and scored as the recipe's own sets
# and shown beside them in RESULTS.md.  --models selects the systems of every stage: only they and
# the systems they need (and the teacher systems, which embed every test set) are trained.
set -euo pipefail

stage=1                # first stage to run
stop_stage=100         # last stage to run
rerun_changed_code=false   # re-run the stages whose library code (kdspeech modules, utils/ scripts) changed since they ran (false: a warning names them)
nj=2                   # parallel jobs of the resampling stage
ngpu=0                 # GPUs per training (0: CPU)
num_nodes=1            # nodes per training
seed=1                 # seed of model initialisation, shuffling and crops (the teacher's fixed crops depend on the utterance alone)
fs=16000               # sample rate of everything after stage 2
strict_rate=false      # stage 2: a corpus file at another sample rate than the rest is an error (false: a warning naming it)
datadir=data           # corpus data dirs (stage 1)
dumpdir=dump           # resampled audio
expdir=exp             # models, teacher caches, embeddings, scores
local_data_opts=""     # options passed to local/data.sh
corpus_dirs="train valid test"   # data dirs local/data.sh writes
teacher_systems=""     # stage 3 entries (see above); empty: the teacher is given by --teacher_conf
teacher_conf=""        # a training config holding the teacher set --teacher_set (live members: a loader or exp dir)
teacher_set=teacher    # name of the teacher set in --teacher_conf
teacher_name=teacher   # label and exp dir of the teacher's embeddings and scores
cache_sets="train valid"   # stage 4: data sets whose teacher outputs are cached (empty: none)
systems=""             # stage 5 entries (see above)
seeds=""               # training seeds of every --systems entry, e.g. "1 2 3": the first under the entry's name,
                       # the others as <name>_seed<k> (utils/seeds.sh); a verdict between systems needs 3
train_args=""          # config overrides for every training, e.g. "trainer.max_epochs=2"
skip_train=false       # skip stages 3-5: embed and score models already in exp/ (see --models)
models=""              # systems to train (with the systems they need), embed and score (empty: every system of --systems)
test_sets="test"       # data sets with a `trials` file, embedded and scored: stage-2 names, or data-dir paths of your own
protocols="asym ss"    # per model: asym (teacher enrols, student verifies), ss (student-student)
teacher_trials=true    # also score the teacher alone (tt)
chunk_sweep=""         # chunk lengths T' (s) at inference, e.g. "0.5 1.0 2.0": each --chunk_models model
                       # re-embeds the --test_sets with that chunk (same weights) and is scored as <model>@T<c>s
chunk_models=""        # models of the chunk sweep (chunked models such as tiny_ecapa with chunk:)
tsne_set=""            # data set of speakers unseen in training for the t-SNE plot (empty: no plot)
tsne_speakers=10       # speakers in the t-SNE plot
deploy=false           # stage 9: deployment report of the models
deploy_seconds=1       # seconds of audio per timed forward pass in stage 9
deploy_streaming=true  # stage 9 also streams chunked models (TinyECAPA, chunk_mode split) hop by hop: latency
                       # table; a pooled model is listed as one that cannot stream, with the reason
compare=""             # "<a>:<b>" model pairs given a paired test on every test set and protocol
results=RESULTS.md     # the committed results file, the reference (stage 10 writes <expdir>/results/<this path>)
results_dir=results    # its plots (stages 8 and 10 write them in <expdir>/results/<this dir>)
update_results=false   # stage 11 also copies this run's results over the committed ones (for maintainers)
results_title=""       # heading of the results file
paper_results=""       # optional YAML of the paper's numbers (rows: system, trials, protocol, eer, min_dcf, ours, comparable)
results_note=""        # optional markdown file opening the results file (scale of the run, caveats)
run_command=""         # the command the user ran, for RESULTS.md (run.sh passes it)

help_message="Usage: $0 [options]   (stages are listed at the top of $(basename "$0"))"
spk_command=$(printf '%q ' "$0" "$@")   # RESULTS.md's command when run.sh does not pass --run_command
. utils/parse_options.sh
. ./path.sh
. ./cmd.sh
. utils/stage.sh
. utils/template_lib.sh   # entries, set_dir, set_name, resample_dir, train_system, model_dep, compare_with_committed

raw=${dumpdir}/raw
set_root=${raw}        # a data set of the lists is a dir of stage 2, or a path

# ---------------------------------------------------------------------------------------------------
# Helpers (their bodies are part of the fingerprints of the stages that call them).

cache_set() {  # cache_set <data dir> <out dir>
  python -m kdspeech.bin.cache_teacher --config "${teacher_conf}" --teacher "${teacher_set}" --data "$1" \
    --out "$2/outputs.npz" --seed "${seed}" --device cpu
}

embed_teacher() {  # embed_teacher <data dir> <out dir>
  python -m kdspeech.bin.embed --config "${teacher_conf}" --teacher "${teacher_set}" --data "$1" \
    --out "$2/emb.npz" --sr "${fs}"
}

embed_model() {  # embed_model <exp dir> <data dir> <out dir> [key=value ...]
  python -m kdspeech.bin.embed --model "$1" --data "$2" --out "$3/emb.npz" --sr "${fs}" ${4:+--model_conf "${@:4}"}
}

score_trials() {  # score_trials <trials> <enrol emb dir> <test emb dir> <out dir>
  python -m kdspeech.bin.score_trials --trials "$1" --enroll "$2/emb.npz" --test "$3/emb.npz" --out "$4/scores"
  python -m kdspeech.bin.score --metrics eer,min_dcf --trials "$1" --trial_scores "$4/scores" --out_dir "$4"
}

# ---------------------------------------------------------------------------------------------------
# The lists.
declare -A sys_conf=() sys_train=() sys_valid=() sys_deps=() sys_args=() sys_stage=()
sys_names=() teacher_names=() student_names=()
read_systems() {  # read_systems <stage> <list>
  local n=$1 name conf train valid deps args dep
  while read -r name conf train valid deps args; do
    [ -n "${name}" ] || continue
    [ -n "${deps}" ] ||
      { log "ERROR: systems entry '${name} ${conf} ${train} ${valid}': expected <name> <config> <train set> <valid set> <deps or -> [overrides]"; exit 1; }
    [ -z "${sys_conf[${name}]+set}" ] || { log "ERROR: system '${name}' is named twice"; exit 1; }
    [[ ${name} =~ ^[A-Za-z0-9_.+-]+$ && ${name} != "${teacher_name}" && ${name} != cache ]] ||
      { log "ERROR: '${name}' is not a usable system name (letters, digits, _.+-; not '${teacher_name}' or 'cache')"; exit 1; }
    deps=${deps//,/ }
    [ "${deps}" != - ] || deps=""
    for dep in ${deps}; do
      [ "${dep}" = cache ] || [ -n "${sys_conf[${dep}]+set}" ] ||
        { log "ERROR: system '${name}' needs '${dep}', which is not listed before it (systems train in list order)"; exit 1; }
    done
    sys_names+=("${name}")
    sys_conf[${name}]=${conf} sys_train[${name}]=${train} sys_valid[${name}]=${valid} sys_deps[${name}]=${deps}
    sys_args[${name}]=${args//\{expdir\}/${expdir}}
    sys_stage[${name}]=${n}
    if [ "${n}" = 3 ]; then teacher_names+=("${name}"); else student_names+=("${name}"); fi
  done < <(entries "$2")
}
read_systems 3 "${teacher_systems}"
. utils/seeds.sh
read_systems 5 "$(systems_with_seeds "${seeds}" "${systems}")"
if [ -z "${models}" ]; then models="${student_names[*]}"; fi
declare -A selected=()   # the systems to train: --models and what they need (transitively)
while read -r name; do [ -z "${name}" ] || selected[${name}]=1; done < <(selected_systems "${models}")
selected_of() { local n; for n in "$@"; do [ -z "${selected[${n}]+set}" ] || echo "${n}"; done; }
[ -n "${teacher_conf}" ] || [ "${stop_stage}" -lt 4 ] || { log "ERROR: give --teacher_conf (a config with the teacher set '${teacher_set}')"; exit 1; }

# ---------------------------------------------------------------------------------------------------
corpus_outs=()
for d in ${corpus_dirs}; do corpus_outs+=(--out "${datadir}/${d}"); done
stage_run 1 "data preparation" "${corpus_outs[@]}" --log "${expdir}/log/data.log" -- \
  local/data.sh --out "${datadir}" --seed "${seed}" ${local_data_opts}

for d in ${corpus_dirs}; do
  stage_run 2 "resample ${d} to ${fs} Hz" --out "${raw}/${d}" --deps "${datadir}/${d}" --param "fs=${fs}" -- \
    resample_dir "${datadir}/${d}" "${raw}/${d}"
done

train_params=(--param "seed=${seed}" --param "fs=${fs}" --param "train_args=${train_args}")
cache_deps=()
train_one() {  # train_one <name>
  local name=$1 dep
  local deps=(--deps "$(set_dir "${sys_train[${name}]}")" --deps "$(set_dir "${sys_valid[${name}]}")")
  for dep in ${sys_deps[${name}]}; do
    if [ "${dep}" = cache ]; then deps+=("${cache_deps[@]}"); else deps+=(--deps "${expdir}/${dep}"); fi
  done
  # shellcheck disable=SC2086  # the overrides are words
  stage_run "${sys_stage[${name}]}" "train ${name}" --out "${expdir}/${name}" "${deps[@]}" --conf "${sys_conf[${name}]}" \
    --progress "${expdir}/${name}" "${train_params[@]}" -- \
    train_system "${sys_conf[${name}]}" "$(set_dir "${sys_train[${name}]}")" "$(set_dir "${sys_valid[${name}]}")" \
      "${expdir}/${name}" ${sys_args[${name}]}
}

if [ "${skip_train}" = false ]; then
  for name in "${teacher_names[@]}"; do train_one "${name}"; done   # the teacher: every stage 4-7 needs it
fi

# The teacher: its config, and the teacher systems it may load (their stamps are its inputs).
teacher_deps=(--conf "${teacher_conf:-/dev/null}" --param "teacher_set=${teacher_set}")
if [ "${skip_train}" = false ]; then
  for name in "${teacher_names[@]}"; do teacher_deps+=(--deps "${expdir}/${name}"); done
fi
for s in ${cache_sets}; do
  out=${expdir}/teacher_cache/$(set_name "${s}")
  stage_run 4 "teacher outputs of ${s}" --out "${out}" --deps "$(set_dir "${s}")" "${teacher_deps[@]}" \
    --param "seed=${seed}" --log "${out}/log/cache.log" -- cache_set "$(set_dir "${s}")" "${out}"
  cache_deps+=(--deps "${out}")
done

if [ "${skip_train}" = false ]; then
  for name in $(selected_of ${student_names[@]+"${student_names[@]}"}); do train_one "${name}"; done
fi

# The models to embed: a system trained here by its stamp, one made elsewhere by its file.
declare -A model_deps=()   # model -> the stage_run words of its dependency (model_dep)
if ((stop_stage >= 6)); then
  for m in ${models} ${chunk_models}; do model_deps[${m}]=$(model_dep "${m}") || exit 1; done
fi

# Test sets of your own (data-dir paths that no stage makes): checked and resampled at stage 6.
external_sets 6 import_set --param "fs=${fs}" -- ${test_sets} ${tsne_set}
for t in ${test_sets}; do
  [ -z "${_ext_import[${t}]+set}" ] || [ -f "${t}/trials" ] || { log "ERROR: test set ${t} has no trials list:" \
    "make one from its utt2spk with python -m kdspeech.bin.make_trials --data ${t} --out ${t}/trials --num_target all --num_nontarget all"; exit 1; }
done
embed_sets=$(tr ' ' '\n' <<< "${test_sets} ${tsne_set}" | grep -v '^$' | awk '!seen[$0]++' | tr '\n' ' ')  # each set once
for t in ${embed_sets}; do
  tn=$(set_name "${t}")
  out=${expdir}/${teacher_name}/emb_${tn}
  stage_run 6 "embed ${t} with the teacher" --out "${out}" --deps "$(set_dir "${t}")" "${teacher_deps[@]}" \
    --param "fs=${fs}" --log "${out}/log/embed.log" -- embed_teacher "$(set_dir "${t}")" "${out}"
  for m in ${models}; do
    out=${expdir}/${m}/emb_${tn}
    # shellcheck disable=SC2086  # option words
    stage_run 6 "embed ${t} with ${m}" --out "${out}" --deps "$(set_dir "${t}")" ${model_deps[${m}]:-} \
      --param "fs=${fs}" --log "${out}/log/embed.log" -- embed_model "${expdir}/${m}" "$(set_dir "${t}")" "${out}"
  done
done

for t in ${test_sets}; do
  tn=$(set_name "${t}")
  for m in ${chunk_models}; do
    for c in ${chunk_sweep}; do
      out=${expdir}/${m}/emb_${tn}_T${c}
      # shellcheck disable=SC2086  # option words
      stage_run 6 "embed ${t} with ${m}, chunks of ${c} s" --out "${out}" --deps "$(set_dir "${t}")" ${model_deps[${m}]:-} \
        --param "fs=${fs}" --log "${out}/log/embed.log" -- embed_model "${expdir}/${m}" "$(set_dir "${t}")" "${out}" "chunk=${c}"
    done
  done
done

result_args=()
result_deps=()
score_pair() {  # score_pair <label> <set> <enrol emb dir> <test emb dir> <out dir>
  stage_run 7 "score $1" --out "$5" --deps "$3" --deps "$4" --log "$5/log/score.log" -- \
    score_trials "$(set_dir "$2")/trials" "$3" "$4" "$5"
  result_args+=(--row "$1=$5")
  result_deps+=(--deps "$5")
}
for t in ${test_sets}; do
  tn=$(set_name "${t}")
  teacher_emb=${expdir}/${teacher_name}/emb_${tn}
  if [ "${teacher_trials}" = true ]; then
    score_pair "${teacher_name}/${tn}/tt" "${t}" "${teacher_emb}" "${teacher_emb}" "${expdir}/${teacher_name}/trials_${tn}/tt"
  fi
  for m in ${models}; do
    for proto in ${protocols}; do
      case ${proto} in
        asym) enrol=${teacher_emb} ;;
        ss) enrol=${expdir}/${m}/emb_${tn} ;;
        *) log "ERROR: --protocols: '${proto}' is not asym or ss"; exit 1 ;;
      esac
      score_pair "${m}/${tn}/${proto}" "${t}" "${enrol}" "${expdir}/${m}/emb_${tn}" "${expdir}/${m}/trials_${tn}/${proto}"
    done
  done
  for m in ${chunk_models}; do
    for c in ${chunk_sweep}; do
      for proto in ${protocols}; do
        case ${proto} in asym) enrol=${teacher_emb} ;; *) enrol=${expdir}/${m}/emb_${tn}_T${c} ;; esac
        score_pair "${m}@T${c}s/${tn}/${proto}" "${t}" "${enrol}" "${expdir}/${m}/emb_${tn}_T${c}" \
          "${expdir}/${m}/trials_${tn}_T${c}/${proto}"
      done
    done
  done
  for pair in ${compare}; do
    a=${pair%%:*} b=${pair#*:}
    [[ " ${models} " == *" ${a} "* && " ${models} " == *" ${b} "* ]] || continue   # a pair of models scored here
    for proto in ${protocols}; do result_args+=(--compare "${a}/${tn}/${proto}:${b}/${tn}/${proto}"); done
  done
done

run_results=${expdir}/results   # this run's results, laid out as the committed ones
if [ -n "${tsne_set}" ]; then
  tn=$(set_name "${tsne_set}")
  for m in ${models}; do
    out=${run_results}/${results_dir}/tsne_${tn}
    stage_run 8 "t-SNE of ${tsne_speakers} speakers of ${tsne_set}: ${teacher_name} and ${m}" --out "${out}/${m}" \
      --deps "${expdir}/${teacher_name}/emb_${tn}" --deps "${expdir}/${m}/emb_${tn}" \
      --param "tsne_speakers=${tsne_speakers}" --log "${expdir}/tsne_${tn}/log/${m}.log" -- \
      python -m kdspeech.bin.plot_tsne --emb "${teacher_name}=${expdir}/${teacher_name}/emb_${tn}/emb.npz" \
        --emb "${m}=${expdir}/${m}/emb_${tn}/emb.npz" --utt2spk "$(set_dir "${tsne_set}")/utt2spk" \
        --speakers "${tsne_speakers}" --out "${out}/${m}/tsne.png"
    result_args+=(--tsne "${out}/${m}/tsne.png")
    result_deps+=(--deps "${out}/${m}")
  done
fi

if [ "${deploy}" = true ]; then
  deploy_models=() deploy_deps=()
  for m in ${models}; do
    deploy_models+=("${expdir}/${m}")
    # shellcheck disable=SC2206  # option words
    deploy_deps+=(${model_deps[${m}]:-})
  done
  deploy_flags=(--onnx)
  [ "${deploy_streaming}" = true ] && deploy_flags+=(--streaming)   # a command word: in the stage's fingerprint
  stage_run 9 "deployment report of ${models}" --out "${expdir}/deploy" "${deploy_deps[@]}" --param "fs=${fs}" \
    --log "${expdir}/deploy/log/deploy.log" -- \
    python -m kdspeech.bin.deploy --models "${deploy_models[@]}" --seconds "${deploy_seconds}" --sr "${fs}" \
      --num_threads 1 "${deploy_flags[@]}" --out_dir "${expdir}/deploy"
  result_args+=(--deploy "${expdir}/deploy/deploy.md")
  result_deps+=(--deps "${expdir}/deploy")
fi

for m in ${models}; do result_args+=(--system_info "${m}=${expdir}/${m}"); done
result_confs=()
if [ -n "${paper_results}" ]; then result_args+=(--paper "${paper_results}"); result_confs+=(--conf "${paper_results}"); fi
if [ -n "${results_note}" ]; then result_args+=(--note "${results_note}"); result_confs+=(--conf "${results_note}"); fi
title=${results_title:-$(basename "$(dirname "$PWD")")/$(basename "$PWD"): speaker embedding}
stage_run 10 "results" --out "${run_results}/${results_dir}" "${result_deps[@]}" "${result_confs[@]}" --log "${expdir}/log/results.log" -- \
  python -m kdspeech.bin.make_results_spk "${result_args[@]}" --out "${run_results}/${results}" --title "${title}" \
    --command "$(sed 's/ *$//' <<< "${run_command:-${spk_command}}")"
if [ "${stop_stage}" -ge 10 ] && [ "${stage}" -le 10 ]; then
  log "results: ${run_results}/${results} (plots in ${run_results}/${results_dir}/)"
fi

# Stage 11: against the committed results (the reference), which only --update_results true rewrites.
compare_with_committed 11
