"""PyTorch side of the 224 px workloads of `npm run bench` (scripts/bench/onnx-peer.ts), in two runs:

    /usr/bin/python3 scripts/bench/peer/torch_onnx_peer.py export DIR MODEL:BATCH ...
    /usr/bin/python3 scripts/bench/peer/torch_onnx_peer.py time DIR

export: for each model, builds the torchvision architecture with seeded random weights (batch norm
statistics moved off their defaults so they matter), exports it to DIR/<model>/model.onnx
(dynamic batch), and writes the batch both sides time (input.npy, NCHW, fed to both frameworks
as is) and its logits (logits.npy). The TypeScript side then loads the .onnx file, checks its
logits and, for TAME, writes its head's weights (tame.json, tame.bin, as torch_peer.py reads
them) and maps (tame_maps.bin).

time: reads DIR/task.json ({threads, repeats, budget, device?, models: [{model, batch, camLayer?,
tame?, rise?: {n, cells, p, batchSize}}]}), rebuilds each model from the same seed (on the CPU,
then moved to the device: 'cpu' or 'cuda') and times, in eval
mode, with no autograd where none is needed:
  forward   model(x)
  gradcam   a forward hook on camLayer, d(top logit)/d(activation) by autograd.grad, channel
            weights = mean gradient, ReLU(sum w A), bilinear upsampling to 224 (align_corners=False)
  tame      one training step of TAME over the hooked layers (torch_peer.py's Tame and
            tame_train_step: frozen backbone, SGD with Nesterov momentum), after checking that
            its maps are Gaze's
  rise      RISE with n masks on the batch's first image for its predicted class, batchSize
            masked images per forward
Prints one JSON object: torch version, threads, per workload the median seconds per call and its
peak resident memory (bytes), and per TAME model the max |map difference| against Gaze's.
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

# this script's folder is on sys.path when it runs
from torch_peer import BUDGET, Tame, peak_rss, reset_peak_rss, rise, rise_masks, tame_inference, tame_train_step, timed, use_device


def build(name):
    """The seeded model, built on the CPU (the same weights on every device), then moved to the default device."""
    device = torch.empty(0).device
    if device.type != "cpu":
        torch.set_default_device("cpu")
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = getattr(torchvision.models, name)().eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1, generator=generator)
            m.running_var.uniform_(0.5, 1.5, generator=generator)
    if device.type != "cpu":
        torch.set_default_device(device)
    return model.to(device), generator


class Hooked:
    """A torchvision model with torch_peer.py's network interface: forward(x, keep=names) -> (logits, {name: output})."""

    def __init__(self, model):
        self.model = model

    def forward(self, x, training=False, keep=()):
        kept = {}
        handles = [self.model.get_submodule(name).register_forward_hook(lambda m, i, o, name=name: kept.__setitem__(name, o)) for name in keep]
        try:
            return self.model(x), kept
        finally:
            for h in handles:
                h.remove()


def export(out, specs):
    for spec in specs:
        name, batch = spec.split(":")
        model, generator = build(name)
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        x = torch.rand(int(batch), 3, 224, 224, generator=generator)
        options = dict(opset_version=13, input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        try:  # torch >= 2.5 defaults to the dynamo exporter (it needs onnxscript): ask for the TorchScript one
            torch.onnx.export(model, x[:1], os.path.join(folder, "model.onnx"), dynamo=False, **options)
        except TypeError:  # torch < 2.5 has only that one, and no `dynamo` argument
            torch.onnx.export(model, x[:1], os.path.join(folder, "model.onnx"), **options)
        np.save(os.path.join(folder, "input.npy"), x.numpy())
        with torch.no_grad():
            np.save(os.path.join(folder, "logits.npy"), model(x).numpy())


def gradcam(model, x, layer):
    store = {}
    handle = model.get_submodule(layer).register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    try:
        logits = model(x)
        a = store["a"]
        (g,) = torch.autograd.grad(logits.max(1).values.sum(), a)
        cam = F.relu((g.mean((2, 3), keepdim=True) * a).sum(1, keepdim=True))
        return F.interpolate(cam, size=(224, 224), mode="bilinear", align_corners=False)
    finally:
        handle.remove()


def measured(result, key, images, fn):
    reset_peak_rss()
    seconds = fn()
    result["workloads"][key] = {"seconds": seconds, "images": images, "peakRss": peak_rss()}


def time_all(out):
    with open(os.path.join(out, "task.json")) as f:
        task = json.load(f)
    torch.set_num_threads(task["threads"])
    BUDGET.update(task["budget"])  # the TypeScript side's timing budget
    use_device(task.get("device", "cpu"))
    repeats = task["repeats"]
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "workloads": {}, "maxTameMapDiff": {}}
    for spec in task["models"]:
        name = spec["model"]
        folder = os.path.join(out, name)
        model, _ = build(name)
        x = torch.tensor(np.load(os.path.join(folder, "input.npy")))
        batch = x.shape[0]
        with torch.no_grad():
            measured(result, f"{name}:forward", batch, lambda: timed(lambda: model(x), repeats))
        if spec.get("camLayer"):
            measured(result, f"{name}:gradcam", batch, lambda: timed(lambda: gradcam(model, x, spec["camLayer"]), repeats))
        if spec.get("tame"):
            net = Hooked(model)
            tame = Tame(folder)
            with torch.no_grad():
                predicted = model(x).argmax(1)
            gaze_maps = np.fromfile(os.path.join(folder, "tame_maps.bin"), dtype=np.float32)
            maps = tame_inference(net, tame, x, predicted).cpu().numpy().ravel()
            result["maxTameMapDiff"][name] = float(np.abs(maps - gaze_maps).max())
            # The backbone is frozen, as in the reference: no weight gradients.
            for p in model.parameters():
                p.requires_grad_(False)
            optimizer = torch.optim.SGD(
                [{"params": tame.weights, "weight_decay": 5e-4}, {"params": tame.biases, "lr": 2e-3, "weight_decay": 0}],
                lr=1e-3, momentum=0.9, nesterov=True,
            )
            measured(result, f"{name}:tame", batch, lambda: timed(lambda: tame_train_step(net, tame, optimizer, x), repeats, warmup=2))
            for p in model.parameters():
                p.requires_grad_(True)
        if spec.get("rise"):
            r = spec["rise"]
            masks = rise_masks(r["n"], r["cells"], r["p"], 224, 224, torch.Generator().manual_seed(0))
            with torch.no_grad():
                target = model(x[:1]).argmax(1)
            net = Hooked(model)
            # One call of a few minutes: no warm-up, as for Gaze.
            measured(result, f"{name}:rise", 1, lambda: timed(lambda: rise(net, x[:1], target, masks, r["p"], r["batchSize"]), 1, warmup=0))
    print(json.dumps(result))


def main():
    if sys.argv[1] == "export":
        export(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "time":
        time_all(sys.argv[2])
    else:
        raise SystemExit(f"usage: {sys.argv[0]} export DIR MODEL:BATCH ... | time DIR")


if __name__ == "__main__":
    main()
