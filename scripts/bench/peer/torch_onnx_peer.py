"""PyTorch side of the 224 px ONNX workloads of `npm run bench` (scripts/bench/onnx-peer.ts).

    /usr/bin/python3 scripts/bench/peer/torch_onnx_peer.py DIR THREADS REPEATS MODEL:BATCH[:CAM_LAYER] ...

For each model: builds the torchvision architecture with seeded random weights (batch norm
statistics moved off their defaults so they matter), exports it to DIR/<model>/model.onnx
(dynamic batch), writes the batch it times (input.npy, NCHW, fed to both frameworks as is) and
its logits (logits.npy), then times in eval mode, with no autograd where none is needed:
  forward  model(x)
  gradcam  a forward hook on CAM_LAYER, d(top logit)/d(activation) by autograd.grad, channel
           weights = mean gradient, ReLU(sum w A), bilinear upsampling to 224 (align_corners=False)
Prints one JSON object: torch version, threads, and per workload the median seconds per call.
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

from torch_peer import BUDGET, timed  # this script's folder is on sys.path when it runs


def build(name, generator):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1, generator=generator)
            m.running_var.uniform_(0.5, 1.5, generator=generator)
    return model


def main():
    out, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    BUDGET.update(json.loads(os.environ.get("GAZE_TIMING_BUDGET", "{}")))  # the TypeScript side's timing budget
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "workloads": {}}
    for spec in sys.argv[4:]:
        name, batch, *rest = spec.split(":")
        batch = int(batch)
        generator = torch.Generator().manual_seed(0)
        model = build(name, generator)
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        x = torch.rand(batch, 3, 224, 224, generator=generator)
        torch.onnx.export(model, x[:1], os.path.join(folder, "model.onnx"), opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        np.save(os.path.join(folder, "input.npy"), x.numpy())
        with torch.no_grad():
            np.save(os.path.join(folder, "logits.npy"), model(x).numpy())
            result["workloads"][f"{name}:forward"] = {"seconds": timed(lambda: model(x), repeats), "images": batch}
        if rest:
            layer = model.get_submodule(rest[0])
            store = {}
            handle = layer.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))

            def gradcam():
                logits = model(x)
                a = store["a"]
                (g,) = torch.autograd.grad(logits.max(1).values.sum(), a)
                cam = F.relu((g.mean((2, 3), keepdim=True) * a).sum(1, keepdim=True))
                return F.interpolate(cam, size=(224, 224), mode="bilinear", align_corners=False)

            result["workloads"][f"{name}:gradcam"] = {"seconds": timed(gradcam, repeats), "images": batch}
            handle.remove()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
