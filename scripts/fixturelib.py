"""Helpers shared by the fixture generators and comparison scripts in this folder.

    safetensors   tensor_bytes, encode_safetensors: the safetensors bytes of {name: torch tensor},
                  written by hand (struct + json, no safetensors package) in the reference layout
    files         write_if_changed, keep, report: write a file only when its bytes change, and list
                  what a run wrote with the sizes
    torch.save    torch_save_bytes: torch.save into bytes, deterministically named
    names         mindcv_name: MindCV's name for a torchvision ResNet/ResNeXt tensor name
    MindSpore     checkpoint_class, ckpt_messages, serialize_ckpt, encode_ckpt, tensor_entry: .ckpt
                  files encoded by the protobuf library (python3-protobuf) from the schema of
                  MindSpore's checkpoint.proto, built at run time so that no protoc is needed

A script imports it after putting its own folder on the path:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fixturelib

torch and protobuf are imported only by the functions that need them, so a script that writes only
.ckpt files does not need torch, and one that writes only safetensors does not need protobuf.
"""
import json
import os
import struct
import sys
import tempfile

# The repository root, for paths in reports.
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


# ---------------------------------------------------------------------------------------------
# safetensors, by hand


def _dtypes():
    """torch dtype -> (safetensors dtype, element size, little-endian NumPy type or None)."""
    import torch

    return {
        torch.float64: ("F64", 8, "<f8"),
        torch.int64: ("I64", 8, "<i8"),
        torch.float32: ("F32", 4, "<f4"),
        torch.int32: ("I32", 4, "<i4"),
        torch.float16: ("F16", 2, "<f2"),
        torch.bfloat16: ("BF16", 2, None),
        torch.int16: ("I16", 2, "<i2"),
        torch.int8: ("I8", 1, "i1"),
        torch.uint8: ("U8", 1, "u1"),
        torch.bool: ("BOOL", 1, None),
    }


def safetensors_dtype(t):
    """The safetensors spelling of t's dtype ("F32", "BF16", ...)."""
    return _dtypes()[t.dtype][0]


def tensor_bytes(t):
    """The elements of a torch tensor, little-endian, in C order (bool as one byte per element)."""
    import torch

    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    if t.dtype == torch.bool:
        return t.to(torch.uint8).numpy().tobytes()
    return t.numpy().astype(_dtypes()[t.dtype][2]).tobytes()


def encode_safetensors(tensors, metadata=None):
    """The safetensors bytes of {name: tensor} with {key: str} metadata, in the reference layout:
    tensors ordered by decreasing element size, then by name; __metadata__ first (keys sorted, left
    out when empty); the JSON header compact and padded with spaces to a multiple of 8 bytes."""
    dtypes = _dtypes()
    items = sorted(tensors.items(), key=lambda kv: (-dtypes[kv[1].dtype][1], kv[0]))
    header = {}
    if metadata:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    chunks, offset = [], 0
    for name, t in items:
        raw = tensor_bytes(t)
        header[name] = {
            "dtype": dtypes[t.dtype][0],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(chunks)


# ---------------------------------------------------------------------------------------------
# files


WRITTEN = []  # (path relative to ROOT, or absolute outside it; size in bytes), in the order written


def _shown(path):
    path = os.path.abspath(path)
    rel = os.path.relpath(path, ROOT)
    return path if rel.startswith("..") else rel


def write_if_changed(path, data):
    """Write data to path (creating its folder) unless the file already holds exactly these bytes,
    atomically (a temporary file, fsync, rename). Records the file in WRITTEN either way. Returns
    whether it wrote."""
    WRITTEN.append((_shown(path), len(data)))
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return True


def keep(path):
    """Record in WRITTEN a file left as it is (its content is already right)."""
    WRITTEN.append((_shown(path), os.path.getsize(path)))


def report(limit=None, what="fixtures"):
    """Print the files of WRITTEN with their sizes and the total; exit with an error when the total
    is above limit bytes."""
    total = 0
    for rel, n in WRITTEN:
        print(f"{n:9d}  {rel}")
        total += n
    print(f"{total:9d}  total")
    if limit is not None and total > limit:
        sys.exit(f"{what} total {total} bytes: keep them under {limit // 1000} KB")


# ---------------------------------------------------------------------------------------------
# torch.save


def torch_save_bytes(name, obj, **kwargs):
    """The bytes torch.save writes for obj into a file called name (torch 1.13 names the zip's top
    folder after the file, so the name is part of the content)."""
    import torch

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, name)
        torch.save(obj, path, **kwargs)
        with open(path, "rb") as f:
            return f.read()


# ---------------------------------------------------------------------------------------------
# names


_MINDCV_BN = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}


def mindcv_name(name):
    """MindCV's name for a tensor of torchvision's ResNet/ResNeXt, or None for num_batches_tracked
    (MindCV has no such tensor): bnX.{weight,bias,running_mean,running_var} and downsample.1.* become
    bnX.{gamma,beta,moving_mean,moving_variance}, downsample becomes down_sample, fc classifier."""
    module, leaf = name.rsplit(".", 1)
    if leaf == "num_batches_tracked":
        return None
    parts = module.split(".")
    last = parts[-1]
    if (last.startswith("bn") and last[2:].isdigit()) or parts[-2:] == ["downsample", "1"]:
        leaf = _MINDCV_BN[leaf]
    parts = ["down_sample" if p == "downsample" else p for p in parts]
    if parts == ["fc"]:
        parts = ["classifier"]
    return ".".join(parts + [leaf])


# ---------------------------------------------------------------------------------------------
# MindSpore .ckpt

_CHECKPOINT = None


def checkpoint_class():
    """The Checkpoint message class of MindSpore's checkpoint.proto (proto2):
        message Checkpoint { message Value { required string tag = 1; required TensorProto tensor = 2; }
                             repeated Value value = 1; }
        message TensorProto { repeated int64 dims = 1; required string tensor_type = 2;
                              required bytes tensor_content = 3; }"""
    global _CHECKPOINT
    if _CHECKPOINT is not None:
        return _CHECKPOINT
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fd = descriptor_pb2.FileDescriptorProto(name="checkpoint.proto", syntax="proto2")
    F = descriptor_pb2.FieldDescriptorProto
    tensor = fd.message_type.add(name="TensorProto")
    tensor.field.add(name="dims", number=1, type=F.TYPE_INT64, label=F.LABEL_REPEATED)
    tensor.field.add(name="tensor_type", number=2, type=F.TYPE_STRING, label=F.LABEL_REQUIRED)
    tensor.field.add(name="tensor_content", number=3, type=F.TYPE_BYTES, label=F.LABEL_REQUIRED)
    ckpt = fd.message_type.add(name="Checkpoint")
    value = ckpt.nested_type.add(name="Value")
    value.field.add(name="tag", number=1, type=F.TYPE_STRING, label=F.LABEL_REQUIRED)
    value.field.add(name="tensor", number=2, type=F.TYPE_MESSAGE, label=F.LABEL_REQUIRED, type_name=".TensorProto")
    ckpt.field.add(name="value", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED, type_name=".Checkpoint.Value")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    desc = pool.FindMessageTypeByName("Checkpoint")
    if hasattr(message_factory, "GetMessageClass"):
        _CHECKPOINT = message_factory.GetMessageClass(desc)
    else:
        _CHECKPOINT = message_factory.MessageFactory(pool).GetPrototype(desc)
    return _CHECKPOINT


def ckpt_messages(entries):
    """One Checkpoint message per Value, as MindSpore's save_checkpoint appends them to the file,
    from (tag, tensor_type, dims, content) tuples in file order. A content that is a list of byte
    strings is a tensor split into slices: consecutive Values with the same tag, each carrying the
    whole tensor's dims, as newer MindSpore writes large tensors."""
    Checkpoint = checkpoint_class()
    messages = []
    for tag, ttype, dims, content in entries:
        for part in content if isinstance(content, list) else [content]:
            msg = Checkpoint()
            v = msg.value.add()
            v.tag = tag
            v.tensor.dims.extend(dims)
            v.tensor.tensor_type = ttype
            v.tensor.tensor_content = part
            messages.append(msg)
    return messages


def serialize_ckpt(messages):
    """The .ckpt bytes of Checkpoint messages, appended one after the other. The protobuf library
    reads them back as one message with every Value in order, which is checked."""
    data = b"".join(m.SerializeToString() for m in messages)
    again = checkpoint_class()()
    again.ParseFromString(data)
    assert len(again.value) == sum(len(m.value) for m in messages)
    return data


def encode_ckpt(entries):
    """The .ckpt bytes of (tag, tensor_type, dims, content-or-list-of-slices) tuples, laid out as
    MindSpore does (see ckpt_messages)."""
    return serialize_ckpt(ckpt_messages(entries))


def _ckpt_types():
    import torch

    return {
        torch.float32: "Float32",
        torch.float16: "Float16",
        torch.float64: "Float64",
        torch.bfloat16: "BFloat16",
        torch.int8: "Int8",
        torch.int16: "Int16",
        torch.int32: "Int32",
        torch.int64: "Int64",
        torch.uint8: "UInt8",
        torch.bool: "Bool",
    }


def tensor_entry(tag, t, slices=1):
    """The (tag, tensor_type, dims, content) entry of a torch tensor for encode_ckpt. With slices > 1
    the content is split into that many slices of whole rows of the first dimension (the last ones
    a row shorter when the rows do not divide evenly)."""
    raw = tensor_bytes(t)
    dims = list(t.shape)
    if slices <= 1:
        return tag, _ckpt_types()[t.dtype], dims, raw
    rows = dims[0]
    if not 1 < slices <= rows:
        raise ValueError(f"{tag}: {slices} slices of a tensor with {rows} rows")
    per_row = len(raw) // rows
    parts, start = [], 0
    for i in range(slices):
        n = rows // slices + (1 if i < rows % slices else 0)
        parts.append(raw[start * per_row : (start + n) * per_row])
        start += n
    return tag, _ckpt_types()[t.dtype], dims, parts
