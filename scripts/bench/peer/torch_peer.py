"""PyTorch peer for `npm run bench`: the same network, weights and inputs as Gaze, timed the same way.

Run by scripts/bench/peer.ts as
    /usr/bin/python3 scripts/bench/peer/torch_peer.py DIR
where DIR holds what the TypeScript side exported:
  model.json     the tfjs/Keras topology of the classifier (`LayersModel.toJSON`)
  weights.json   per layer: its weights' shapes and float32 offsets into weights.bin (tfjs layout)
  inputs.bin     the images, float32 NHWC in [0,1];  labels.bin: int32
  task.json      preprocessing (mean, std), threads, the CAM tap's layer, and the workloads to time
It prints one JSON object: the max |logit difference| against Gaze's logits (proof that it is the
same network) and, per workload, the time per call.

The interpreter below covers the layers of Gaze's built backbones (Conv2D with TensorFlow's 'same'
padding, BatchNormalization, Activation, MaxPooling2D, Add, GlobalAveragePooling2D, Dense,
Dropout, Flatten). Layouts are converted once: NHWC -> NCHW, HWIO kernels -> OIHW.
"""

import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def load(directory):
    with open(os.path.join(directory, "task.json")) as f:
        task = json.load(f)
    with open(os.path.join(directory, "model.json")) as f:
        topology = json.load(f)
    with open(os.path.join(directory, "weights.json")) as f:
        manifest = json.load(f)
    flat = np.fromfile(os.path.join(directory, "weights.bin"), dtype=np.float32)
    weights = {}
    for layer in manifest:
        weights[layer["layer"]] = [flat[w["offset"]: w["offset"] + int(np.prod(w["shape"]))].reshape(w["shape"]) for w in layer["weights"]]
    n, h, w, c = task["inputShape"]
    images = np.fromfile(os.path.join(directory, "inputs.bin"), dtype=np.float32).reshape(n, h, w, c)
    labels = np.fromfile(os.path.join(directory, "labels.bin"), dtype=np.int32)
    logits = np.fromfile(os.path.join(directory, "logits.bin"), dtype=np.float32).reshape(n, -1)
    return task, topology, weights, images, labels, logits


def tf_same_pad(x, kernel, stride):
    """TensorFlow's 'same' padding: the extra row/column goes to the bottom/right."""
    h, w = x.shape[2], x.shape[3]
    pads = []
    for size, k, s in ((w, kernel[1], stride[1]), (h, kernel[0], stride[0])):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads) if any(pads) else x


class Network:
    """The Keras functional graph as PyTorch functions over parameters (leaf tensors)."""

    def __init__(self, topology, weights, mean, std):
        config = topology["config"] if "config" in topology else topology["model_config"]["config"]
        self.layers = config["layers"]
        self.output = config["output_layers"][0][0]
        self.params = {}
        self.buffers = {}
        for layer in self.layers:
            name, cls = layer["name"], layer["class_name"]
            ws = weights.get(name, [])
            if cls == "Conv2D":
                self.params[name + "/kernel"] = torch.tensor(ws[0]).permute(3, 2, 0, 1).contiguous().requires_grad_()
                if layer["config"].get("use_bias", True):
                    self.params[name + "/bias"] = torch.tensor(ws[1]).requires_grad_()
            elif cls == "Dense":
                self.params[name + "/kernel"] = torch.tensor(ws[0]).t().contiguous().requires_grad_()
                if layer["config"].get("use_bias", True):
                    self.params[name + "/bias"] = torch.tensor(ws[1]).requires_grad_()
            elif cls == "BatchNormalization":
                cfg = layer["config"]
                i = 0
                if cfg.get("scale", True):
                    self.params[name + "/gamma"] = torch.tensor(ws[i]).requires_grad_()
                    i += 1
                if cfg.get("center", True):
                    self.params[name + "/beta"] = torch.tensor(ws[i]).requires_grad_()
                    i += 1
                self.buffers[name + "/mean"] = torch.tensor(ws[i]).clone()
                self.buffers[name + "/var"] = torch.tensor(ws[i + 1]).clone()
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    def forward(self, x, training=False, keep=()):
        """x: NCHW in [0,1] -> logits, and the outputs of the layers named in `keep`."""
        values = {}
        kept = {}
        for layer in self.layers:
            name, cls, cfg = layer["name"], layer["class_name"], layer["config"]
            inputs = [values[node[0]] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
            if cls == "InputLayer":
                y = (x - self.mean) / self.std
            elif cls == "Conv2D":
                z = inputs[0]
                stride = tuple(cfg["strides"])
                if cfg["padding"] == "same":
                    z = tf_same_pad(z, cfg["kernel_size"], stride)
                y = F.conv2d(z, self.params[name + "/kernel"], self.params.get(name + "/bias"), stride=stride)
                if cfg.get("activation") == "relu":
                    y = F.relu(y)
            elif cls == "BatchNormalization":
                y = F.batch_norm(
                    inputs[0], self.buffers[name + "/mean"], self.buffers[name + "/var"],
                    self.params.get(name + "/gamma"), self.params.get(name + "/beta"),
                    training=training, momentum=1 - cfg["momentum"], eps=cfg["epsilon"],
                )
            elif cls == "Activation":
                y = F.relu(inputs[0]) if cfg["activation"] == "relu" else inputs[0]
            elif cls == "MaxPooling2D":
                y = F.max_pool2d(inputs[0], tuple(cfg["pool_size"]), tuple(cfg["strides"]))
            elif cls == "Add":
                y = inputs[0]
                for other in inputs[1:]:
                    y = y + other
            elif cls == "GlobalAveragePooling2D":
                y = inputs[0].mean(dim=(2, 3))
            elif cls == "Flatten":
                y = inputs[0].permute(0, 2, 3, 1).flatten(1)  # NHWC order, as Keras flattens
            elif cls == "Dense":
                y = F.linear(inputs[0], self.params[name + "/kernel"], self.params.get(name + "/bias"))
                if cfg.get("activation") == "relu":
                    y = F.relu(y)
            elif cls == "Dropout":
                y = F.dropout(inputs[0], cfg["rate"], training) if cfg["rate"] > 0 else inputs[0]
            else:
                raise ValueError(f"torch_peer: layer class {cls} ({name}) is not supported")
            values[name] = y
            if name in keep:
                kept[name] = y
        return values[self.output], kept


def timed(fn, repeats, warmup=1):
    """The median seconds per call over `repeats` calls after `warmup`, as the TypeScript side times."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def minmax(m):
    lo = m.flatten(1).min(1)[0].view(-1, 1, 1)
    hi = m.flatten(1).max(1)[0].view(-1, 1, 1)
    return torch.where(hi > lo, (m - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(m))


def gradcam(net, x, target, tap):
    x = x.detach()
    logits, kept = net.forward(x, keep=(tap,))
    a = kept[tap]
    score = logits.gather(1, target.view(-1, 1)).sum()
    (g,) = torch.autograd.grad(score, a)
    cam = F.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)[:, 0]
    return minmax(cam.detach())


def rise_masks(n, cells, p, h, w, generator):
    """RISE masks: cells x cells binary grids, upsampled bilinearly to (cells+1) cells, randomly shifted crops."""
    cell_h, cell_w = math.ceil(h / cells), math.ceil(w / cells)
    grids = (torch.rand(n, 1, cells, cells, generator=generator) < p).float()
    up = F.interpolate(grids, size=((cells + 1) * cell_h, (cells + 1) * cell_w), mode="bilinear", align_corners=False)
    dy = torch.randint(0, cell_h, (n,), generator=generator)
    dx = torch.randint(0, cell_w, (n,), generator=generator)
    return torch.stack([up[i, 0, dy[i]: dy[i] + h, dx[i]: dx[i] + w] for i in range(n)])


def rise(net, x, target, masks, p, rows):
    """Every image against every mask, `rows` masked images per forward, as Gaze batches them."""
    b = x.shape[0]
    n = masks.shape[0]
    per = max(1, rows // b)
    sal = torch.zeros(b, x.shape[2], x.shape[3])
    with torch.no_grad():
        for start in range(0, n, per):
            m = masks[start: start + per]  # [k,H,W]
            k = m.shape[0]
            batch = (x.unsqueeze(1) * m.view(1, k, 1, x.shape[2], x.shape[3])).view(b * k, *x.shape[1:])
            probs = F.softmax(net.forward(batch)[0], dim=1).view(b, k, -1)
            pt = probs.gather(2, target.view(b, 1, 1).expand(b, k, 1))[..., 0]  # [b,k]
            sal += torch.einsum("bk,khw->bhw", pt, m)
    return minmax(sal / (n * p))


def gaussian_blur(x, kernel, sigma):
    r = kernel // 2
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    g = torch.exp(-(t ** 2) / (2 * sigma * sigma))
    g = g / g.sum()
    c = x.shape[1]
    w = (g.view(-1, 1) * g.view(1, -1)).expand(c, 1, kernel, kernel).contiguous()
    return F.conv2d(x, w, padding=r, groups=c)


def causal_auc(net, x, target, maps, steps, mode, rows):
    """Deletion (to black) or insertion (from the blurred image) with `steps` steps; trapezoid AUC per image."""
    b, c, h, w = x.shape
    n = h * w
    counts = [(2 * i * n + steps) // (2 * steps) for i in range(steps + 1)]
    substrate = torch.zeros_like(x) if mode == "deletion" else gaussian_blur(x, 11, 5.0)
    start, finish = (x, substrate) if mode == "deletion" else (substrate, x)
    order = torch.argsort(-maps.view(b, n), dim=1, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(n).expand(b, n))
    aucs = []
    with torch.no_grad():
        for i in range(b):
            keep = torch.stack([(rank[i] < k).view(h, w) for k in counts]).unsqueeze(1)  # [S+1,1,H,W]
            imgs = torch.where(keep, finish[i: i + 1], start[i: i + 1])
            scores = []
            for s in range(0, imgs.shape[0], rows):
                probs = F.softmax(net.forward(imgs[s: s + rows])[0], dim=1)
                scores.append(probs[:, target[i]])
            y = torch.cat(scores)
            aucs.append(float((y.sum() - y[0] / 2 - y[-1] / 2) / steps))
    return aucs


def main():
    task, topology, weights, images, labels, gaze_logits = load(sys.argv[1])
    torch.set_num_threads(task["threads"])
    torch.manual_seed(0)
    net = Network(topology, weights, task["mean"], task["std"])
    x = torch.tensor(images).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor(labels, dtype=torch.long)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "workloads": {}}
    with torch.no_grad():
        logits = net.forward(x)[0].numpy()
    out["maxLogitDiff"] = float(np.abs(logits - gaze_logits).max())
    repeats = task["repeats"]
    for workload in task["workloads"]:
        kind = workload["kind"]
        if kind == "train-step":
            params = list(net.params.values())
            optimizer = torch.optim.Adam(params, lr=1e-3, eps=1e-7)

            def step():
                optimizer.zero_grad()
                loss = F.cross_entropy(net.forward(x, training=True)[0], y)
                loss.backward()
                optimizer.step()

            seconds = timed(step, repeats, warmup=2)
            out["workloads"][workload["name"]] = {"seconds": seconds, "images": x.shape[0]}
        elif kind == "forward":
            with torch.no_grad():
                seconds = timed(lambda: net.forward(x), repeats)
            out["workloads"][workload["name"]] = {"seconds": seconds, "images": x.shape[0]}
        elif kind == "gradcam":
            seconds = timed(lambda: gradcam(net, x, y, task["camLayer"]), repeats)
            out["workloads"][workload["name"]] = {"seconds": seconds, "images": x.shape[0]}
        elif kind == "rise":
            xs, ys = x[: workload["images"]], y[: workload["images"]]
            g = torch.Generator().manual_seed(0)
            masks = rise_masks(workload["n"], 7, 0.5, x.shape[2], x.shape[3], g)
            seconds = timed(lambda: rise(net, xs, ys, masks, 0.5, workload["rows"]), 1, warmup=0)
            out["workloads"][workload["name"]] = {"seconds": seconds, "images": xs.shape[0]}
        elif kind == "deletion-insertion":
            xs, ys = x[: workload["images"]], y[: workload["images"]]
            maps = gradcam(net, xs, ys, task["camLayer"])
            start = time.perf_counter()
            causal_auc(net, xs, ys, maps, workload["steps"], "deletion", workload["rows"])
            causal_auc(net, xs, ys, maps, workload["steps"], "insertion", workload["rows"])
            out["workloads"][workload["name"]] = {"seconds": time.perf_counter() - start, "images": xs.shape[0]}
        else:
            raise ValueError(f"unknown workload kind {kind}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
