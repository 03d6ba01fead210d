#!/usr/bin/env bash
# Issue 10: the real-size Tora transformer step on a GPU, ours (ONNX Runtime CUDA EP, C#) against PyTorch
# (diffusers' CogVideoXTransformer3DModel, bf16, SDPA, eager and torch.compile) on the same random weights and
# inputs, in one run. Prints the table last. Every step fails loudly (set -e, explicit checks, "FAILED:").
#
#   bench/gpu/run.sh --prepare [--full]   HERE (dev machine, dotnet + the diffusers mirror): self-contained publish,
#                                         diffusers source, one .tar.xz bundle split into parts that each fit one
#                                         device call next to the working tree; prints the calls to make.
#   bench/gpu/run.sh --receive            THERE (GPU machine), once per part: stores the carried part(s) in $WORK;
#                                         after the last one checks the SHA-256 sums, unpacks the bundle and goes
#                                         straight on with the stages in the same call (the fewest calls).
#   bench/gpu/run.sh [--stages a,b,...]   THERE: the measurement, stages in order, each skipped once done (markers
#                                         in $WORK), so a run cut by the 10-minute call limit goes on where it stopped.
#   bench/gpu/run.sh --dry-run            HERE: the whole flow on the tiny config with CUDA absent (the fallback to
#                                         CPU is asserted) and PyTorch skipped unless TORCH_PYTHON names a python
#                                         with torch; exercises every other step.
#
# Stages, in budget order (default): env tiny check ckpt packages ours torch table; on request: profile fallback.
#   Correctness first (tiny fixture on CUDA: fp32 within 1e-4 of the original, fp16/bf16 drift; every graph of the
#   tiny fp32/fp16/bf16/I2V-bf16 packages placed on CUDA with the CPU fallback disabled, after the start-up Conv),
#   then the real-size bf16 step and its memory, then PyTorch on the same machine. See bench/README.md (GPU) for
#   the device-time plan: 15 minutes in all, calls of at most 10 minutes.
# Call budget: a stage starts only when its estimate fits in what is left of the call (CALL_BUDGET seconds, default
#   540; the estimates are EST_<stage> below); otherwise run.sh stops with exit code 75 and "CONTINUE:", and the
#   next call goes on from there. Results go to $OUT after every stage, so a call cut short still returns them.
# Environment: TORA_GPU_WORK (work folder; default /root/tora-gpu there, a temp folder in --dry-run),
#   RUNS (timed runs, default 5), WARMUP (default 1), PYTHON (default python3), TORCH_PYTHON (dry run only),
#   PRECISIONS (real-size packages, default "bf16"; the first is timed with motion off and on),
#   TORCH_MODES (default eager; add fp32 and compile when the budget allows), ORT_CUDA_OPTIONS (extra CUDA provider
#   options for every step run, space-separated key=value, e.g. "sdpa_kernel=8" to pin cuDNN flash attention),
#   CALL_BUDGET (seconds one call may use, default 540 there, unlimited in --dry-run),
#   DIFFUSERS_GIT (--prepare; default /work/.mirror/huggingface+diffusers/repo), COMPILE_MODE (default "default").
# Disk on the GPU machine: checkpoint 11.3 GB + one transformer-only bf16 package 11.3 GB (+ inputs, tiny packages).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
GPU="$ROOT/.gpu"
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
PYTHON=${PYTHON:-python3}
COMPILE_MODE=${COMPILE_MODE:-default}
CARRY_LIMIT=$((64 * 1024 * 1024))

die() { echo "run.sh: FAILED: $*" >&2; exit 1; }
say() { echo "[run.sh $(date -u +%H:%M:%S)] $*"; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed"; }

# ---------------------------------------------------------------------------------------------- prepare (here)
prepare() {
    local full=${1:-}
    need dotnet; need git; need xz; need python3; need split; need sha256sum
    local diffusers_git=${DIFFUSERS_GIT:-/work/.mirror/huggingface+diffusers/repo}
    [[ -d $diffusers_git ]] || die "no diffusers mirror at $diffusers_git (set DIFFUSERS_GIT)"
    rm -rf "$GPU/bundle" "$GPU/parts" "$GPU/bundle.tar.xz"
    mkdir -p "$GPU/bundle" "$GPU/parts"

    say "publishing the tora CLI self-contained for linux-x64 (Release, untrimmed)"
    dotnet publish src/Tora.Cli -c Release -r linux-x64 --self-contained -p:PublishTrimmed=false -v:q -o "$GPU/bundle/publish" \
        || die "dotnet publish"
    local pub="$GPU/bundle/publish"
    [[ -x $pub/tora && -f $pub/libonnxruntime_providers_cuda.so ]] || die "the publish lacks tora or the ORT CUDA provider"
    # Not needed for the measurement: the TensorRT provider and debug symbols.
    rm -f "$pub"/libonnxruntime_providers_tensorrt.so "$pub"/*.pdb
    if [[ $full != --full ]]; then
        say "pruning the CUDA provider's fatbins to sm_90 (bench/gpu/prune_fatbin.py; --full keeps every architecture)"
        python3 bench/gpu/prune_fatbin.py "$pub/libonnxruntime_providers_cuda.so" "$pub/libonnxruntime_providers_cuda.so.sm90" || die "prune"
        mv "$pub/libonnxruntime_providers_cuda.so.sm90" "$pub/libonnxruntime_providers_cuda.so"
    fi
    say "publish: $(du -sh "$pub" | cut -f1) uncompressed"

    say "diffusers source from $diffusers_git ($(git --git-dir "$diffusers_git" rev-parse HEAD))"
    mkdir -p "$GPU/bundle/diffusers"
    git --git-dir "$diffusers_git" archive --format=tar HEAD src/diffusers | tar -x -C "$GPU/bundle/diffusers" --strip-components=1 \
        || die "git archive of the diffusers source"
    git --git-dir "$diffusers_git" rev-parse HEAD > "$GPU/bundle/diffusers/COMMIT"
    say "diffusers/: $(du -sh "$GPU/bundle/diffusers" | cut -f1)"

    say "compressing the bundle (xz -6)"
    tar -C "$GPU/bundle" -cf - publish diffusers | xz -T0 -6 > "$GPU/bundle.tar.xz" || die "tar/xz"
    local bundle_bytes tree_bytes part
    bundle_bytes=$(stat -c %s "$GPU/bundle.tar.xz")
    # What every device call sends anyway: tracked and untracked-not-ignored files.
    tree_bytes=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
    part=$((CARRY_LIMIT - tree_bytes - 2 * 1024 * 1024))
    ((part > 1024 * 1024)) || die "the working tree ($tree_bytes bytes) leaves no room to carry anything"
    split -b "$part" -d -a 2 "$GPU/bundle.tar.xz" "$GPU/parts/part-"
    (cd "$GPU/parts" && sha256sum part-* > SHA256SUMS)
    local n; n=$(find "$GPU/parts" -name "part-*" | wc -l)
    say "bundle $((bundle_bytes / 1048576)) MiB; working tree $((tree_bytes / 1048576)) MiB; $n part(s) of ≤ $((part / 1048576)) MiB"
    echo
    echo "On the GPU machine (device tool 'run'), back to back (a machine is given back 30 s after a call):"
    local p
    for p in "$GPU/parts"/part-*; do
        echo "  carry [\".gpu/parts/$(basename "$p")\", \".gpu/parts/SHA256SUMS\"]  command: bash bench/gpu/run.sh --receive"
    done
    echo "then: bash bench/gpu/run.sh   (as many calls as needed; each goes on from the last finished stage)"
}

# ---------------------------------------------------------------------------------------------- receive (there)
receive() {
    need sha256sum; need xz
    mkdir -p "$WORK/parts"
    [[ -f $GPU/parts/SHA256SUMS ]] || die "carry .gpu/parts/SHA256SUMS with every part"
    cp "$GPU/parts/SHA256SUMS" "$WORK/parts/"
    local got=0 p
    for p in "$GPU/parts"/part-*; do
        [[ -f $p ]] || continue
        cp "$p" "$WORK/parts/" && got=$((got + 1))
    done
    local missing=()
    while read -r _ name; do [[ -f $WORK/parts/$name ]] || missing+=("$name"); done < "$WORK/parts/SHA256SUMS"
    say "received $got part(s) in this call; missing: ${missing[*]:-none}"
    ((${#missing[@]} == 0)) || return 0
    (cd "$WORK/parts" && sha256sum --quiet -c SHA256SUMS) || die "a part is corrupt: carry it again"
    rm -rf "$WORK/bundle" && mkdir -p "$WORK/bundle"
    cat "$WORK/parts"/part-* | xz -dc | tar -x -C "$WORK/bundle" || die "unpacking the bundle"
    rm -rf "$WORK/parts"
    say "bundle unpacked in $WORK/bundle: $(ls "$WORK/bundle")"
    RECEIVED=1
}

# ---------------------------------------------------------------------------------------------- stages
done_marker() { [[ -f $WORK/done.$1 ]]; }
finish() { touch "$WORK/done.$1"; say "stage $1 done"; collect; }

# Copies what the stages wrote so far to $OUT (at most 8 files come back: a tarball of the small results, the
# table and the progress); called after every stage, so a call stopped by its limit still returns its results.
collect() {
    [[ -n ${OUT:-} && -d ${OUT:-} ]] || return 0
    local keep=() f
    for f in logs profile table.txt env.txt results.jsonl torch.jsonl diffs.txt diffs_real.txt attention.txt check.txt; do
        [[ -e $WORK/$f ]] && keep+=("$f")
    done
    ls "$WORK"/done.* 2>/dev/null | sed 's/.*done\./done: /' > "$OUT/progress.txt" || true
    ((${#keep[@]})) || return 0
    tar -C "$WORK" -czf "$OUT/gpu-results.tar.gz" --exclude='*.npy' --exclude='*.npz' --exclude='*.onnx.data' "${keep[@]}" \
        || die "collecting results into \$OUT"
    [[ -f $WORK/table.txt ]] && cp "$WORK/table.txt" "$OUT/table.txt"
    return 0
}

# Seconds each stage is expected to take on the GPU machine (estimates until measured; bench/README.md).
EST_env=20 EST_tiny=60 EST_check=60 EST_ckpt=60 EST_packages=90 EST_ours=150 EST_torch=90 EST_table=10 EST_profile=90 EST_fallback=15

# The tora binary, its folder (native libraries) and the diffusers source for this mode.
locate_tools() {
    if ((DRY)); then
        if [[ -x $GPU/bundle/publish/tora ]]; then TORA_DIR="$GPU/bundle/publish"
        else
            say "building the tora CLI (Release) for the dry run"
            dotnet build src/Tora.Cli -c Release -v:q -p:UseSharedCompilation=true >/dev/null || die "dotnet build"
            TORA_DIR="$ROOT/src/Tora.Cli/bin/Release/net10.0/linux-x64"
        fi
        DIFFUSERS_SRC="$GPU/bundle/diffusers"
    else
        TORA_DIR="$WORK/bundle/publish"
        DIFFUSERS_SRC="$WORK/bundle/diffusers"
        [[ -x $TORA_DIR/tora ]] || die "no $TORA_DIR/tora: run --prepare here and --receive there first"
    fi
    TORA="$TORA_DIR/tora"
}

stage_env() {
    say "tora: $TORA"
    "$TORA" --help >/dev/null || die "the tora binary does not start"
    if ((DRY)); then
        echo "dry run: no GPU expected" > "$WORK/env.txt"
    else
        need nvidia-smi
        nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$WORK/env.txt" || die "nvidia-smi"
        # CUDA 13 + cuDNN 9 user-space libraries: the pip wheels (nvidia-cublas, nvidia-cudnn-cu13, …) of the
        # machine's PyTorch environment. Every folder with a lib*.so goes on the library path.
        local roots dirs
        roots=$("$PYTHON" -c 'import nvidia; print(" ".join(nvidia.__path__))') || die "$PYTHON has no 'nvidia' wheel packages (CUDA/cuDNN libraries)"
        # shellcheck disable=SC2086
        dirs=$(find $roots -name 'lib*.so*' -printf '%h\n' | sort -u | paste -sd:)
        [[ -n $dirs ]] || die "no CUDA libraries under $roots"
        echo "$dirs" > "$WORK/ld_library_path"
        "$PYTHON" -m pip list 2>/dev/null | grep -Ei '^(nvidia-(cublas|cudnn|cuda-runtime|cufft|curand)|torch |onnxruntime)' | tee -a "$WORK/env.txt" || true
        local missing
        missing=$(LD_LIBRARY_PATH="$dirs" ldd "$TORA_DIR/libonnxruntime_providers_cuda.so" | grep 'not found' || true)
        [[ -z $missing ]] || die "the ORT CUDA provider misses libraries: $missing"
        say "ORT CUDA provider: every library resolves"
    fi
    finish env
}

CUDA_LIBS_SET=0
use_cuda_libs() {
    if ((!DRY && !CUDA_LIBS_SET)); then
        CUDA_LIBS_SET=1
        [[ -f $WORK/ld_library_path ]] || die "stage env has not run"
        local dirs
        dirs=$(cat "$WORK/ld_library_path")
        export LD_LIBRARY_PATH="$dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
}

stage_ckpt() {
    rm -rf "$WORK/ckpt"
    "$TORA" model random --config "$CONFIG" --only transformer --out "$WORK/ckpt" || die "tora model random"
    finish ckpt
}

stage_packages() {
    local p
    for p in $PRECISIONS; do
        rm -rf "$WORK/pkg-$p"
        "$TORA" model build --from "$WORK/ckpt" --out "$WORK/pkg-$p" --precision "$p" --only transformer || die "tora model build $p"
    done
    finish packages
}

# Runs `tora bench step`, logs to $WORK/logs/<name>.log, and checks which provider ran.
bench() {
    local name=$1; shift
    mkdir -p "$WORK/logs"
    local extra=() kv
    for kv in ${ORT_CUDA_OPTIONS:-}; do extra+=(--cuda-option "$kv"); done
    say "tora bench step $* ${extra[*]}"
    "$TORA" bench step "$@" "${extra[@]}" 2>&1 | tee "$WORK/logs/$name.log"
    [[ ${PIPESTATUS[0]} == 0 ]] || die "tora bench step ($name)"
    if ((DRY)); then
        grep -q "FALLING BACK TO CPU" "$WORK/logs/$name.log" || die "$name: expected the CUDA→CPU fallback line on this machine"
    else
        grep -q "execution provider: CUDAExecutionProvider" "$WORK/logs/$name.log" || die "$name: the CUDA execution provider was not used"
        ! grep -q "FALLING BACK" "$WORK/logs/$name.log" || die "$name: fell back to CPU"
    fi
}

stage_tiny() {
    # The tiny fixture on the device: fp32 must match the original within 1e-4 (tests/data/fixtures/README.md); the
    # half-precision packages are reported against the same reference.
    local ref="$ROOT/tests/data/fixtures/tiny-tora-t2v" p
    for p in $TINY_PRECISIONS; do
        rm -rf "$WORK/tiny-$p"
        "$TORA" model build --from "$ref" --out "$WORK/tiny-$p" --precision "$p" --only transformer >/dev/null || die "tiny build $p"
        bench "tiny-$p" --package "$WORK/tiny-$p" --inputs "$ref/reference/transformer_t2v.npz" --warmup 1 --runs 3 \
            --noise-pred "$WORK/tiny_${p}_noise_pred.npy"
        local tol=(); [[ $p == fp32 ]] && tol=(--max-abs 1e-4)
        "$TORA" bench diff --label "tiny $p vs original (fp32 CPU)" --actual "$WORK/tiny_${p}_noise_pred.npy" \
            --expected "$ref/reference/transformer_t2v.npz:noise_pred_t999" "${tol[@]}" | tee -a "$WORK/diffs.txt" \
            || die "tiny $p outside tolerance"
    done
    finish tiny
}

stage_check() {
    # Full tiny packages (every graph: text encoder, trajectory encoder, transformer, VAE encoder and decoder) at
    # fp32, fp16, bf16 and I2V bf16, each session created on CUDA with the CPU fallback disabled after the
    # start-up Conv (`tora model check`, docs/gpu.md). In the dry run CUDA is absent: the check must refuse at once.
    local ref="$ROOT/tests/data/fixtures/tiny-tora-t2v" p name log="$WORK/check.txt"
    : > "$log"
    for p in fp32 fp16 bf16 i2v-bf16; do
        name="full-$p"
        rm -rf "$WORK/$name"
        local extra=()
        [[ $p == i2v-* ]] && extra=(--transformer "$ROOT/tests/data/fixtures/tiny-tora-i2v/transformer")
        "$TORA" model build --from "$ref" --out "$WORK/$name" --precision "${p#i2v-}" "${extra[@]}" >/dev/null || die "tiny full build $p"
        set +e
        "$TORA" model check --package "$WORK/$name" > "$WORK/check-$p.txt" 2>&1
        local rc=$?
        set -e
        { echo "== $p (exit $rc)"; cat "$WORK/check-$p.txt"; } | tee -a "$log"
        if ((DRY)); then
            ((rc == 2)) && grep -q "cannot be used on device" "$WORK/check-$p.txt" || die "check $p: expected the one-line CUDA refusal on this machine"
        else
            ((rc == 0)) || die "check $p: a graph is not placed on CUDA with the fallback disabled, or the device probe failed"
        fi
    done
    if ((!DRY)) && command -v ffmpeg >/dev/null 2>&1; then
        # The whole tiny pipeline on CUDA (VAE encode/decode included), 4 steps.
        "$TORA" generate --model "$WORK/full-fp32" --prompt "A squirrel gathering nuts." --steps 4 --seed 42 \
            --out "$WORK/tiny.mp4" 2>&1 | tee "$WORK/generate.txt"
        [[ ${PIPESTATUS[0]} == 0 ]] || die "tiny generate on CUDA"
        cat "$WORK/generate.txt" >> "$log"
        grep -q "execution provider: CUDAExecutionProvider" "$WORK/generate.txt" || die "tiny generate did not run on CUDA"
    else
        say "tiny generate skipped ($( ((DRY)) && echo 'dry run' || echo 'no ffmpeg on this machine'))" | tee -a "$log"
    fi
    finish check
}

stage_ours() {
    local first=${PRECISIONS%% *} p
    rm -f "$WORK/results.jsonl"
    # Motion off first: writes the shared inputs and the noise prediction PyTorch's base model is compared with.
    bench "${first}-motion-off" --package "$WORK/pkg-$first" --motion off --warmup "$WARMUP" --runs "$RUNS" \
        --save-inputs "$WORK/inputs.npz" --noise-pred "$WORK/ours_${first}_noise_pred.npy" --json "$WORK/results.jsonl"
    bench "${first}-motion-on" --package "$WORK/pkg-$first" --motion on --inputs "$WORK/inputs.npz" --warmup "$WARMUP" --runs "$RUNS" \
        --json "$WORK/results.jsonl"
    for p in ${PRECISIONS#"$first"}; do
        bench "${p}-motion-off" --package "$WORK/pkg-$p" --motion off --inputs "$WORK/inputs.npz" --warmup "$WARMUP" --runs "$RUNS" \
            --noise-pred "$WORK/ours_${p}_noise_pred.npy" --json "$WORK/results.jsonl"
    done
    finish ours
}

stage_profile() {
    local first=${PRECISIONS%% *}
    mkdir -p "$WORK/profile"
    # One profiled run (its time is not a figure), the attention kernel ORT picks per node, and the optimised
    # graph's op counts (fused attention: MultiHeadAttention nodes and no Softmax).
    ORT_ENABLE_ATTENTION_KERNEL_DEBUG_INFO=1 bench "profile-$first" --package "$WORK/pkg-$first" --motion on \
        --inputs "$WORK/inputs.npz" --warmup 1 --runs 1 --profile "$WORK/profile/ort" --optimized-model "$WORK/profile/transformer_optimized.onnx"
    rm -f "$WORK/profile/transformer_optimized.onnx.data"  # 11 GB of weights: only the graph is inspected
    grep -iE "attention check|kernel|sdpa|flash|cudnn|efficient" "$WORK/logs/profile-$first.log" | sort | uniq -c | sort -rn | head -20 \
        > "$WORK/attention.txt" || true
    cat "$WORK/attention.txt"
    finish profile
}

stage_fallback() {
    # With no CUDA libraries on the path the provider must fall back to CPU and say so.
    local log="$WORK/logs/fallback.log"
    mkdir -p "$WORK/logs"
    [[ -d $WORK/tiny-fp32 ]] || die "stage tiny has not run"
    env LD_LIBRARY_PATH= "$TORA" bench step --package "$WORK/tiny-fp32" --device cuda --warmup 0 --runs 1 2>&1 | tee "$log"
    [[ ${PIPESTATUS[0]} == 0 ]] || die "fallback run failed"
    grep -q "FALLING BACK TO CPU" "$log" || die "no fallback line without the CUDA libraries"
    finish fallback
}

stage_torch() {
    local py=$PYTHON device=cuda modes=${TORCH_MODES:-eager}
    if ((DRY)); then
        if [[ -z ${TORCH_PYTHON:-} ]] || ! "$TORCH_PYTHON" -c 'import torch' 2>/dev/null; then
            say "PyTorch side SKIPPED in the dry run (set TORCH_PYTHON to a python with torch, numpy, safetensors)"
            finish torch; return
        fi
        py=$TORCH_PYTHON; device=cpu; modes=fp32
    fi
    [[ -d $DIFFUSERS_SRC/diffusers ]] || die "no diffusers source at $DIFFUSERS_SRC"
    rm -f "$WORK/torch.jsonl"
    PYTHONUNBUFFERED=1 "$py" bench/gpu/pytorch_step.py --diffusers-src "$DIFFUSERS_SRC" --checkpoint "$WORK/ckpt" \
        --inputs "$WORK/inputs.npz" --out "$WORK" --modes "$modes" --device "$device" --warmup "$WARMUP" --runs "$RUNS" \
        --compile-mode "$COMPILE_MODE" 2>&1 | tee "$WORK/logs/torch.log"
    [[ ${PIPESTATUS[0]} == 0 ]] || die "pytorch_step.py"
    finish torch
}

stage_table() {
    local first=${PRECISIONS%% *} p
    : > "$WORK/diffs_real.txt"
    d() { "$TORA" bench diff --label "$1" --actual "$2" --expected "$3" | tee -a "$WORK/diffs_real.txt" || die "diff $1"; }
    if [[ -f $WORK/torch_fp32_noise_pred.npy ]]; then
        for p in $PRECISIONS; do d "ours $p vs PyTorch fp32" "$WORK/ours_${p}_noise_pred.npy" "$WORK/torch_fp32_noise_pred.npy"; done
        [[ -f $WORK/torch_eager_noise_pred.npy ]] && d "PyTorch bf16 vs PyTorch fp32" "$WORK/torch_eager_noise_pred.npy" "$WORK/torch_fp32_noise_pred.npy"
        [[ -f $WORK/torch_eager_noise_pred.npy ]] && d "ours $first vs PyTorch bf16" "$WORK/ours_${first}_noise_pred.npy" "$WORK/torch_eager_noise_pred.npy"
    else
        for p in ${PRECISIONS#"$first"}; do d "ours $p vs ours $first (no PyTorch run)" "$WORK/ours_${p}_noise_pred.npy" "$WORK/ours_${first}_noise_pred.npy"; done
    fi
    local e2e="not measured at real size (needs the real VAE and text encoder); the tiny pipeline on CUDA: stage check (check.txt)"
    python3 - "$WORK" "$e2e" "$CONFIG" <<'PY' | tee "$WORK/table.txt"
import json, os, sys
work, e2e, config = sys.argv[1], sys.argv[2], sys.argv[3]
def rows(name):
    p = os.path.join(work, name)
    return [json.loads(l) for l in open(p) if l.strip()] if os.path.exists(p) else []
ours, torch = rows("results.jsonl"), rows("torch.jsonl")
env = open(os.path.join(work, "env.txt")).read().strip() if os.path.exists(os.path.join(work, "env.txt")) else ""
geometry = "latents [2, 13, 16, 60, 90], 480x720" if config == "cogvideox-5b" else f"{config} config"
print(f"\n==== issue 10: transformer step, CFG batch 2 ({geometry}) ====")
print(env)
print(f"{'side':<38}{'median ms':>11}{'min':>9}{'max':>9}{'runs':>6}{'peak GPU MiB':>14}")
for r in ours:
    name = f"ours ORT {r['ort']} {r['provider'].replace('ExecutionProvider', '')} {r['precision']} motion {'on' if r['motion'] else 'off'}"
    peak = 'n/a' if r['peak_gpu_mib'] is None else str(r['peak_gpu_mib'])
    print(f"{name:<38}{r['median_ms']:>11.1f}{r['min_ms']:>9.1f}{r['max_ms']:>9.1f}{r['runs']:>6}{peak:>14}")
for r in torch:
    if 'median_ms' not in r: continue
    name = f"PyTorch {r['torch'].split('+')[0]} bf16 {r['mode']}"
    print(f"{name:<38}{r['median_ms']:>11.1f}{r['min_ms']:>9.1f}{r['max_ms']:>9.1f}{r['runs']:>6}{str(r.get('peak_reserved_mib')) + ' reserved':>14}")
base = next((r for r in ours if not r['motion'] and r['precision'] == 'bf16'), None)
for r in torch:
    if base and 'median_ms' in r:
        print(f"ratio ours bf16 (motion off) / PyTorch {r['mode']}: {base['median_ms'] / r['median_ms']:.2f}")
print(f"end to end (50 steps, VAE decode): {e2e}")
PY
    cat "$WORK/diffs.txt" "$WORK/diffs_real.txt" 2>/dev/null || true
    [[ -f $WORK/attention.txt ]] && { echo "attention:"; cat "$WORK/attention.txt"; }
    finish table
}

# ---------------------------------------------------------------------------------------------- main
DRY=0
MODE=measure
STAGES="env tiny check ckpt packages ours torch table"
FULL=
while (($#)); do
    case $1 in
        --prepare) MODE=prepare ;;
        --full) FULL=--full ;;
        --receive) MODE=receive ;;
        --dry-run) DRY=1 ;;
        --stages) shift; STAGES=${1//,/ } ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
done

if ((DRY)); then
    WORK=${TORA_GPU_WORK:-$(mktemp -d /tmp/tora-gpu-dry.XXXXXX)}
    CONFIG=tiny
    PRECISIONS="fp32 fp16"        # the CPU provider has no bf16 MatMul: bf16 runs on the GPU only
    TINY_PRECISIONS="fp32 fp16"
else
    WORK=${TORA_GPU_WORK:-/root/tora-gpu}
    CONFIG=cogvideox-5b
    PRECISIONS=${PRECISIONS:-bf16}        # fp16 real size on request; fp32 real size: PyTorch's fp32 step is the reference instead
    TINY_PRECISIONS="fp32 fp16 bf16"
fi
mkdir -p "$WORK"

CALL_START=$(date +%s)
if ((DRY)); then CALL_BUDGET=${CALL_BUDGET:-0}; else CALL_BUDGET=${CALL_BUDGET:-540}; fi
RECEIVED=0
case $MODE in
    prepare) prepare "$FULL"; exit 0 ;;
    receive) receive; ((RECEIVED)) || exit 0 ;;
esac

say "work folder $WORK; stages: $STAGES; $( ((DRY)) && echo 'DRY RUN (tiny config, no CUDA)' || echo 'GPU run')"
locate_tools
for s in $STAGES; do
    case $s in env|ckpt|packages|tiny|check|ours|profile|fallback|torch|table) ;; *) die "unknown stage '$s'" ;; esac
    if done_marker "$s"; then say "stage $s already done (rm $WORK/done.$s to redo)"; continue; fi
    est_var=EST_$s
    left=$((CALL_BUDGET - ($(date +%s) - CALL_START)))
    if ((CALL_BUDGET > 0 && ${!est_var} > left)); then
        collect
        echo "CONTINUE: stage $s needs about ${!est_var} s and this call has $left s left; call 'bash bench/gpu/run.sh' again now (the machine stays warm 30 s)"
        exit 75
    fi
    [[ $s == env ]] || use_cuda_libs
    say "==== stage $s"
    start=$(date +%s)
    "stage_$s"
    say "stage $s took $(($(date +%s) - start)) s"
done
