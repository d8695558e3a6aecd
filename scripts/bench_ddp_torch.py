"""PyTorch's side of scripts/bench_data_parallel.sh: the median time of a training step of torchvision's
ResNeXt (random images and labels, cross-entropy with label smoothing 0.1, momentum SGD) on one
process, and on N processes averaging gradients with DistributedDataParallel over gloo, each on
--threads threads. Prints one JSON object per setting.

    /usr/bin/python3 scripts/bench_ddp_torch.py --model resnext50_32x4d --batch_size 8 --image_size 64 --steps 10
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.distributed as tdist
import torch.multiprocessing as mp
import torchvision


def steps(rank, world, a, port, out):
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    if world > 1:
        os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
        tdist.init_process_group("gloo", rank=rank, world_size=world)
    net = getattr(torchvision.models, a.model)(num_classes=a.classes)
    model = net
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(net, bucket_cap_mb=a.bucket_cap_mb)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    x = torch.randn(a.batch_size, 3, a.image_size, a.image_size)
    y = torch.randint(0, a.classes, (a.batch_size,))
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    if rank == 0:
        out.put({"framework": "pytorch " + torch.__version__, "ranks": world, "threads": a.threads,
                 "ms_per_step_median": round(1e3 * statistics.median(times), 3)})
    if world > 1:
        tdist.destroy_process_group()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="resnext50_32x4d")
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--image_size", type=int, default=64)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--bucket_cap_mb", type=float, default=25)
    p.add_argument("--port", type=int, default=29611)
    a = p.parse_args()
    ctx = mp.get_context("spawn")
    for world in (1, a.ranks):
        q = ctx.Queue()
        procs = [ctx.Process(target=steps, args=(r, world, a, a.port, q)) for r in range(world)]
        for pr in procs:
            pr.start()
        res = q.get()
        for pr in procs:
            pr.join()
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
