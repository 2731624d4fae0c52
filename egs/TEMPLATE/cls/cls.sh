#!/usr/bin/env bash
# Audio classification from low-sampled microphones with model self-distillation (Liang et al.): the
# stages shared by every classification recipe.  A recipe's run.sh calls this script (symlinked as
# ./cls.sh) with its own options; every variable below is an option, `./run.sh --help` lists them.
# Scale: --conf_dir DIR (any position) takes train.yaml and grid.yaml from DIR, and first the options
# of DIR/cls.conf when it exists (Kaldi option file: one --name=value a line, # comments), so that
# `./run.sh --conf_dir conf/cpu` is the whole CPU-scale setting; options given to run.sh win.
# Every clip is heard at 16 kHz and through a low-rate microphone (each of ${rates}: down to the
# rate and back up to 16 kHz); all models use the same 16 kHz PANNs front end.
# Architectures and seeds: by default one run of the model of train.yaml with --seed, in exp/fold<k>/...
# --archs "cnn14 resnet38 mobilenetv2" and/or --seeds "1 2 3" run stages 3-10 once per architecture and
# seed, in exp/<arch>/seed<s>/fold<k>/..., each architecture from <conf_dir>/train_<arch>.yaml (or from
# train.yaml when its model is <arch>); the folds are dealt once (--seed), the grid is searched once per
# architecture (its first seed, exp/<arch>/grid) and stage 13 gives mean ± std over folds x seeds and
# paired statistics over (fold, seed) pairs.
#
#  0 download           local/download.sh (when present and download=true); the PANNs checkpoint
#                       from pretrained_url (checksum pretrained_md5) into downloads/
#  1 data preparation   local/data.sh -> data/all, data/fold<k>/{train,valid,test} (corpus specific);
#                       the paths of db.sh's data_inputs (CSV, corpus folders) are in its fingerprint:
#                       a changed CSV, an added/removed/replaced corpus file or another path re-runs it
#  2 features           log-mel of every clip per rate -> dump/feats/<rate>/feats.npy (computed once); a test
#                       set of your own (--test_sets) checked -> dump/test/<name>, its features per rate
#                       -> dump/feats/test_<name>/<rate>
#  3 initial generation the 16 kHz model per fold (from ${pretrained} when given) -> exp/fold<k>/init_16k
#                       (stages 3-10 of several architectures/seeds: exp/<arch>/seed<s>/fold<k>/...)
#  4 fine-tune          cross-entropy at each low rate, from the 16 kHz model -> exp/fold<k>/ft_<rate>
#  5 teacher outputs    logits of each teacher on the training and validation clips (a frozen teacher
#                       on cached features is deterministic: computed once) -> <teacher>/teacher_<rate>
#  6 grid search        alpha, T of alpha*CE + (1-alpha)*T^2*KL on validation data of one fold
#                       (${train_jobs} points at a time), selected by the validation ${metric}
#                       -> exp/grid/best.yaml (fixed for all folds; --grid_dir, --grid_search false: reuse one)
#  7 BASD               teacher = fine-tuned low-rate model, student (same architecture) the same
#                       low-rate input -> exp/fold<k>/basd_<rate>
#  8 CSSD               teacher = 16 kHz model on the 16 kHz clip, student the same clip at the low
#                       rate -> exp/fold<k>/cssd_<rate>
#  9 ablations          (ablations=true) a second BASD generation -> basd2_<rate>; the lowest rate's
#                       fine-tuned model as teacher of each higher-rate student -> cssdlow_<rate>
# 10 score              every model on the test fold at its rate (raw = the 16 kHz model at the low
#                       rate) -> exp/fold<k>/<model>/score_<rate>, and on each --test_sets set (the
#                       whole set) -> exp/fold<k>/<model>/score_<rate>_<name>
# 11 privacy            (privacy=true) WER of speech at 16 kHz and each low rate, decoded by each ASR
#                       backend of ${privacy_backends} (pocketsphinx, moonshine) -> exp/privacy/wer.json
# 12 deployment         (deploy=true) parameters, MACs, CPU real-time factor of one clip, ONNX export checked
#                       against torch (kdspeech.bin.deploy) -> exp/deploy
# 13 results            this run's RESULTS.md (Table 1 layout, privacy and deployment tables), per-class
#                       table, per-fold plot -> exp/results/RESULTS.md, exp/results/results/ (laid out as
#                       the committed --results and --results_dir, which a run never touches)
# 14 compare            this run's results against the committed RESULTS.md, table by table and cell by
#                       cell, within the run-to-run spread it states -> exp/compare/compare.md (summary
#                       printed); --update_results true then copies this run's results over the committed
#                       ones (for maintainers)
#
# Test sets of your own: --test_sets takes data-dir paths (wav.scp and utt2label with classes of
# data/all/classes.txt; python -m kdspeech.bin.data_dir_from --csv makes one from a CSV of path,label),
# e.g. --test_sets "/data/mine/new_site" (utils/template_lib.sh: external_sets).  Every fold's models
# score the whole set at every rate; RESULTS.md gives a table per set beside Table 1.
set -euo pipefail

stage=0                # first stage to run
stop_stage=100         # last stage to run
rerun_changed_code=false   # re-run the stages whose library code (kdspeech modules, utils/ scripts) changed since they ran (false: a warning names them)
ngpu=0                 # GPUs per training (0: CPU, even where a GPU is visible; inference then too); >1: DDP through torchrun
num_nodes=1            # nodes per training
train_jobs=1           # folds (and grid points) trained at the same time (each gets cores/train_jobs threads unless trainer.num_threads says)
seed=1                 # seed of splits, initialisation and shuffling (the same for every pipeline)
archs=""               # architectures, each a run in exp/<arch>/seed<s> from <conf_dir>/train_<arch>.yaml ("" and seeds "": one run in exp/)
seeds=""               # training seeds of every architecture (folds stay dealt by --seed) ("": --seed)
datadir=data           # data dirs (stage 1)
dumpdir=dump           # cached features
expdir=exp             # models, teacher outputs, scores
download=false         # run local/download.sh in stage 0
local_data_opts=""     # options passed to local/data.sh
folds=""               # cross-validation folds to run ("": every fold stage 1 dealt, data/all/folds.txt); test fold k, validation from the others
fold_subset=false      # true: --folds may be a subset of the dealt folds (a quick run; the others' clips are never tested)
rates="1000 2000"      # low microphone rates (Hz)
duration=auto          # seconds per clip (cut or zero-padded) in the feature cache; auto: the longest clip's (stage 2 reports how many clips are padded or cut)
strict_rate=false      # stage 2 fails when the clips are not all at one sample rate (false: warns, naming them)
conf_dir=conf          # configs of one scale: train.yaml, grid.yaml and the option file cls.conf (e.g. conf/cpu)
train_conf=""          # the one training config (model, data, optimiser, trainer) ("": <conf_dir>/train.yaml)
init_args=""           # extra overrides of the initial 16 kHz generation, e.g. "trainer.max_epochs=30"
train_args=""          # overrides of every training, e.g. "trainer.max_epochs=2"
test_sets=""           # test sets of your own: data-dir paths (wav.scp, utt2label), scored by every fold's models at every rate
skip_train=false       # skip stages 3-9 (trainings, teacher outputs, grid): score the models already in exp/fold<k>/<model>/ (a best.pth, e.g. made elsewhere)
pretrained=""          # official PANNs AudioSet checkpoint (.pth) for the 16 kHz generation ("": from scratch); with --archs: "<arch>=<.pth> ..."
pretrained_url=""      # download pretrained from here in stage 0 (to downloads/)
pretrained_md5=""      # its checksum
grid_conf=""           # alpha and T lists, the pipeline, rate and fold searched on ("": <conf_dir>/grid.yaml)
grid_dir=""            # the grid's trainings and best.yaml ("": <expdir>/grid)
grid_search=true       # false: no stage 6, use <grid_dir>/best.yaml of an earlier run (later seeds of an architecture)
precompute_teacher=true      # teachers as precomputed logits (false: run live through TeacherSet)
ablations=false        # stage 9
metric=macro_accuracy  # headline metric: macro_accuracy (ESC-50, TAU) or macro_f1 (user data)
privacy=false          # stage 11
privacy_data=""        # speech data dirs with text for stage 11 (space-separated; from local/ or db.sh)
privacy_backends=pocketsphinx  # ASR backends of stage 11 (kdspeech.asr), e.g. "pocketsphinx moonshine"
deploy=true            # stage 12
deploy_archs="cnn14 resnet38 mobilenetv2"   # published full-size architectures also measured in stage 12
deploy_onnx=true       # stage 12 also exports every model to ONNX, checks onnxruntime against torch and times it
deploy_streaming=false # stage 12 also streams the models hop by hop (deploy --streaming; the recipe's
                       # classifiers pool over the clip: each is listed as one that cannot stream)
results=RESULTS.md     # the committed results file, the reference (stage 13 writes <expdir>/results/<this path>)
results_dir=results    # its plots and tables (stage 13 writes them in <expdir>/results/<this dir>)
update_results=false   # stage 14 also copies this run's results over the committed ones (for maintainers)
paper_results=""       # YAML of the paper's numbers, shown beside ours
title=""               # results title (default: <corpus>/<task>)
results_note=""        # text put under Table 1 (scale of the run, wall time...)
run_command=""         # the command the user ran, for RESULTS.md (run.sh passes it)

help_message="Usage: $0 [options]   (stages are listed at the top of $(basename "$0"))"
# --conf_dir anywhere on the command line: the options of its cls.conf go first, so that the
# command line overrides them (Kaldi option file: one --name=value a line, # comments).
conf_file_options() {  # a first pass of the options (utils/parse_options.sh) finds --conf_dir
  cls_command=$(printf '%q ' "$0" "$@")   # RESULTS.md's command when run.sh does not pass --run_command
  local word words=()
  for word in "$@"; do [[ ${word} == --help || ${word} == -h ]] || words+=("${word}"); done
  set -- ${words[@]+"${words[@]}"}   # --help waits for the second pass, which shows cls.conf's values
  . utils/parse_options.sh
  conf_opts=()
  [ ! -f "${conf_dir}/cls.conf" ] || mapfile -t conf_opts < <(grep -v -E '^[[:space:]]*(#|$)' "${conf_dir}/cls.conf")
}
conf_file_options "$@"
cls_args=("$@")   # as given: stages 3-10 of each architecture and seed re-run this script with them
set -- "${conf_opts[@]}" "$@"
. utils/parse_options.sh
train_conf=${train_conf:-${conf_dir}/train.yaml}
grid_conf=${grid_conf:-${conf_dir}/grid.yaml}
grid_dir=${grid_dir:-${expdir}/grid}
. ./path.sh
. ./cmd.sh
. utils/stage.sh
. utils/parallel.sh
. utils/template_lib.sh   # train_system, model_dep, compare_with_committed
declare -A sys_conf=()    # model_dep: the models of a run are trained by its stages, not listed

full=16000
all_rates="${full} ${rates}"
feats=${dumpdir}/feats
read -r -a rate_list <<< "${rates}"
lowest=${rate_list[0]}
for r in "${rate_list[@]}"; do [ "$r" -lt "${lowest}" ] && lowest=$r; done

device=cpu                               # of inference; training: utils/train.sh --ngpu
[ "${ngpu}" -gt 0 ] && device=cuda

die() { log "ERROR: $*"; exit 1; }

# Run "$@ <fold>" for every fold, ${train_jobs} folds at a time; the first failure stops the others.
for_folds() { parallel_each "${train_jobs}" "${folds}" "$@"; }

num_classes() { grep -c . "${datadir}/all/classes.txt"; }

train_model() {  # train_model <exp dir> <fold> <rate> [overrides...]
  local dir=$1 k=$2 rate=$3
  shift 3
  train_system "${train_conf}" "${datadir}/fold${k}/train" "${datadir}/fold${k}/valid" "${dir}" \
    task=classification "data.feats=${feats}/${rate}" "model.conf.num_classes=$(num_classes)" "$@"
}

# Student of a teacher: initialised from the 16 kHz model, loss alpha*CE + (1-alpha)*T^2*KL.
kd_model() {  # kd_model <exp dir> <fold> <student rate> <teacher dir> <teacher rate> <alpha> <T>
  local dir=$1 k=$2 rate=$3 teacher=$4 trate=$5 alpha=$6 T=$7 tspec loss
  loss=$(python -m kdspeech.bin.grid_cls loss "${alpha}" "${T}")
  if [ "${precompute_teacher}" = true ]; then
    tspec=("teachers.kd.precomputed=[${teacher}/teacher_${trate}/logits_train.npz,${teacher}/teacher_${trate}/logits_valid.npz]")
  elif [ "${trate}" = "${rate}" ]; then
    tspec=("teachers.kd.members=[${teacher}]" "teachers.kd.cache=true")
  else
    tspec=("teachers.kd.members=[${teacher}]" "teachers.kd.cache=true" "teachers.kd.input=input_${trate}"
           "data.views={input_${trate}: ${feats}/${trate}}")
  fi
  train_model "${dir}" "${k}" "${rate}" "model.conf.pretrained=${expdir}/fold${k}/init_16k/best.pth" \
    "${loss}" "valid_loss=[{name: ce, weight: 1.0}]" "${tspec[@]}"
}

infer() {  # infer <model dir> <data dir> <rate> <out npz> [--score_dir DIR]
  python -m kdspeech.bin.infer_cls --model "$1" --data "$2" --feats "${feats}/$3" --out "$4" --device "${device}" \
    "${@:5}"
}

teacher_outputs() {  # teacher_outputs <model dir> <fold> <rate>: logits on train and valid at <rate>
  local part
  for part in train valid; do
    infer "$1" "${datadir}/fold$2/${part}" "$3" "$1/teacher_$3/logits_${part}.npz"
  done
}

score_model() {  # score_model <model dir> <fold> <rate>
  infer "$1" "${datadir}/fold$2/test" "$3" "$1/score_$3/logits.npz" --score_dir "$1/score_$3"
}

score_test_set() {  # score_test_set <model dir> <rate> <test set data dir>: the whole set (--test_sets)
  local name out
  name=$(basename "$3")
  out=$1/score_$2_${name}
  python -m kdspeech.bin.infer_cls --model "$1" --data "$3" --feats "${feats}/test_${name}/$2" --out "${out}/logits.npz" \
    --device "${device}" --score_dir "${out}"
}

grid_point() {  # grid_point <exp dir> <fold> <rate> <teacher dir> <teacher rate> <alpha> <T>: train, score on valid
  kd_model "$@"
  infer "$1" "${datadir}/fold$2/valid" "$3" "$1/valid_$3/logits.npz" --score_dir "$1/valid_$3"
}

kd_best() {  # kd_best <exp dir> <fold> <rate> <teacher dir> <teacher rate>: with the grid's alpha, T
  local best
  best=$(python -m kdspeech.bin.grid_cls best "${grid_dir}/best.yaml")
  kd_model "$@" ${best}
}

# ---------------------------------------------------------------------------------------------------
if [ "${download}" = true ] && [ -x local/download.sh ]; then
  stage_run 0 "download corpus" --out downloads/corpus -- local/download.sh --dest downloads
fi
if [ -n "${pretrained_url}" ]; then
  dl=(--url "${pretrained_url}" --dest downloads/pretrained)
  [ -n "${pretrained_md5}" ] && dl+=(--md5 "${pretrained_md5}")
  stage_run 0 "download pretrained checkpoint" --out downloads/pretrained -- python utils/download.py "${dl[@]}"
fi

# Stage 1 reads from outside the recipe: db.sh's data_inputs (CSV, corpus folders) are in its fingerprint.
db_input_opts
stage_run 1 "data preparation" --out "${datadir}/all" ${input_opts[@]+"${input_opts[@]}"} -- \
  local/data.sh --out "${datadir}" --seed "${seed}" ${local_data_opts}

# The folds: every fold stage 1 dealt (data/all/folds.txt, "<fold> <test clips>"), or --folds checked
# against them, so that no fold's clips go untested without saying so.
check_folds() {
  local dealt_file=${datadir}/all/folds.txt dealt k missing=() skipped=() n_skipped=0 n_all=0
  if [ ! -f "${dealt_file}" ]; then
    [ "${stop_stage}" -lt 3 ] && return 0
    die "no ${dealt_file}: the folds are dealt by stage 1 (data preparation); run it first"
  fi
  dealt=$(cut -d' ' -f1 "${dealt_file}" | tr '\n' ' ')
  if [ -z "${folds}" ]; then folds=${dealt% }; return 0; fi
  for k in ${folds}; do grep -q -x -- "$k" <(cut -d' ' -f1 "${dealt_file}") || missing+=("$k"); done
  [ ${#missing[@]} -eq 0 ] || die "--folds '${folds}' names fold ${missing[*]}, but stage 1 dealt" \
    "folds ${dealt% } (${dealt_file}); drop --folds to run them all"
  while read -r k n; do
    n_all=$((n_all + n))
    if ! [[ " ${folds} " == *" $k "* ]]; then skipped+=("$k"); n_skipped=$((n_skipped + n)); fi
  done < "${dealt_file}"
  [ ${#skipped[@]} -eq 0 ] && return 0
  local what="--folds '${folds}' leaves out fold ${skipped[*]} of the $(wc -l < "${dealt_file}") that stage 1 dealt:"
  what+=" ${n_skipped} of ${n_all} clips ($((100 * n_skipped / n_all)) %) are never tested"
  [ "${fold_subset}" = true ] || die "${what}. Drop --folds to run every fold, deal fewer folds at" \
    "stage 1 (e.g. --local_data_opts \"--num_folds 3\"), or pass --fold_subset true for a partial run"
  log "WARNING: ${what} (--fold_subset true)"
}
check_folds

# --duration auto: the longest clip's duration (data/all/utt2dur when stage 1 wrote one, else the clips'
# headers), said with the count of clips it pads; a clip far longer than the rest is named in a warning.
if [ "${duration}" = auto ] && [ "${stop_stage}" -ge 2 ]; then
  [ -f "${datadir}/all/wav.scp" ] || die "--duration auto needs ${datadir}/all (stage 1, data preparation): run it first"
  duration=$(python -m kdspeech.bin.dump_feats --data "${datadir}/all" --print_duration) || die "--duration auto failed (above)"
fi

# Test sets of your own (data-dir paths): checked against the class list and copied at stage 2.
import_cls_set() {  # import_cls_set <src data dir> <dst dir>
  python -m kdspeech.bin.validate_data_dir "$1" --audio --any_rate --classes "${datadir}/all/classes.txt"
  rm -rf "$2"
  mkdir -p "$2"
  find "$1" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$2"/ \;
  cp "${datadir}/all/classes.txt" "$2/classes.txt"
}
for t in ${test_sets}; do
  [[ ${t} == */* ]] || die "--test_sets '${t}': a test set of your own is a data-dir path (e.g. data/${t}, or ./${t})"
done
external_sets 2 import_cls_set --deps "${datadir}/all" -- ${test_sets}
test_names=""
for t in ${test_sets}; do test_names+="${test_names:+ }$(set_name "${t}")"; done

for r in ${all_rates}; do
  for t in ${test_sets}; do
    stage_run 2 "features of test set ${t} at ${r} Hz" --out "${feats}/test_$(set_name "${t}")/${r}" --deps "$(set_dir "${t}")" \
      --param "duration=${duration}" --log "${feats}/test_$(set_name "${t}")/${r}/log/dump.log" -- \
      python -m kdspeech.bin.dump_feats --data "$(set_dir "${t}")" --rate "${r}" --out "${feats}/test_$(set_name "${t}")/${r}" \
        --duration "${duration}" --strict_rate "${strict_rate}"
  done
  stage_run 2 "features at ${r} Hz" --out "${feats}/${r}" --deps "${datadir}/all" --param "duration=${duration}" \
    --cmd "${train_cmd}" --log "${feats}/${r}/log/dump.log" -- \
    python -m kdspeech.bin.dump_feats --data "${datadir}/all" --rate "${r}" --out "${feats}/${r}" --duration "${duration}" \
      --strict_rate "${strict_rate}"
done

# Which model is scored at which rate: "<model>:<rate>".
systems="init_16k:${full}"
for r in ${rates}; do
  systems+=" init_16k:${r} ft_${r}:${r} basd_${r}:${r} cssd_${r}:${r}"
  if [ "${ablations}" = true ]; then
    systems+=" basd2_${r}:${r}"
    [ "${r}" -gt "${lowest}" ] && systems+=" cssdlow_${r}:${r}"
  fi
done

multi=false
[ -n "${archs}${seeds}" ] && multi=true
conf_arch() { python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["model"]["name"])' "$1"; }
arch_train_conf() {  # the training config of architecture $1: <conf_dir>/train_<arch>.yaml, or train_conf when its model is $1
  local c=${conf_dir}/train_$1.yaml
  if [ -f "$c" ]; then
    [ "$(conf_arch "$c")" = "$1" ] || die "${c} trains $(conf_arch "$c"), not $1 (its model.name)"
    echo "$c"
  elif [ "$(conf_arch "${train_conf}")" = "$1" ]; then echo "${train_conf}"; else
    die "no ${c} for architecture $1 (${train_conf} trains $(conf_arch "${train_conf}")): copy ${train_conf} to ${c}" \
      "and set model.name: $1 and its size"
  fi
}
pretrained_of() {  # the 16 kHz checkpoint of architecture $1: its "<arch>=<.pth>" word of --pretrained, or the one path
  local w
  for w in ${pretrained}; do [[ $w == "$1="* ]] && { echo "${w#*=}"; return 0; }; done
  [[ ${pretrained} == *=* ]] || echo "${pretrained}"
}
if [ "${multi}" = true ]; then
  [ -n "${archs}" ] || archs=$(conf_arch "${train_conf}")
  [ -n "${seeds}" ] || seeds=${seed}
  for a in ${archs}; do arch_train_conf "$a" > /dev/null || exit 1; done
  if [ -n "${pretrained}" ] && [[ ${pretrained} != *=* ]] && [ "$(wc -w <<< "${archs}")" -gt 1 ]; then
    die "--pretrained '${pretrained}' is one checkpoint for the architectures ${archs}: give '<arch>=<.pth> ...'"
  fi
  # Each run dir of stage 13: exp/<arch>/seed<s>
  run_dirs=$(for a in ${archs}; do for s in ${seeds}; do echo -n "${expdir}/$a/seed$s "; done; done)
else
  run_dirs=${expdir}
fi

# Several architectures and seeds (--archs, --seeds): stages 3-10 of each architecture and seed are this
# script run again with --expdir <expdir>/<arch>/seed<s>, the architecture's training config and the seed;
# the grid is searched by the first seed of an architecture (<expdir>/<arch>/grid) and reused by the others;
# each seed runs every architecture before the next seed starts.
# Stages 0-2, 11 (privacy), 12 (deployment) and 13 (results over every run) run once, here.
if [ "${multi}" = true ]; then
  lo=$(( stage > 3 ? stage : 3 )); hi=$(( stop_stage < 10 ? stop_stage : 10 ))
  read -r -a seed_list <<< "${seeds}"
  for s in ${seeds}; do     # seeds outer: a run cut short still has every architecture at its first seeds
    for a in ${archs}; do
      [ "${lo}" -le "${hi}" ] || continue
      run_opts=(--archs "" --seeds "" --seed "$s" --expdir "${expdir}/$a/seed$s" --train_conf "$(arch_train_conf "$a")"
                --pretrained "$(pretrained_of "$a")" --grid_dir "${expdir}/$a/grid" --stage "${lo}" --stop_stage "${hi}"
                --privacy false --deploy false --folds "${folds}")
      [ "$s" = "${seed_list[0]}" ] || run_opts+=(--grid_search false)
      log "architecture $a, seed $s: stages ${lo}-${hi} -> ${expdir}/$a/seed$s"
      "$0" ${cls_args[@]+"${cls_args[@]}"} "${run_opts[@]}" || die "architecture $a, seed $s failed (stages ${lo}-${hi})"
    done
  done
elif [ "${skip_train}" = false ]; then
  train_params=(--param "seed=${seed}" --param "train_args=${train_args}" --param "precompute_teacher=${precompute_teacher}")
  init_opts=()
  [ -n "${pretrained}" ] && init_opts+=("model.conf.pretrained=${pretrained}")
  stage3() {
    stage_run 3 "fold $1: initial 16 kHz generation" --out "${expdir}/fold$1/init_16k" --deps "${datadir}/all" \
      --deps "${feats}/${full}" --progress "${expdir}/fold$1/init_16k" --conf "${train_conf}" "${train_params[@]}" --param "init=${pretrained} ${init_args}" -- \
      train_model "${expdir}/fold$1/init_16k" "$1" "${full}" "${init_opts[@]}" ${init_args}
  }
  for_folds stage3

  stage4() {
    local r
    for r in ${rates}; do
      stage_run 4 "fold $1: fine-tune at ${r} Hz" --out "${expdir}/fold$1/ft_${r}" --deps "${expdir}/fold$1/init_16k" \
        --deps "${feats}/${r}" --progress "${expdir}/fold$1/ft_${r}" --conf "${train_conf}" "${train_params[@]}" -- \
        train_model "${expdir}/fold$1/ft_${r}" "$1" "${r}" "model.conf.pretrained=${expdir}/fold$1/init_16k/best.pth"
    done
  }
  for_folds stage4

  teacher_stage() {  # teacher_stage <fold> <model> <rate>
    [ "${precompute_teacher}" = true ] || return 0
    stage_run "$4" "fold $1: teacher outputs of $2 at $3 Hz" --out "${expdir}/fold$1/$2/teacher_$3" \
      --deps "${expdir}/fold$1/$2" --deps "${feats}/$3" -- teacher_outputs "${expdir}/fold$1/$2" "$1" "$3"
  }
  for k in ${folds}; do
    teacher_stage "$k" init_16k "${full}" 5
    for r in ${rates}; do teacher_stage "$k" "ft_${r}" "${r}" 5; done
  done

  # Grid search on one fold's validation data (never its test clips); best.yaml fixes alpha, T for all folds.
  grid=$(python -m kdspeech.bin.grid_cls search "${grid_conf}")
  { read -r g_pipeline g_rate g_fold; read -r g_alphas; read -r g_temps; } <<< "${grid}"
  if [ "${g_pipeline}" = cssd ]; then g_teacher=init_16k; g_trate=${full}; else g_teacher=ft_${g_rate}; g_trate=${g_rate}; fi
  grid_deps=()
  grid_tdeps=(--deps "${expdir}/fold${g_fold}/${g_teacher}")
  [ "${precompute_teacher}" = true ] && grid_tdeps+=(--deps "${expdir}/fold${g_fold}/${g_teacher}/teacher_${g_trate}")
  grid_points=""
  for a in ${g_alphas}; do
    for t in ${g_temps}; do
      grid_points+=" a${a}_T${t}"
      grid_deps+=(--deps "${grid_dir}/a${a}_T${t}")
    done
  done
  grid_stage() {  # grid_stage a<alpha>_T<T>: one point, ${train_jobs} at a time
    local d=${grid_dir}/$1 a t
    a=${1#a}; a=${a%%_T*}; t=${1##*_T}
    stage_run 6 "grid ${g_pipeline} at ${g_rate} Hz, fold ${g_fold}: alpha ${a}, T ${t}" --out "$d" \
      "${grid_tdeps[@]}" --deps "${feats}/${g_rate}" --conf "${train_conf}" --conf "${grid_conf}" "${train_params[@]}" \
      --progress "$d" -- \
      grid_point "$d" "${g_fold}" "${g_rate}" "${expdir}/fold${g_fold}/${g_teacher}" "${g_trate}" "${a}" "${t}"
  }
  if [ "${grid_search}" = true ]; then
    parallel_each "${train_jobs}" "${grid_points}" grid_stage
    stage_run 6 "grid search: select alpha, T by validation ${metric}" --out "${grid_dir}/select" "${grid_deps[@]}" -- \
      python -m kdspeech.bin.select_grid_cls --runs "${grid_dir}" --score "valid_${g_rate}" --metric "${metric}" \
        --out "${grid_dir}/best.yaml"
  elif [ "${stage}" -le 9 ] && [ "${stop_stage}" -ge 7 ] && [ ! -f "${grid_dir}/select/.done" ]; then
    die "--grid_search false, but ${grid_dir} holds no finished grid search (stage 6 of the run that searches it)"
  fi

  kd_stage() {  # kd_stage <stage> <fold> <name> <student rate> <teacher model> <teacher rate>
    local n=$1 k=$2 name=$3 rate=$4 teacher=$5 trate=$6 alpha T
    local tdeps=(--deps "${expdir}/fold${k}/${teacher}")
    [ "${precompute_teacher}" = true ] && tdeps+=(--deps "${expdir}/fold${k}/${teacher}/teacher_${trate}")
    stage_run "$n" "fold ${k}: ${name} at ${rate} Hz (teacher ${teacher} at ${trate} Hz)" --out "${expdir}/fold${k}/${name}" \
      "${tdeps[@]}" --deps "${grid_dir}/select" --deps "${feats}/${rate}" --conf "${train_conf}" "${train_params[@]}" \
      --progress "${expdir}/fold${k}/${name}" -- \
      kd_best "${expdir}/fold${k}/${name}" "${k}" "${rate}" "${expdir}/fold${k}/${teacher}" "${trate}"
  }
  stage7() { local r; for r in ${rates}; do kd_stage 7 "$1" "basd_${r}" "${r}" "ft_${r}" "${r}"; done; }
  for_folds stage7
  stage8() { local r; for r in ${rates}; do kd_stage 8 "$1" "cssd_${r}" "${r}" init_16k "${full}"; done; }
  for_folds stage8

  if [ "${ablations}" = true ]; then
    for k in ${folds}; do for r in ${rates}; do teacher_stage "$k" "basd_${r}" "${r}" 9; done; done
    stage9() {
      local r
      for r in ${rates}; do
        kd_stage 9 "$1" "basd2_${r}" "${r}" "basd_${r}" "${r}"
        [ "${r}" -gt "${lowest}" ] && kd_stage 9 "$1" "cssdlow_${r}" "${r}" "ft_${lowest}" "${lowest}"
      done
      return 0
    }
    for_folds stage9
  fi
fi

if [ "${multi}" = false ]; then
  # A model trained here by its stamp; with --skip_train, one made elsewhere by its file (model_dep).
  stage10() {
    local s m r dep
    for s in ${systems}; do
      m=${s%%:*}; r=${s##*:}
      dep="--deps ${expdir}/fold$1/${m}"
      if [ "${skip_train}" = true ] && ((10 >= stage && 10 <= stop_stage)); then
        dep=$(model_dep "fold$1/${m}") || return 1
      fi
      # shellcheck disable=SC2086  # option words
      stage_run 10 "fold $1: score ${m} at ${r} Hz" --out "${expdir}/fold$1/${m}/score_${r}" \
        ${dep} --deps "${feats}/${r}" -- score_model "${expdir}/fold$1/${m}" "$1" "${r}"
      for t in ${test_sets}; do
        # shellcheck disable=SC2086  # option words
        stage_run 10 "fold $1: score ${m} at ${r} Hz on test set ${t}" --out "${expdir}/fold$1/${m}/score_${r}_$(set_name "${t}")" \
          ${dep} --deps "$(set_dir "${t}")" --deps "${feats}/test_$(set_name "${t}")/${r}" -- \
          score_test_set "${expdir}/fold$1/${m}" "${r}" "$(set_dir "${t}")"
      done
    done
  }
  for_folds stage10
fi

result_deps=()
for d in ${run_dirs}; do
  for k in ${folds}; do
    for s in ${systems}; do
      result_deps+=(--deps "${d}/fold${k}/${s%%:*}/score_${s##*:}")
      for t in ${test_names}; do result_deps+=(--deps "${d}/fold${k}/${s%%:*}/score_${s##*:}_${t}"); done
    done
  done
done

if [ "${privacy}" = true ]; then
  pdeps=()
  for d in ${privacy_data}; do pdeps+=(--data "$d"); done
  stage_run 11 "privacy: speech recognition WER at 16 kHz and ${rates} Hz (${privacy_backends})" --out "${expdir}/privacy" \
    --param "data=${privacy_data}" -- \
    python -m kdspeech.bin.privacy_wer "${pdeps[@]}" --rates "${all_rates}" --asr_backends "${privacy_backends}" \
      --out_dir "${expdir}/privacy"
fi

if [ "${deploy}" = true ]; then
  # Every model of a run has the architecture of its 16 kHz generation: one row for it (per architecture:
  # its first seed's), one per published size.
  first_fold=$(set -- ${folds}; echo "$1")
  deploy_models=()
  if [ "${multi}" = true ]; then
    for a in ${archs}; do deploy_models+=("${expdir}/$a/seed$(set -- ${seeds}; echo "$1")/fold${first_fold}/init_16k"); done
  else
    deploy_models=("${expdir}/fold${first_fold}/init_16k")
  fi
  deploy_opts=(--models "${deploy_models[@]}" --seconds "${duration}" --sr "${full}" --num_threads 1
               --out_dir "${expdir}/deploy")
  # shellcheck disable=SC2206  # a list of names
  [ -n "${deploy_archs}" ] && deploy_opts+=(--arch ${deploy_archs} --arch_conf "num_classes=$(num_classes)")
  [ "${deploy_onnx}" = true ] && deploy_opts+=(--onnx)
  [ "${deploy_streaming}" = true ] && deploy_opts+=(--streaming)   # a command word: in the fingerprint
  deploy_deps=()
  for m in "${deploy_models[@]}"; do
    if [ "${skip_train}" = true ] && ((12 >= stage && 12 <= stop_stage)); then
      # shellcheck disable=SC2207  # option words
      deploy_deps+=($(model_dep "${m#"${expdir}"/}")) || exit 1
    else
      deploy_deps+=(--deps "$m")
    fi
  done
  stage_run 12 "deployment: parameters, MACs, CPU real-time factor of one ${duration} s clip" --out "${expdir}/deploy" \
    "${deploy_deps[@]}" -- python -m kdspeech.bin.deploy "${deploy_opts[@]}"
fi
run_results=${expdir}/results   # this run's results, laid out as the committed ones
result_args=(--exp "${expdir}" --folds "${folds}" --rates "${rates}" --metric "${metric}" --out "${run_results}/${results}"
             --plot_dir "${run_results}/${results_dir}" --title "${title:-$(basename "$(dirname "$PWD")")/$(basename "$PWD")}"
             --command "$(sed 's/ *$//' <<< "${run_command:-${cls_command}}")")
if [ "${multi}" = true ]; then
  result_args+=(--archs "${archs}" --seeds "${seeds}")   # grids: exp/<arch>/grid/best.yaml
  for a in ${archs}; do result_deps+=(--deps "${expdir}/$a/grid/select"); done
else
  result_args+=(--grid "${grid_dir}/best.yaml")
fi
[ "${ablations}" = true ] && result_args+=(--ablations)
[ -n "${test_names}" ] && result_args+=(--test_sets "${test_names}")
[ -n "${results_note}" ] && result_args+=(--note "${results_note}")
[ -n "${paper_results}" ] && result_args+=(--paper "${paper_results}")
[ "${privacy}" = true ] && result_args+=(--privacy "${expdir}/privacy/wer.json") && result_deps+=(--deps "${expdir}/privacy")
[ "${deploy}" = true ] && result_args+=(--deploy "${expdir}/deploy/deploy.json") && result_deps+=(--deps "${expdir}/deploy")
stage_run 13 "results" --out "${run_results}/${results_dir}" "${result_deps[@]}" --param "metric=${metric}" -- \
  python -m kdspeech.bin.make_results_cls "${result_args[@]}"

if [ "${stop_stage}" -ge 13 ] && [ "${stage}" -le 13 ]; then
  log "results: ${run_results}/${results} (tables and plots in ${run_results}/${results_dir}/)"
fi

# Stage 14: against the committed results (the reference), which only --update_results true rewrites.
compare_with_committed 14
