#!/usr/bin/env bash
# Speech enhancement task template: the stages shared by every enhancement recipe.  A recipe's run.sh
# calls this script (symlinked as ./enh.sh) with its mixture sets and its list of systems; every
# variable below is an option (--name value), `./enh.sh --help` lists them.
#
#  1 data preparation   local/data.sh -> data/<corpus dirs>                 (corpus specific)
#  2 resample           every corpus dir to ${fs} Hz -> dump/raw/<dir>
#  3 mix                the --mix_sets (clean dir x noise dir at SNRs) -> dump/mix/<set>, and the
#                       --snr_subsets (the mixtures of a set within an SNR range) -> dump/mix/<subset>
#  4 train              the --systems, each in exp/<name>; a system starts once the systems it
#                       distils from are trained; up to --train_jobs at once, in background jobs;
#                       when one fails the others are stopped and the stage fails
#  5 enhance            the --test_sets with every model (--models) -> exp/<model>/enhanced_<set>,
#                       and each --extra_tests pair (one model on one set); a test set of your own (a
#                       data-dir path, below) is first checked and resampled -> dump/test/<name>
#  6 score              --metrics per utterance, by SNR and noise -> exp/<model>/score_<set>, and the
#                       noisy input -> exp/noisy/score_<set> (test sets with a clean reference only)
#  7 score with ASR     (--score_with_asr true) decode the noisy input, the clean reference and every
#                       enhanced set, WER/CER against the data dir's text -> exp/<model>/score_asr_<set>
#                       (test sets with a text only)
#  8 DNSMOS             (--dnsmos true) non-intrusive DNSMOS P.835/P.808 -> exp/<model>/score_dnsmos_<set>;
#                       a test set without a clean reference is scored here whatever --dnsmos says
#  9 deployment         (--deploy true) parameters, MACs, CPU real-time factor, ONNX check -> exp/deploy;
#                       (--deploy_streaming true) the streaming latency table of the models that stream
# 10 results            this run's RESULTS.md and plots -> exp/results/RESULTS.md, exp/results/results/*.png
#                       (laid out as the committed --results and --results_dir, which a run never
#                       touches): each system by SNR and noise, paired tests of every model against the
#                       noisy input and of the --compare pairs, validation curves (trainer.eval_every)
# 11 compare            this run's results against the committed RESULTS.md, table by table and cell by
#                       cell, within the run-to-run spread it states -> exp/compare/compare.md (summary
#                       printed); --update_results true then copies this run's results over the committed
#                       ones (for maintainers)
#
# Lists: --mix_sets, --snr_subsets and --systems take entries separated by ';' or newlines, fields by
# blanks.  A data set named in them is a mixture set of stage 3 (dump/mix/<name>), or a data dir
# path when it contains a '/'.  In a system's overrides, {expdir} stands for --expdir.
#
# Test sets of your own: --test_sets takes data-dir paths beside the recipe's set names, e.g.
# --test_sets "test_seen /data/mine/noisy_test" (utils/template_lib.sh: external_sets).  wav.scp is the
# input; spk1.scp, when there, the clean reference (ESPnet's name); text, utt2snr, utt2noise as the
# mixture sets have them.  A set without a reference is scored by the non-intrusive metrics only
# (DNSMOS, and WER/CER with --score_with_asr true where it has a text), a set without utt2snr is left
# out of the by-SNR comparisons and tables; RESULTS.md says which (its section "Test sets").
# --models selects the systems of every stage: only they and the systems they distil from are trained.
set -euo pipefail

stage=1                # first stage to run
stop_stage=100         # last stage to run
rerun_changed_code=false   # re-run the stages whose library code (kdspeech modules, utils/ scripts) changed since they ran (false: a warning names them)
nj=2                   # parallel jobs of data, enhancement and scoring stages
ngpu=0                 # GPUs per training, and enhancement on a GPU when > 0 (0: all on the CPU)
num_nodes=1            # nodes per training (multi-node DDP through torchrun)
seed=1                 # seed of mixing, model initialisation, shuffling and crops
fs=16000               # sample rate of everything after stage 2
strict_rate=false      # stage 2: a corpus file at another sample rate than the rest is an error (false: a warning naming it)
datadir=data           # corpus data dirs (stage 1)
dumpdir=dump           # resampled audio and mixtures
expdir=exp             # models, enhanced audio, scores
local_data_opts=""     # options passed to local/data.sh
corpus_dirs="clean_train clean_valid clean_test noise_train noise_test"  # data dirs local/data.sh writes
mix_sets=""            # stage 3, entries "<name> <clean dir> <noise dir> <SNRs a,b,..> <mixtures per utt>" (dirs of stage 2)
snr_subsets=""         # stage 3, entries "<name> <mixture set> <lowest SNR> <highest SNR, excluded>" (-inf/inf: open)
systems=""             # stage 4, entries "<name> <config> <train set> <valid set> <systems it distils from: a,b or -> [key.path=value ...]"
                       # (an override seed=N trains that system with seed N instead of --seed: another seed of a system)
train_jobs=1           # trainings that may run at the same time (independent systems only)
train_args=""          # config overrides for every training, e.g. "trainer.max_epochs=2"
skip_train=false       # skip stage 4: enhance and score models already in exp/ (see --models)
models=""              # systems to train (with the systems they distil from), enhance and score (empty: every system of --systems)
test_sets="test_seen test_unseen"  # sets every model enhances and is scored on: mixture sets, or data-dir paths of your own
enhance_opts=""        # more options of kdspeech.bin.enhance (e.g. "--enroll_emb table.npz" for personalized models)
extra_tests=""         # "<model>:<set>" pairs also enhanced and scored (e.g. a teacher on its SNR range), reported as <model>/<set, or the set a subset comes from>
metrics=pesq_wb,stoi,si_sdr        # metrics of stage 6 (any intrusive metric of kdspeech.metrics)
score_with_asr=false   # stage 7: WER/CER of the decoded noisy, clean and enhanced speech
asr_metrics=wer,cer    # metrics of stage 7
asr_backend=pocketsphinx           # ASR backend of stage 7 (pocketsphinx, moonshine, trained:<exp dir>)
asr_lm_text=""         # text file the ASR language model is built from (empty: the backend's default)
dnsmos=false           # stage 8: DNSMOS of the noisy and enhanced speech
dnsmos_metrics=dnsmos_sig,dnsmos_bak,dnsmos_ovrl,dnsmos_p808  # metrics of stage 8
deploy=false           # stage 9: deployment report of the models (exp/deploy/deploy.md)
deploy_seconds=1       # seconds of audio per timed forward pass in stage 9
deploy_opts=""         # more options of kdspeech.bin.deploy (e.g. "--parts enhancer,encoder" for a two-part system)
deploy_onnx=true       # stage 9 also exports each model to ONNX and checks it against torch (false: models
                       # torch.onnx cannot export, e.g. a complex STFT inside the model)
deploy_streaming=true  # stage 9 also streams each model hop by hop (deploy --streaming): algorithmic latency, compute
                       # per hop (torch, onnxruntime), state size; a model that cannot stream is listed with the reason
compare=""             # "<a>:<b>" model pairs given a paired test on every test set (and each model vs noisy)
compare_by_snr=""      # "<a>[+<a2>...]:<b>[+<b2>...]" pairs tested at each input SNR of every test set, each side
                       # the per-utterance mean over its models (the seeds of one system)
noise_snr_tables=""    # models tabulated by noise type x SNR on every test set
results=RESULTS.md     # the committed results file, the reference (stage 10 writes <expdir>/results/<this path>)
results_dir=results    # its plots (stage 10 writes them in <expdir>/results/<this dir>)
update_results=false   # stage 11 also copies this run's results over the committed ones (for maintainers)
results_title=""       # heading of the results file (empty: "<corpus>/<task>: speech enhancement")
paper_results=""       # optional YAML of the paper's numbers, shown beside ours
results_note=""        # optional markdown file opening the results file (scale of the run, caveats)

help_message="Usage: $0 [options]   (stages are listed at the top of $(basename "$0"))"
. utils/parse_options.sh
. ./path.sh
. ./cmd.sh
. utils/stage.sh
. utils/parallel.sh
. utils/template_lib.sh   # entries, set_dir, set_name, resample_dir, train_system, model_dep, compare_with_committed

raw=${dumpdir}/raw
mix=${dumpdir}/mix
set_root=${mix}        # a data set of the lists is a mixture set, or a path
device=cpu             # of enhancement; trainings get theirs from utils/train.sh --ngpu
[ "${ngpu}" -gt 0 ] && device=cuda

# ---------------------------------------------------------------------------------------------------
# Helpers.  The bodies of the functions a stage runs are part of its fingerprint (utils/stage.sh), so
# they name the options they read (${nj}, ${fs}, ...) rather than expanding them into the command.

# Kept word for word from the enh.sh before the task template, so that their stamps stay valid.
mix_dir() {  # mix_dir <clean dir> <noise dir> <out dir> <snrs> <mixtures per utt>
  local clean=$1 noise=$2 out=$3 snrs=$4 per_utt=$5
  local opts=(--clean "${clean}" --noise "${noise}" --out "${out}" --snrs "${snrs}"
              --mixtures_per_utt "${per_utt}" --seed "${seed}" --sr "${fs}")
  if [ "${nj}" -eq 1 ]; then  # one process plans, renders and merges (small runs, tests)
    python -m kdspeech.bin.mix_data_dir "${opts[@]}"
    return
  fi
  python -m kdspeech.bin.mix_data_dir "${opts[@]}" --plan
  ${train_cmd} JOB=1:"${nj}" "${out}/log/mix.JOB.log" python -m kdspeech.bin.mix_data_dir "${opts[@]}" --job JOB --nj "${nj}"
  python -m kdspeech.bin.mix_data_dir "${opts[@]}" --merge --nj "${nj}"
}

enhance_set() {  # enhance_set <model> <mixture dir> <out dir>
  utils/enhance.sh --nj "${nj}" --fs "${fs}" --device "${device}" --enhance_opts "${enhance_opts}" "$1" "$2" "$3"
}

score_set() {  # score_set <mixture dir> <estimates scp> <out dir>
  utils/score.sh --nj "${nj}" --fs "${fs}" --metrics "${metrics}" "$1" "$2" "$3"
}

score_asr_set() {  # score_asr_set <mixture dir> <estimates scp> <out dir>
  utils/score.sh --nj "${nj}" --fs "${fs}" --metrics "${asr_metrics}" --asr_backend "${asr_backend}" \
    --asr_lm_text "${asr_lm_text}" "$1" "$2" "$3"
}

score_dnsmos_set() {  # score_dnsmos_set <mixture dir> <estimates scp> <out dir>
  utils/score.sh --nj "${nj}" --fs "${fs}" --metrics "${dnsmos_metrics}" "$1" "$2" "$3"
}

# A stamp written by enh.sh before it became a task template has no "param template=..." line: its
# stage re-runs (the command changed), and the log says so instead of leaving the user to wonder.
template_param=(--param "template=enh-task")
note_old_layout() {  # note_old_layout <stage> <out dir>...
  local n=$1 dir
  shift
  ((n >= stage && n <= stop_stage)) || return 0
  for dir in "$@"; do
    if [ -f "${dir}/.done" ] && ! grep -q '^param template=' "${dir}/.done"; then
      log "${dir}: its stamp was made by enh.sh before the task template (command '$(sed -n 's/^command //p' "${dir}/.done" | cut -c1-50)...'); stage ${n} re-runs it: the template now runs it through utils/train.sh, enhance.sh or score.sh (trainings get trainer.device from --ngpu), which changes its fingerprint"
    fi
  done
}

# ---------------------------------------------------------------------------------------------------
# The lists.
declare -A sys_conf=() sys_train=() sys_valid=() sys_deps=() sys_args=()
sys_names=()
while read -r name conf train valid deps args; do
  [ -n "${name}" ] || continue
  if [ -z "${deps}" ]; then
    log "ERROR: --systems entry '${name} ${conf} ${train} ${valid}': expected <name> <config> <train set> <valid set> <systems it distils from, or -> [overrides]"
    exit 1
  fi
  [ -z "${sys_conf[${name}]+set}" ] || { log "ERROR: --systems names '${name}' twice"; exit 1; }
  [[ ${name} =~ ^[A-Za-z0-9_.+-]+$ && ${name} != noisy && ${name} != clean ]] ||
    { log "ERROR: --systems: '${name}' is not a usable system name (letters, digits, _.+-; not noisy/clean)"; exit 1; }
  sys_names+=("${name}")
  sys_conf[${name}]=${conf}
  sys_train[${name}]=${train}
  sys_valid[${name}]=${valid}
  sys_deps[${name}]=${deps//,/ }
  [ "${deps}" != - ] || sys_deps[${name}]=""
  sys_args[${name}]=${args//\{expdir\}/${expdir}}
done < <(entries "${systems}")
for name in "${sys_names[@]}"; do
  for dep in ${sys_deps[${name}]}; do
    [ "${dep}" != "${name}" ] || { log "ERROR: --systems: ${name} distils from itself"; exit 1; }
  done
done
if [ -z "${models}" ]; then models="${sys_names[*]}"; fi
[ -n "${models}" ] || [ "${stop_stage}" -lt 4 ] ||
  { log "ERROR: no systems: give --systems (stage 4) or --models (models already in ${expdir}/)"; exit 1; }
# The systems to train: --models and the systems they distil from (transitively), in list order.
mapfile -t train_names < <(selected_systems "${models}")

declare -A subset_parent=()   # subset name -> the mixture set it is taken from
subset_entries=()
while read -r name src low high extra; do
  [ -n "${name}" ] || continue
  [ -n "${high}" ] && [ -z "${extra}" ] ||
    { log "ERROR: --snr_subsets entry '${name} ${src} ${low} ${high} ${extra}': expected <name> <mixture set> <lowest SNR> <highest SNR>"; exit 1; }
  subset_parent[${name}]=$(set_name "${src}")
  subset_entries+=("${name} ${src} ${low} ${high}")
done < <(entries "${snr_subsets}")

# ---------------------------------------------------------------------------------------------------
corpus_outs=()
for d in ${corpus_dirs}; do corpus_outs+=(--out "${datadir}/${d}"); done
# Stage 1 reads from outside the recipe: db.sh's data_inputs (corpus folders) are in its fingerprint.
db_input_opts
stage_run 1 "data preparation" "${corpus_outs[@]}" ${input_opts[@]+"${input_opts[@]}"} -- \
  local/data.sh --out "${datadir}" --seed "${seed}" ${local_data_opts}

for d in ${corpus_dirs}; do
  stage_run 2 "resample ${d} to ${fs} Hz" --out "${raw}/${d}" --deps "${datadir}/${d}" --param "fs=${fs}" -- \
    resample_dir "${datadir}/${d}" "${raw}/${d}"
done

mix_params=(--param "seed=${seed}" --param "fs=${fs}")   # globals the stage functions read
while read -r name clean noise snrs per_utt extra; do
  [ -n "${name}" ] || continue
  [ -n "${per_utt}" ] && [ -z "${extra}" ] ||
    { log "ERROR: --mix_sets entry '${name} ${clean} ${noise} ${snrs} ${per_utt} ${extra}': expected <name> <clean dir> <noise dir> <SNRs> <mixtures per utt>"; exit 1; }
  stage_run 3 "mix ${name} (${snrs} dB)" --out "${mix}/${name}" --deps "${raw}/${clean}" --deps "${raw}/${noise}" "${mix_params[@]}" -- \
    mix_dir "${raw}/${clean}" "${raw}/${noise}" "${mix}/${name}" "${snrs}" "${per_utt}"
done < <(entries "${mix_sets}")
select_subset() {  # select_subset <stage> <name> <set> <low> <high>: the mixtures of a set in an SNR range
  local n=$1 name=$2 src=$3 low=$4 high=$5
  note_old_layout "${n}" "${mix}/${name}"
  stage_run "${n}" "select ${name}: mixtures of ${src} with SNR in [${low}, ${high}) dB" --out "${mix}/${name}" \
    --deps "$(set_dir "${src}")" "${template_param[@]}" -- \
    python -m kdspeech.bin.subset_by_snr --src "$(set_dir "${src}")" --dst "${mix}/${name}" "--min=${low}" "--max=${high}"
}
late_subsets=()   # SNR ranges of a test set of your own: selected at stage 5, once it is imported
for entry in "${subset_entries[@]}"; do
  read -r name src low high <<< "${entry}"
  if is_external_set "${src}"; then late_subsets+=("${entry}"); continue; fi
  select_subset 3 "${name}" "${src}" "${low}" "${high}"
done

# Stage 4: the systems, each as soon as the systems it distils from are trained.
train_params=(--param "seed=${seed}" --param "fs=${fs}" --param "train_args=${train_args}" "${template_param[@]}")
start_training() {  # start_training <name>: stage 4 of one system (in the background when in range)
  local name=$1 dep
  local deps=(--deps "$(set_dir "${sys_train[${name}]}")" --deps "$(set_dir "${sys_valid[${name}]}")")
  for dep in ${sys_deps[${name}]}; do deps+=(--deps "${expdir}/${dep}"); done
  local from=${sys_deps[${name}]:+ (distilled from ${sys_deps[${name}]// /, })}
  # shellcheck disable=SC2086  # the overrides are words
  stage_run 4 "train ${name}${from}" --out "${expdir}/${name}" "${deps[@]}" --conf "${sys_conf[${name}]}" "${train_params[@]}" \
    --progress "${expdir}/${name}" -- \
    train_system "${sys_conf[${name}]}" "$(set_dir "${sys_train[${name}]}")" "$(set_dir "${sys_valid[${name}]}")" \
      "${expdir}/${name}" ${sys_args[${name}]}
}
system_deps() { echo "${sys_deps[$1]}"; }  # the systems a system distils from
train_systems() {
  if ! parallel_each --after system_deps "${train_jobs}" "${train_names[*]}" start_training; then
    log "ERROR: stage 4 failed (see ${expdir}/<name>/log/train.log)"
    exit 1
  fi
}
if [ "${skip_train}" = false ]; then
  for name in ${train_names[@]+"${train_names[@]}"}; do note_old_layout 4 "${expdir}/${name}"; done
  if ((4 >= stage && 4 <= stop_stage)); then
    train_systems
  else
    for name in ${train_names[@]+"${train_names[@]}"}; do start_training "${name}"; done   # records which stage makes what
  fi
fi

# The models to enhance and score, with what their stages depend on: the training stamp of a system
# trained here; a model made elsewhere (--skip_train, or not in --systems) by its file's size and time.
declare -A model_deps=()   # model -> the stage_run words of its dependency (model_dep)
pairs=()   # "model:set" to enhance and score
for m in ${models}; do for t in ${test_sets}; do pairs+=("${m}:${t}"); done; done
for pair in ${extra_tests}; do pairs+=("${pair}"); done
if ((stop_stage >= 5)); then
  for pair in "${pairs[@]}"; do
    m=${pair%%:*}
    [ -n "${model_deps[${m}]+set}" ] || model_deps[${m}]=$(model_dep "${m}") || exit 1
  done
fi
# Test sets of your own (data-dir paths that no stage makes): checked and resampled at stage 5.
external_sets 5 import_set --param "fs=${fs}" -- ${test_sets} $(for pair in ${extra_tests}; do echo "${pair#*:}"; done)
for entry in ${late_subsets[@]+"${late_subsets[@]}"}; do
  read -r name src low high <<< "${entry}"
  select_subset 5 "${name}" "${src}" "${low}" "${high}"
done

label_of() {  # label_of <model> <set>: the row of the results; a subset counts as its parent set
  local t
  t=$(set_name "$2")
  echo "$1/${subset_parent[${t}]:-${t}}"
}

for pair in "${pairs[@]}"; do
  m=${pair%%:*} t=${pair#*:}
  out=${expdir}/${m}/enhanced_$(set_name "${t}")
  note_old_layout 5 "${out}"
  # shellcheck disable=SC2046,SC2086  # model_deps holds option words
  stage_run 5 "enhance ${t} with ${m}" --out "${out}" ${model_deps[${m}]:-} --deps "$(set_dir "${t}")" \
    --param "fs=${fs}" "${template_param[@]}" -- enhance_set "${expdir}/${m}" "$(set_dir "${t}")" "${out}"
done

# Scoring stages: each writes exp/<system>/<prefix>_<set> for the noisy input and every pair.
score_stage() {  # score_stage <stage> <prefix> <what> <function> <param words...>
  local n=$1 prefix=$2 what=$3 fn=$4 pair m t out
  shift 4
  for t in ${test_sets}; do
    scored_by "${prefix}" "${t}" "${n}" || continue
    out=${expdir}/noisy/${prefix}_$(set_name "${t}")
    note_old_layout "${n}" "${out}"
    stage_run "${n}" "${what} noisy ${t}" --out "${out}" --deps "$(set_dir "${t}")" "$@" "${template_param[@]}" -- \
      "${fn}" "$(set_dir "${t}")" "$(set_dir "${t}")/wav.scp" "${out}"
  done
  for pair in "${pairs[@]}"; do
    m=${pair%%:*} t=${pair#*:}
    scored_by "${prefix}" "${t}" || continue
    out=${expdir}/${m}/${prefix}_$(set_name "${t}")
    note_old_layout "${n}" "${out}"
    stage_run "${n}" "${what} ${m} on ${t}" --out "${out}" --deps "${expdir}/${m}/enhanced_$(set_name "${t}")" \
      "$@" "${template_param[@]}" -- \
      "${fn}" "$(set_dir "${t}")" "${expdir}/${m}/enhanced_$(set_name "${t}")/wav.scp" "${out}"
  done
}
# Which sets a scoring stage scores.  Intrusive metrics need the clean reference: a test set without
# one (a real recording) is left out of stage 6 and scored by DNSMOS at stage 8 instead (whatever
# --dnsmos says); WER/CER need its text.  Its rows of stage 10 have the other stages' figures only.
scored_by() {  # scored_by <score_dir prefix> <set> [<stage number>: say why a set is left out, once]
  local why=""
  case $1 in
    score) set_has "$2" spk1.scp || why="no spk1.scp (no clean reference): not scored by ${metrics}" ;;
    score_asr) if [ "${score_with_asr}" = true ]; then set_has "$2" text || why="no text: no WER/CER"; else why=-; fi ;;
    score_dnsmos) [ "${dnsmos}" = true ] || ! set_has "$2" spk1.scp || why=- ;;
  esac
  [ -n "${why}" ] || return 0
  if [ -n "${3:-}" ] && [ "${why}" != - ] && (($3 >= stage && $3 <= stop_stage)); then log "stage $3: $(set_source "$2") has ${why}"; fi
  return 1
}
score_stage 6 score "score" score_set --param "fs=${fs}" --param "metrics=${metrics}"
asr_params=(--param "fs=${fs}" --param "metrics=${asr_metrics}" --param "asr_backend=${asr_backend}")
[ -z "${asr_lm_text}" ] || asr_params+=(--conf "${asr_lm_text}")
case ${asr_backend} in   # a recogniser trained by a recipe: its model file's content is what stage 7 is made from
  trained:*) asr_model=${asr_backend#trained:}; [ -d "${asr_model}" ] && asr_model=${asr_model}/best.pth
             asr_params+=(--conf "${asr_model}") ;;
esac
if [ "${score_with_asr}" = true ]; then
  score_stage 7 score_asr "decode (${asr_backend}) and score ${asr_metrics}:" score_asr_set "${asr_params[@]}"
  for t in ${test_sets}; do   # the clean references: what the ASR backend does at best
    set_has "${t}" spk1.scp && set_has "${t}" text || continue
    out=${expdir}/clean/score_asr_$(set_name "${t}")
    stage_run 7 "decode (${asr_backend}) and score ${asr_metrics}: clean ${t}" --out "${out}" --deps "$(set_dir "${t}")" \
      "${asr_params[@]}" "${template_param[@]}" -- score_asr_set "$(set_dir "${t}")" "$(set_dir "${t}")/spk1.scp" "${out}"
  done
fi
score_stage 8 score_dnsmos "DNSMOS" score_dnsmos_set --param "fs=${fs}" --param "metrics=${dnsmos_metrics}"

if [ "${deploy}" = true ]; then
  deploy_models=() deploy_deps=()
  for m in ${models}; do
    deploy_models+=("${expdir}/${m}")
    # shellcheck disable=SC2206  # option words
    deploy_deps+=(${model_deps[${m}]:-})
  done
  deploy_flags=()
  [ "${deploy_onnx}" = true ] && deploy_flags+=(--onnx)
  [ "${deploy_streaming}" = true ] && deploy_flags+=(--streaming)   # a command word: in the stage's fingerprint
  stage_run 9 "deployment report of ${models}" --out "${expdir}/deploy" "${deploy_deps[@]}" --param "fs=${fs}" -- \
    python -m kdspeech.bin.deploy --models "${deploy_models[@]}" --seconds "${deploy_seconds}" --sr "${fs}" \
      --num_threads 1 "${deploy_flags[@]}" ${deploy_opts} --out_dir "${expdir}/deploy"
fi

# Stage 10: one row per system and test set, with the score dirs of every scoring stage that ran.
result_args=()
result_deps=()
snr_pair_labels() {  # snr_pair_labels <a>[+<a2>]:<b>[+<b2>] <set name>: each model as its system label
  sed -E "s#([^+:]+)#\\1/$2#g" <<< "$1"
}
add_system() {  # add_system <label> <system dir> <set>: the score dirs of every stage that scored it
  local dirs="" prefix tn
  tn=$(set_name "$3")
  for prefix in score score_asr score_dnsmos; do
    scored_by "${prefix}" "$3" || continue
    [ "$2" != "${expdir}/clean" ] || [ "${prefix}" = score_asr ] || continue
    dirs+=${dirs:+,}$2/${prefix}_${tn}
    result_deps+=(--deps "$2/${prefix}_${tn}")
  done
  result_args+=(--system "$1=${dirs}")
}
for t in ${test_sets}; do
  tn=$(set_name "${t}")
  if [ "${score_with_asr}" = true ] && set_has "${t}" spk1.scp && set_has "${t}" text; then
    add_system "clean/${tn}" "${expdir}/clean" "${t}"
  fi
  add_system "noisy/${tn}" "${expdir}/noisy" "${t}"
  for m in ${models}; do
    add_system "${m}/${tn}" "${expdir}/${m}" "${t}"
    result_args+=(--compare "${m}/${tn}:noisy/${tn}")
  done
  for pair in ${compare}; do
    a=${pair%%:*} b=${pair#*:}
    [[ " ${models} " == *" ${a} "* && " ${models} " == *" ${b} "* ]] && result_args+=(--compare "${a}/${tn}:${b}/${tn}")
  done
  # By input SNR: the sets with utt2snr (and noise x SNR with utt2noise too); RESULTS.md notes the others.
  result_args+=(--test_set "${tn}=$(set_dir "${t}")")
  set_has "${t}" utt2snr || continue
  for pair in ${compare_by_snr}; do
    for m in ${pair//[+:]/ }; do [[ " ${models} " == *" ${m} "* ]] || continue 2; done
    result_args+=(--compare_snr "$(snr_pair_labels "${pair}" "${tn}")=$(set_dir "${t}")")
  done
  set_has "${t}" utt2noise || continue
  for m in ${noise_snr_tables}; do
    [[ " ${models} noisy " == *" ${m} "* ]] && result_args+=(--noise_snr "${m}/${tn}=$(set_dir "${t}")")
  done
done
for pair in ${extra_tests}; do
  m=${pair%%:*} t=${pair#*:}
  label=$(label_of "${m}" "${t}")
  add_system "${label}" "${expdir}/${m}" "${t}"
  result_args+=(--compare "${label}:noisy/${label#*/}")
done
# Validation metrics by epoch (history.json of the trainings with trainer.eval_every).
for m in ${models}; do
  if [ -f "${expdir}/${m}/history.json" ]; then result_args+=(--curves "${m}=${expdir}/${m}"); fi
done
if [ "${deploy}" = true ]; then
  result_args+=(--deploy "${expdir}/deploy/deploy.md")
  result_deps+=(--deps "${expdir}/deploy")
fi
[ -z "${paper_results}" ] || result_args+=(--paper "${paper_results}")
result_confs=()
if [ -n "${results_note}" ]; then result_args+=(--note "${results_note}"); result_confs+=(--conf "${results_note}"); fi
title=${results_title:-$(basename "$(dirname "$PWD")")/$(basename "$PWD"): speech enhancement}
run_results=${expdir}/results   # this run's results, laid out as the committed ones
stage_run 10 "results" --out "${run_results}/${results_dir}" "${result_deps[@]}" "${result_confs[@]}" "${template_param[@]}" -- \
  python -m kdspeech.bin.make_results_enh "${result_args[@]}" --out "${run_results}/${results}" \
    --plot_dir "${run_results}/${results_dir}" --title "${title}"
if [ "${stop_stage}" -ge 10 ] && [ "${stage}" -le 10 ]; then
  log "results: ${run_results}/${results} (plots in ${run_results}/${results_dir}/)"
fi

# Stage 11: against the committed results (the reference), which only --update_results true rewrites.
compare_with_committed 11
