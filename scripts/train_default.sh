#!/usr/bin/env bash
# Reproduce the default model from nothing: data, VAE and DiT on shape (text and image
# conditioned), both fine-tuned in two rounds once the VAE encodes colour, a last round of
# the VAE's decoder alone, the DiT fine-tuned for images taken from any side (then again with
# a deeper image encoder, then with more views per shape, then the last two averaged), the
# eval classifier, eval.
#
#   scripts/train_default.sh            # CPU or GPU; every step resumes where it stopped
#   RUNS=runs/try2 DATA=data/shapes scripts/train_default.sh
#   BASE_VAE=runs/x/vae/model BASE_DIT=runs/x/dit/pipeline scripts/train_default.sh
#                                       # reuse the shape-only VAE and its DiT
#
# Each step is skipped when its output exists, and the training steps resume from their last
# checkpoint, so the script can be stopped and started again (a step per session on 2 CPU
# cores). Wall times of each step go to $RUNS/times.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap
gen3d=(.venv/bin/gen3d)
python=.venv/bin/python
DATA="${DATA:-data/shapes}"
RUNS="${RUNS:-runs/default}"
mkdir -p "$RUNS"
# Training images are rendered once per DiT run, one process per core.
render=(--render-workers "$(nproc)")

step() {  # step NAME DONE_MARKER COMMAND...
    local name="$1" marker="$2"
    shift 2
    if [[ -e "$marker" ]]; then
        echo "== $name: done ($marker)"
        return
    fi
    echo "== $name"
    local start=$SECONDS
    "$@"
    echo "$name: $(( (SECONDS - start) / 60 )) min on $(nproc) cores $(date -u +%F)" >> "$RUNS/times.log"
}

step "dataset" "$DATA/dataset.json" \
    "${gen3d[@]}" dataset build --procedural 2400 --out "$DATA"
# The VAE in two steps: shape first (vae-default.yaml), then the encoder's colour input,
# warm-started from it (vae-colour.yaml; the colour columns start at zero). BASE_VAE must be
# a vae-default.yaml model.
samples=(--batch-size 16 --surface 512 --near 1024 --volume 256 --val-shapes 8)
BASE_VAE="${BASE_VAE:-$RUNS/vae/model}"
step "vae" "$BASE_VAE/config.json" \
    "${gen3d[@]}" train-vae --config scripts/configs/vae-default.yaml --data "$DATA" \
        --out "$RUNS/vae" "${samples[@]}"
step "classifier" "$RUNS/classifier/classifier.json" \
    "$python" scripts/train_classifier.py --data "$DATA" --out "$RUNS/classifier"
# The DiT in two steps as well: on the shape VAE's latents, then on the colour VAE's,
# warm-started (the colour VAE starts from the shape VAE, so its latents start the same).
# BASE_DIT must be a pipeline trained on BASE_VAE.
BASE_DIT="${BASE_DIT:-$RUNS/dit/pipeline}"
step "dit" "$BASE_DIT/pipeline.json" \
    "${gen3d[@]}" train-dit --config scripts/configs/dit-default.yaml --vae "$BASE_VAE" \
        --data "$DATA" --out "$RUNS/dit" --image-size 64 "${render[@]}"
VAE="${VAE:-$RUNS/vae-colour/model}"
step "vae-colour" "$VAE/config.json" \
    "${gen3d[@]}" train-vae --config scripts/configs/vae-colour.yaml --init-from "$BASE_VAE" \
        --data "$DATA" --out "$RUNS/vae-colour" "${samples[@]}"
step "dit-colour" "$RUNS/dit-colour/pipeline/pipeline.json" \
    "${gen3d[@]}" train-dit --config scripts/configs/dit-colour.yaml --init-from "$BASE_DIT" \
        --vae "$VAE" --data "$DATA" --out "$RUNS/dit-colour" --image-size 64 "${render[@]}"
# A second round of both at lower learning rates, each warm-started from the first: one
# round of 1000 VAE steps left decoded colour far off (reconstruction colour accuracy 0.48).
VAE2="${VAE2:-$RUNS/vae-colour-2/model}"
step "vae-colour-2" "$VAE2/config.json" \
    "${gen3d[@]}" train-vae --config scripts/configs/vae-colour-2.yaml --init-from "$VAE" \
        --data "$DATA" --out "$RUNS/vae-colour-2" "${samples[@]}"
step "dit-colour-2" "$RUNS/dit-colour-2/pipeline/pipeline.json" \
    "${gen3d[@]}" train-dit --config scripts/configs/dit-colour-2.yaml \
        --init-from "$RUNS/dit-colour/pipeline" --vae "$VAE2" --data "$DATA" \
        --out "$RUNS/dit-colour-2" --image-size 64 "${render[@]}"
# Last, the VAE's decoder alone (its encoder frozen: every latent, so the DiT, stays valid),
# with colour at half weight: held-out F@0.02 0.894 -> 0.920. The final pipeline is the
# round-2 pipeline with this VAE in it.
VAE3="${VAE3:-$RUNS/vae-decoder-2/model}"
step "vae-decoder-2" "$VAE3/config.json" \
    "${gen3d[@]}" train-vae --config scripts/configs/vae-decoder-2.yaml --init-from "$VAE2" \
        --data "$DATA" --out "$RUNS/vae-decoder-2" "${samples[@]}"
with_vae() {  # with_vae PIPELINE VAE OUT: a copy of PIPELINE whose VAE is VAE
    rm -rf "$3.partial"
    cp -r "$1" "$3.partial"
    rm -rf "$3.partial/vae"
    cp -r "$2" "$3.partial/vae"
    mv "$3.partial" "$3"
}
step "pipeline-colour" "$RUNS/pipeline-colour/pipeline.json" \
    with_vae "$RUNS/dit-colour-2/pipeline" "$VAE3" "$RUNS/pipeline-colour"
# Last, image input from any side: the DiT and image encoder fine-tuned on renders from the
# reference view and 7 random views per shape (the VAE, so the latents, unchanged).
step "dit-views" "$RUNS/dit-views/pipeline/pipeline.json" \
    "${gen3d[@]}" train-dit --config scripts/configs/dit-views-2.yaml \
        --init-from "$RUNS/pipeline-colour" --vae "$VAE3" --data "$DATA" \
        --out "$RUNS/dit-views" --image-size 64 --image-views 8 "${render[@]}"
# Then a deeper image encoder (one residual block per stage, starting as the identity),
# fine-tuned the same way: thin parts found from the reference view 0.889 -> 0.931.
step "dit-deep" "$RUNS/dit-deep/pipeline/pipeline.json" \
    "${gen3d[@]}" train-dit --config scripts/configs/dit-views-deep.yaml \
        --init-from "$RUNS/dit-views/pipeline" --vae "$VAE3" --data "$DATA" \
        --out "$RUNS/dit-deep" --image-size 64 --image-views 8 --image-blocks 1 "${render[@]}"
# Then more of it, with 16 views per shape and 70% image steps: from random views, parts
# found 0.783 -> 0.858 on the test split.
step "dit-deep-2" "$RUNS/dit-deep-2/pipeline/pipeline.json" \
    "${gen3d[@]}" train-dit --config scripts/configs/dit-views-deep-2.yaml \
        --init-from "$RUNS/dit-deep/pipeline" --vae "$VAE3" --data "$DATA" \
        --out "$RUNS/dit-deep-2" --image-size 64 --image-views 16 "${render[@]}"
# Then the reference view in a fifth of the image steps (1 in 16 above): from the reference
# view, val F@0.05 0.875 -> 0.910; from random views, test parts found 0.858 -> 0.885 but
# val F@0.02 0.621 -> 0.580.
step "dit-deep-3" "$RUNS/dit-deep-3/pipeline/pipeline.json" \
    "${gen3d[@]}" train-dit --config scripts/configs/dit-views-deep-3.yaml \
        --init-from "$RUNS/dit-deep-2/pipeline" --vae "$VAE3" --data "$DATA" \
        --out "$RUNS/dit-deep-3" --image-size 64 --image-views 16 "${render[@]}"
# A sibling of dit-deep-3 from the same start: another seed, the reference view in a tenth of
# the image steps. Alone no better; it is there to be averaged with dit-deep-3.
step "dit-deep-3b" "$RUNS/dit-deep-3b/pipeline/pipeline.json" \
    "${gen3d[@]}" train-dit --config scripts/configs/dit-views-deep-3b.yaml \
        --init-from "$RUNS/dit-deep-2/pipeline" --vae "$VAE3" --data "$DATA" \
        --out "$RUNS/dit-deep-3b" --image-size 64 --image-views 16 "${render[@]}"
# Last, the two siblings averaged, weight for weight (a model soup,
# scripts/soup_pipelines.py): on 24 val shapes it beats each of them and the soup shipped
# before it (dit-deep-2 with dit-deep-3) from both views: random views F@0.05 / F@0.02 /
# parts found 0.845 / 0.630 / 0.793 against 0.823 / 0.621 / 0.750.
step "dit-soup" "$RUNS/dit-soup/pipeline.json" \
    "$python" scripts/soup_pipelines.py --a "$RUNS/dit-deep-3/pipeline" \
        --b "$RUNS/dit-deep-3b/pipeline" --weight 0.5 --out "$RUNS/dit-soup"
# The trained model's bake is a fair guess at an object's colours (measured with
# scripts/bench_pose.py --parts pipeline-refine), so refining from a photo fits the photo's
# light against it too: trust_bake in its pipeline.json.
with_trusted_bake() {  # with_trusted_bake PIPELINE VAE OUT
    rm -rf "$3.trusted"  # an interrupted run's, which with_vae's mv would nest into
    with_vae "$1" "$2" "$3.trusted"
    "$python" -c 'import json, sys; path = sys.argv[1] + "/pipeline.json"; config = json.load(open(path)); config["trust_bake"] = True; json.dump(config, open(path, "w"), indent=2)' "$3.trusted"
    mv "$3.trusted" "$3"
}
step "pipeline" "$RUNS/pipeline/pipeline.json" \
    with_trusted_bake "$RUNS/dit-soup" "$VAE3" "$RUNS/pipeline"
# Which way a photo looks at the object, a prior for refinement's view estimate: a small
# CNN trained apart from the DiT on its own renders, into the pipeline's view/ folder.
with_view_net() {  # with_view_net RUN PIPELINE
    "$python" scripts/train_view_net.py --data "$DATA" --out "$1" --epochs 10
    rm -rf "$2/view"
    cp -r "$1/model" "$2/view"
}
step "view-net" "$RUNS/pipeline/view/config.json" \
    with_view_net "$RUNS/view-net" "$RUNS/pipeline"
# Vertex colours instead of baked textures: the same field colours (the bake samples them),
# several times faster.
step "eval" "$RUNS/eval.json" \
    "${gen3d[@]}" eval --data "$DATA" --model "$RUNS/pipeline" \
        --classifier "$RUNS/classifier" --texture-size 0 --out "$RUNS/eval.json"
echo "pipeline: $RUNS/pipeline; eval: $RUNS/eval.json; times: $RUNS/times.log"
