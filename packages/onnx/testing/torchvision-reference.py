"""Exports seeded random-init torchvision models to ONNX and writes PyTorch's reference numbers.

For each model: model.onnx, input.npy (the NCHW batch fed as is), logits.npy, and per CAM layer
gradcam.<layer>.npy (Grad-CAM from a forward hook on that module, upsampled bilinearly with
align_corners=False to the input size, [N,H,W]) and input_grad.npy (d target logit / d input,
NCHW), where the target of each image is its top logit. Run with Debian's /usr/bin/python3.

usage: torchvision-reference.py OUT_DIR NAME[:layer,layer...] ... [--opset N] [--batch N] [--size N] [--fixed-batch] [--num-classes K]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '2')))

# Small stand-ins where a full torchvision model would make the test slow; same op types.
def small_vgg(batch_norm):
    cfg = [16, 'M', 32, 'M', 64, 64, 'M']
    layers = torchvision.models.vgg.make_layers(cfg, batch_norm=batch_norm)
    model = torchvision.models.VGG(layers, num_classes=10, init_weights=True)
    model.classifier = torch.nn.Sequential(
        torch.nn.Linear(64 * 7 * 7, 32), torch.nn.ReLU(True), torch.nn.Dropout(), torch.nn.Linear(32, 32), torch.nn.ReLU(True), torch.nn.Dropout(), torch.nn.Linear(32, 10))
    return model

def small_vit():
    return torchvision.models.VisionTransformer(image_size=224, patch_size=16, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128, num_classes=10)

def small_resnext():
    # torchvision's ResNeXt / Wide-ResNet class (Bottleneck blocks, grouped 3x3 convs), one block per stage.
    return torchvision.models.ResNet(torchvision.models.resnet.Bottleneck, [1, 1, 1, 1], num_classes=10, groups=8, width_per_group=4)

def small_convnext():
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    return ConvNeXt([CNBlockConfig(32, 64, 1), CNBlockConfig(64, None, 1)], num_classes=10)

BUILDERS = {'vgg-small': lambda: small_vgg(False), 'vgg-small-bn': lambda: small_vgg(True), 'vit-small': small_vit, 'resnext-small': small_resnext, 'convnext-small': small_convnext}


def build(name, num_classes=None):
    if name in BUILDERS:
        return BUILDERS[name]()
    return getattr(torchvision.models, name)(**({'num_classes': num_classes} if num_classes else {}))


def randomize_batch_norm(model, generator):
    # Fresh torchvision models have running mean 0 / var 1, which folds to nothing; move them.
    # (Also gives zero-initialized heads random weights.)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.LayerNorm)):
            with torch.no_grad():
                if m.weight is not None:
                    m.weight.uniform_(0.5, 1.5, generator=generator)
                    m.bias.uniform_(-0.2, 0.2, generator=generator)
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2, generator=generator)
                m.running_var.uniform_(0.5, 1.5, generator=generator)
        # ViT's head starts at zero, which would make every logit 0.
        if isinstance(m, torch.nn.Linear) and not m.weight.any():
            with torch.no_grad():
                m.weight.normal_(0, 0.05, generator=generator)


def module(model, path):
    return model.get_submodule(path)


def to_grid(t):
    # Token outputs [N, T, C] -> [N, C, g, g] on the last g*g tokens (pytorch-grad-cam's reshape_transform).
    if t.dim() == 3:
        n, tokens, c = t.shape
        g = int(tokens ** 0.5)
        return t[:, tokens - g * g:, :].reshape(n, g, g, c).permute(0, 3, 1, 2)
    return t


def grad_cam(model, x, path, target):
    store = {}
    handle = module(model, path).register_forward_hook(lambda m, i, o: store.__setitem__('a', o))
    logits = model(x)
    handle.remove()
    a = store['a']
    score = logits.gather(1, target[:, None]).sum()
    (g,) = torch.autograd.grad(score, a)
    a, g = to_grid(a), to_grid(g)
    weights = g.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * a).sum(dim=1, keepdim=True))
    return F.interpolate(cam, size=x.shape[2:], mode='bilinear', align_corners=False)[:, 0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument('out')
    p.add_argument('models', nargs='+')
    p.add_argument('--opset', type=int, default=13)
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--size', type=int, default=224)
    p.add_argument('--fixed-batch', action='store_true')
    p.add_argument('--num-classes', type=int, default=None)
    args = p.parse_args()
    summary = {}
    for spec in args.models:
        name, _, layers = spec.partition(':')
        out = os.path.join(args.out, name)
        os.makedirs(out, exist_ok=True)
        generator = torch.Generator().manual_seed(0)
        torch.manual_seed(0)
        model = build(name, args.num_classes).eval()
        randomize_batch_norm(model, generator)
        x = torch.rand(args.batch, 3, args.size, args.size, generator=generator) * 2 - 1
        export_x = x[:1] if not args.fixed_batch else x
        dynamic = None if args.fixed_batch else {'input': {0: 'batch'}, 'logits': {0: 'batch'}}
        torch.onnx.export(model, export_x, os.path.join(out, 'model.onnx'), opset_version=args.opset,
                          input_names=['input'], output_names=['logits'], dynamic_axes=dynamic)
        with torch.no_grad():
            logits = model(x)
        target = logits.argmax(1)
        np.save(os.path.join(out, 'input.npy'), x.numpy())
        np.save(os.path.join(out, 'logits.npy'), logits.numpy())
        xg = x.clone().requires_grad_(True)
        score = model(xg).gather(1, target[:, None]).sum()
        (grad,) = torch.autograd.grad(score, xg)
        np.save(os.path.join(out, 'input_grad.npy'), grad.numpy())
        for layer in filter(None, layers.split(',')):
            np.save(os.path.join(out, f'gradcam.{layer}.npy'), grad_cam(model, x, layer, target).detach().numpy())
        summary[name] = {'layers': [l for l in layers.split(',') if l], 'target': target.tolist()}
    json.dump(summary, open(os.path.join(args.out, 'summary.json'), 'w'))


if __name__ == '__main__':
    sys.exit(main())
