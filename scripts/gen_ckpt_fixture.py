#!/usr/bin/env python3
"""Write ckpt/mindspore/testdata/python.ckpt, a small MindSpore checkpoint for the Go reader's tests.

The file is encoded by Debian's protobuf library (not by the Go code it checks), from the schema of
MindSpore's checkpoint.proto, built at run time so that no protoc is needed (scripts/fixturelib.py):
    apt-get install python3-protobuf
    /usr/bin/python3 scripts/gen_ckpt_fixture.py

It lays the file out as MindSpore's save_checkpoint does: every Value is a Checkpoint message of its
own, appended to the file (the last two share one message, which a reader must accept as well). It
holds one tensor of every tensor_type, MindCV parameter names, optimizer entries (moments.*,
learning_rate, momentum, global_step), a tensor split into three slices of uneven size that each carry
the whole tensor's dims (as newer MindSpore writes large tensors), a scalar as dims [0] (older
MindSpore) and one with no dims (newer), a zero-size tensor, string entries in NumPy's UTF-32LE form
(as save_checkpoint stores the strings of append_dict) and a random_op entry. The values are simple
formulas that ckpt/mindspore/mindspore_test.go repeats. The output is deterministic.
"""
import math
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixturelib  # noqa: E402

OUT = os.path.join(fixturelib.ROOT, "ckpt", "mindspore", "testdata", "python.ckpt")


def pack(fmt, values):
    return struct.pack("<%d%s" % (len(values), fmt), *values)


def bf16(values):
    # Every value below is exactly representable in bfloat16: its float32 bits end in 16 zero bits.
    out = b""
    for v in values:
        bits = struct.unpack("<I", struct.pack("<f", v))[0]
        assert bits & 0xFFFF == 0, v
        out += struct.pack("<H", bits >> 16)
    return out


def utf32(s):
    # numpy.array(s).tobytes(): UTF-32LE; the empty string has dtype <U1, so one NUL.
    return s.encode("utf-32-le") if s else b"\0\0\0\0"


def entries():
    """(tag, tensor_type, dims, content) in file order; a list of contents means slices."""
    f32 = lambda v: pack("f", v)
    yield "conv1.weight", "Float32", [2, 1, 2, 2], f32([i / 4 - 1 for i in range(8)])
    yield "bn1.gamma", "Float32", [2], f32([1.0, 0.5])
    yield "bn1.beta", "Float32", [2], f32([0.0, -0.5])
    yield "bn1.moving_mean", "Float32", [2], f32([0.25, -0.25])
    yield "bn1.moving_variance", "Float32", [2], f32([1.0, 2.0])
    yield "layer1.0.down_sample.0.weight", "Float16", [2, 2, 1, 1], pack("e", [1.0, -2.5, 65504.0, 2.0 ** -24])
    w = f32([i * 0.5 for i in range(12)])  # classifier.weight [4, 3] in slices of rows 0-1, 2, 3
    yield "classifier.weight", "Float32", [4, 3], [w[:24], w[24:36], w[36:]]
    yield "classifier.bias", "BFloat16", [4], bf16([1.0, -2.5, 3.140625, 2.0 ** 127])
    yield "moments.conv1.weight", "Float32", [2, 1, 2, 2], f32([-i / 8 for i in range(8)])
    yield "learning_rate", "Float32", [5], f32([0.1, 0.075, 0.05, 0.025, 0.0])
    yield "momentum", "Float32", [0], f32([0.9])  # a scalar as older MindSpore wrote it
    yield "global_step", "Int32", [1], pack("i", [1234])
    yield "f64", "Float64", [2], pack("d", [math.pi, math.e])
    yield "scalar", "Float64", [], pack("d", [42.5])  # a scalar as newer MindSpore writes it
    yield "i8", "Int8", [3], pack("b", [-128, 0, 127])
    yield "i16", "Int16", [2], pack("h", [-32768, 32767])
    yield "i64", "Int64", [2], pack("q", [1 << 40, -1])
    yield "u8", "UInt8", [3], pack("B", [0, 255, 7])
    yield "u16", "UInt16", [2], pack("H", [0, 65535])
    yield "u32", "UInt32", [1], pack("I", [4294967295])
    yield "u64", "UInt64", [1], pack("Q", [(1 << 63) + 5])
    yield "bool", "Bool", [3], bytes([1, 0, 1])
    yield "empty", "Float32", [0, 3], b""
    yield "random_op", "random_op", [0], bytes([1, 2, 3])
    yield "note", "str", [0], utf32("pool_padding=same, \u00fcn\u00efcode \u2713 \U0001F600")
    yield "empty_note", "str", [0], utf32("")


def main():
    messages = fixturelib.ckpt_messages(entries())
    # The last two Values in one message.
    last = messages.pop()
    messages[-1].value.extend(last.value)
    fixturelib.write_if_changed(OUT, fixturelib.serialize_ckpt(messages))
    fixturelib.report()


if __name__ == "__main__":
    main()
