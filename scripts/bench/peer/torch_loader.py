"""PyTorch peer of the data-loader workload in `npm run bench` (scripts/bench/peer.ts).

    /usr/bin/python3 scripts/bench/peer/torch_loader.py DIR IMAGES BATCH THREADS

Reads Fashion-MNIST from Debian's IDX files in DIR as a torch Dataset (each item: float32 HWC in
[0,1] and its label, as Gaze's loader yields them) and pulls IMAGES shuffled images through a
DataLoader in batches of BATCH (no worker processes: Gaze's loader runs in its main thread too).
The time includes reading the files, as Gaze's does. Prints {"seconds": s, "images": n}.
"""

import gzip
import json
import sys
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class FashionMnist(Dataset):
    def __init__(self, images, labels):
        self.images = images
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        image = torch.from_numpy(self.images[i].astype(np.float32) / 255.0).unsqueeze(-1)
        return image, int(self.labels[i])


def main():
    directory, count, batch, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    start = time.perf_counter()
    images = read_idx(f"{directory}/train-images-idx3-ubyte.gz")
    labels = read_idx(f"{directory}/train-labels-idx1-ubyte.gz")
    loader = DataLoader(FashionMnist(images, labels), batch_size=batch, shuffle=True, num_workers=0, generator=torch.Generator().manual_seed(0))
    seen = 0
    for x, _ in loader:
        seen += x.shape[0]
        if seen >= count:
            break
    print(json.dumps({"seconds": time.perf_counter() - start, "images": seen}))


if __name__ == "__main__":
    main()
