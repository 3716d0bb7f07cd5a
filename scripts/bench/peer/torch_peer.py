"""PyTorch peer for `npm run bench`: the same network, weights and inputs as Gaze, timed the same way.

Run by scripts/bench/peer.ts as
    /usr/bin/python3 scripts/bench/peer/torch_peer.py DIR
where DIR holds what the TypeScript side exported:
  model.json     the tfjs/Keras topology of the classifier (`LayersModel.toJSON`)
  weights.json   per layer: its weights' shapes and float32 offsets into weights.bin (tfjs layout)
  inputs.bin     the images, float32 NHWC in [0,1];  labels.bin: int32
  task.json      preprocessing (mean, std), threads, the device ('cpu', or 'cuda' for the GPU
                 benchmark), the CAM tap's layer, and the workloads to time
  tame_maps.bin  Gaze's TAME maps for the predicted classes, to check the peer's against
  tame.json, tame.bin   (with TAME workloads) the head's taps (layer names), map side, and its
                 weights by name: branch<i>/{kernel,bias,gamma,beta,movingMean,movingVariance},
                 fusion/{kernel,bias}
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


BUDGET = {"warmupSeconds": 0.0, "measureSeconds": 0.0}
MAX_CALLS = 500
# Waits for the device's queued work; a no-op on the CPU, torch.cuda.synchronize on a GPU (use_device).
SYNC = [lambda: None]


def use_device(device):
    """Runs everything after this on `device` ('cpu' or 'cuda'): new tensors land there by default
    (torch >= 2.0) and timed() waits for the device after each call."""
    if device == "cpu":
        return
    torch.set_default_device(device)
    SYNC[0] = torch.cuda.synchronize


def timed(fn, repeats, warmup=1):
    """The median seconds per call over at least `repeats` calls and BUDGET's measureSeconds,
    after at least `warmup` calls and (when warmup > 0) its warmupSeconds: the protocol of scripts/bench/timed.ts."""
    start = time.perf_counter()
    done = 0
    while done < warmup or (warmup > 0 and time.perf_counter() - start < BUDGET["warmupSeconds"]):
        fn()
        SYNC[0]()
        done += 1
    times = []
    spent = 0.0
    while len(times) < repeats or (spent < BUDGET["measureSeconds"] and len(times) < MAX_CALLS):
        t0 = time.perf_counter()
        fn()
        SYNC[0]()
        seconds = time.perf_counter() - t0
        times.append(seconds)
        spent += seconds
    times.sort()
    return times[len(times) // 2]


def reset_peak_rss():
    """Resets Linux's resident high-water mark (VmHWM) to the current RSS, as scripts/bench/memory.ts does."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss():
    """Bytes: the resident high-water mark since the last reset_peak_rss."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


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
    # Drawn on the CPU (the generator's device), then moved to the default device.
    grids = (torch.rand(n, 1, cells, cells, generator=generator, device="cpu") < p).float()
    up = F.interpolate(grids, size=((cells + 1) * cell_h, (cells + 1) * cell_w), mode="bilinear", align_corners=False)
    dy = torch.randint(0, cell_h, (n,), generator=generator, device="cpu")
    dx = torch.randint(0, cell_w, (n,), generator=generator, device="cpu")
    return torch.stack([up[i, 0, dy[i]: dy[i] + h, dx[i]: dx[i] + w] for i in range(n)]).to(torch.empty(0).device)


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


class Tame:
    """TAME's attention (variant `tame`) over the network's tapped layers, with Gaze's weights."""

    def __init__(self, directory):
        with open(os.path.join(directory, "tame.json")) as f:
            spec = json.load(f)
        flat = np.fromfile(os.path.join(directory, "tame.bin"), dtype=np.float32)
        w = {e["name"]: torch.tensor(flat[e["offset"]: e["offset"] + int(np.prod(e["shape"]))].reshape(e["shape"])) for e in spec["weights"]}
        self.layers = spec["layers"]
        self.side = spec["side"]
        self.params = []
        self.branches = []
        for i in range(len(self.layers)):
            b = {
                "kernel": w[f"branch{i}/kernel"].permute(3, 2, 0, 1).contiguous().requires_grad_(),
                "bias": w[f"branch{i}/bias"].clone().requires_grad_(),
                "gamma": w[f"branch{i}/gamma"].clone().requires_grad_(),
                "beta": w[f"branch{i}/beta"].clone().requires_grad_(),
                "mean": w[f"branch{i}/movingMean"].clone(),
                "var": w[f"branch{i}/movingVariance"].clone(),
            }
            self.branches.append(b)
        self.fusion_kernel = w["fusion/kernel"].permute(3, 2, 0, 1).contiguous().requires_grad_()
        self.fusion_bias = w["fusion/bias"].clone().requires_grad_()
        # The reference's parameter groups: weights with weight decay, biases at twice the rate without.
        self.weights = [b["kernel"] for b in self.branches] + [b["gamma"] for b in self.branches] + [self.fusion_kernel]
        self.biases = [b["bias"] for b in self.branches] + [b["beta"] for b in self.branches] + [self.fusion_bias]

    def forward(self, features, training):
        outs = []
        for b, f in zip(self.branches, features):
            z = F.conv2d(f, b["kernel"], b["bias"])
            z = F.batch_norm(z, b["mean"], b["var"], b["gamma"], b["beta"], training=training, momentum=0.1, eps=1e-5)
            z = F.relu(z + f)
            outs.append(F.interpolate(z, size=(self.side, self.side), mode="bilinear", align_corners=False))
        return F.conv2d(torch.cat(outs, 1), self.fusion_kernel, self.fusion_bias)


def tame_loss(masks, logits, target):
    ce = F.cross_entropy(logits, target)
    area = ((masks + 5e-4) ** 0.3).mean()
    dh = (masks[:, 1:, :] - masks[:, :-1, :]) ** 2
    dw = (masks[:, :, 1:] - masks[:, :, :-1]) ** 2
    border = (masks[:, 0, :] ** 2).sum() + (masks[:, -1, :] ** 2).sum() + (masks[:, :, 0] ** 2).sum() + (masks[:, :, -1] ** 2).sum()
    tv = (dh.sum() + dw.sum() + 0.3 * border) / (2 * masks.shape[0])
    return 1.5 * ce + 2 * area + 0.01 * tv


def tame_train_step(net, tame, optimizer, x):
    with torch.no_grad():
        logits, kept = net.forward(x, keep=tuple(tame.layers))
    target = logits.argmax(1)
    features = [kept[name] for name in tame.layers]
    maps = torch.sigmoid(tame.forward(features, True))
    masks = maps[torch.arange(x.shape[0]), target]
    up = F.interpolate(masks[:, None], size=x.shape[2:], mode="bilinear", align_corners=False)
    loss = tame_loss(masks, net.forward(x * up)[0], target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def tame_inference(net, tame, x, target):
    with torch.no_grad():
        _, kept = net.forward(x, keep=tuple(tame.layers))
        c = tame.forward([kept[name] for name in tame.layers], False)
        m = minmax(c[torch.arange(x.shape[0]), target])
        return F.interpolate(m[:, None], size=x.shape[2:], mode="bilinear", align_corners=False)[:, 0]


def main():
    task, topology, weights, images, labels, gaze_logits = load(sys.argv[1])
    torch.set_num_threads(task["threads"])
    BUDGET.update(task.get("budget", {}))
    use_device(task.get("device", "cpu"))
    torch.manual_seed(0)
    net = Network(topology, weights, task["mean"], task["std"])
    x = torch.tensor(images).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor(labels, dtype=torch.long)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "workloads": {}}
    with torch.no_grad():
        logits = net.forward(x)[0].cpu().numpy()
    out["maxLogitDiff"] = float(np.abs(logits - gaze_logits).max())
    if os.path.exists(os.path.join(sys.argv[1], "tame_maps.bin")):
        # The same head: its maps for the predicted classes must be Gaze's.
        gaze_maps = np.fromfile(os.path.join(sys.argv[1], "tame_maps.bin"), dtype=np.float32)
        maps = tame_inference(net, Tame(sys.argv[1]), x, torch.tensor(logits).argmax(1)).cpu().numpy().ravel()
        out["maxTameMapDiff"] = float(np.abs(maps - gaze_maps).max())
    repeats = task["repeats"]
    for workload in task["workloads"]:
        kind = workload["kind"]
        reset_peak_rss()
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
            SYNC[0]()
            start = time.perf_counter()
            causal_auc(net, xs, ys, maps, workload["steps"], "deletion", workload["rows"])
            causal_auc(net, xs, ys, maps, workload["steps"], "insertion", workload["rows"])
            SYNC[0]()
            out["workloads"][workload["name"]] = {"seconds": time.perf_counter() - start, "images": xs.shape[0]}
        elif kind in ("tame-train-step", "tame-inference"):
            tame = Tame(sys.argv[1])
            # The backbone is frozen, as in the reference (requires_grad_(False)): no weight gradients.
            for p in net.params.values():
                p.requires_grad_(False)
            if kind == "tame-train-step":
                optimizer = torch.optim.SGD(
                    [{"params": tame.weights, "weight_decay": 5e-4}, {"params": tame.biases, "lr": 2e-3, "weight_decay": 0}],
                    lr=1e-3, momentum=0.9, nesterov=True,
                )
                seconds = timed(lambda: tame_train_step(net, tame, optimizer, x), repeats, warmup=2)
            else:
                with torch.no_grad():
                    predicted = net.forward(x)[0].argmax(1)
                seconds = timed(lambda: tame_inference(net, tame, x, predicted), repeats)
            for p in net.params.values():
                p.requires_grad_(True)
            out["workloads"][workload["name"]] = {"seconds": seconds, "images": x.shape[0]}
        else:
            raise ValueError(f"unknown workload kind {kind}")
        out["workloads"][workload["name"]]["peakRss"] = peak_rss()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
