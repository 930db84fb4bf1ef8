#!/usr/bin/env python3
"""Writes PyTorch .pth fixtures for PthFileTests without torch installed (standard library only).

Usage:
  make_pth.py fixtures OUTDIR MARKER   all fixtures; hostile payloads would create the file MARKER
  make_pth.py convert IN.safetensors OUT.pth [PROTOCOL]
  make_pth.py unpickle FILE.pth        loads data.pkl with Python's own, unrestricted pickle (proves a
                                       hostile fixture really runs its payload under a naive loader)

What of torch.save's format this follows (torch/serialization.py `_save`, caffe2/serialize/inline_container.cc):
- The pickle is made by Python's own pickle module, protocol 2 by default (torch's DEFAULT_PROTOCOL), with
  stand-in modules registered in sys.modules as `torch` and `torch._utils`, so the GLOBAL opcodes name
  torch's real objects: `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`, the typed
  storage classes (`torch.FloatStorage`, ...). `collections.OrderedDict` is the real class.
- A tensor reduces to `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
  OrderedDict())` with size and stride as plain tuples, as `Tensor._reduce_ex_internal` does.
- A storage is pickled by persistent_id as ('storage', storage class, key, location, numel): key is the
  decimal string of the storage's first-use index, numel counts elements of the storage's dtype.
- A state dict is an OrderedDict carrying `_metadata` (an OrderedDict of per-module {'version': n}) in its
  __dict__, so the pickle ends with a BUILD on it, like `Module.state_dict()`.
- The zip: records in torch's order `archive/data.pkl`, `archive/.format_version` ("1"),
  `archive/.storage_alignment` ("64"), `archive/byteorder` ("little"), `archive/data/<key>` in key order,
  `archive/version` ("3\\n"), `archive/.data/serialization_id`; every record stored (no compression), its
  data aligned to 64 bytes by a local-header extra field "FB" + u16 length + 'Z' padding, as torch's
  writer does. Not reproduced: miniz's exact header bytes (version fields, timestamps) and the central
  directory without the padding field (Python's zipfile writes the extra field in both places).
- The legacy (pre-1.6) format is only imitated far enough to be recognised: its leading magic-number pickle.
"""
import collections
import io
import json
import os
import pickle
import random
import struct
import sys
import types
import zipfile

ALIGNMENT = 64

# ---------- stand-ins for torch's pickled names ----------

torch_mod = types.ModuleType("torch")
utils_mod = types.ModuleType("torch._utils")
torch_mod._utils = utils_mod
sys.modules["torch"] = torch_mod
sys.modules["torch._utils"] = utils_mod

# dtype name -> (storage class name, element size, struct code or None for raw bytes)
DTYPES = {
    "F32": ("FloatStorage", 4, "f"),
    "F64": ("DoubleStorage", 8, "d"),
    "F16": ("HalfStorage", 2, "e"),
    "BF16": ("BFloat16Storage", 2, None),
    "I64": ("LongStorage", 8, "q"),
    "I32": ("IntStorage", 4, "i"),
    "I16": ("ShortStorage", 2, "h"),
    "U8": ("ByteStorage", 1, "B"),
    "I8": ("CharStorage", 1, "b"),
    "BOOL": ("BoolStorage", 1, "?"),
}
STORAGE_CLASSES = {}
for _st, (_name, _size, _code) in DTYPES.items():
    _cls = type(_name, (), {"__module__": "torch"})
    setattr(torch_mod, _name, _cls)
    STORAGE_CLASSES[_st] = _cls


def _stand_in(module, name):
    def f(*args):
        raise RuntimeError(f"stand-in {module.__name__}.{name} is not callable")
    f.__module__ = module.__name__
    f.__name__ = f.__qualname__ = name
    setattr(module, name, f)
    return f


rebuild_tensor_v2 = _stand_in(utils_mod, "_rebuild_tensor_v2")
rebuild_parameter = _stand_in(utils_mod, "_rebuild_parameter")


class Storage:
    """Raw little-endian bytes of one typed storage."""

    def __init__(self, dtype, data):
        self.dtype = dtype
        self.data = bytes(data)
        self.numel = len(self.data) // DTYPES[dtype][1]


class FakeTensor:
    """Pickles exactly as a torch tensor view (or nn.Parameter) over a Storage."""

    def __init__(self, storage, shape, stride=None, offset=0, parameter=False):
        self.storage, self.shape, self.offset, self.parameter = storage, tuple(shape), offset, parameter
        self.stride = tuple(stride) if stride is not None else contiguous_strides(self.shape)

    def __reduce_ex__(self, protocol):
        t = (rebuild_tensor_v2, (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict()))
        if not self.parameter:
            return t
        inner = FakeTensor(self.storage, self.shape, self.stride, self.offset)
        return (rebuild_parameter, (inner, True, collections.OrderedDict()))

    def contiguous_bytes(self):
        """The view's elements in row-major order (what a safetensors file of it holds)."""
        size = DTYPES[self.storage.dtype][1]
        out = bytearray()
        for index in _indices(self.shape):
            e = self.offset + sum(i * s for i, s in zip(index, self.stride))
            out += self.storage.data[e * size:(e + 1) * size]
        return bytes(out)


def contiguous_strides(shape):
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= max(d, 1)
    return tuple(reversed(strides))


def _indices(shape):
    if any(d == 0 for d in shape):
        return
    index = [0] * len(shape)
    while True:
        yield tuple(index)
        k = len(shape) - 1
        while k >= 0:
            index[k] += 1
            if index[k] < shape[k]:
                break
            index[k] = 0
            k -= 1
        if k < 0:
            return


def pack(dtype, values):
    code = DTYPES[dtype][2]
    if dtype == "BF16":  # bfloat16 is the top half of a float32
        return b"".join(struct.pack("<f", v)[2:] for v in values)
    return struct.pack("<" + code * len(values), *values)


def tensor(dtype, shape, rng, parameter=False):
    n = 1
    for d in shape:
        n *= d
    if dtype in ("F32", "F64", "F16", "BF16"):
        values = [rng.uniform(-4, 4) for _ in range(n)]
    elif dtype == "BOOL":
        values = [rng.random() < 0.5 for _ in range(n)]
    elif dtype == "U8":
        values = [rng.randrange(256) for _ in range(n)]
    elif dtype in ("I8", "I16"):
        bits = 8 if dtype == "I8" else 16
        values = [rng.randrange(-2 ** (bits - 1), 2 ** (bits - 1)) for _ in range(n)]
    else:
        values = [rng.randrange(-2 ** 31, 2 ** 31) * (2 ** 20 if dtype == "I64" else 1) for _ in range(n)]
    return FakeTensor(Storage(dtype, pack(dtype, values)), shape, parameter=parameter)


# ---------- writing ----------

class TorchPickler(pickle.Pickler):
    """Records storages in first-use order and pickles them by persistent id, as torch.save does."""

    def __init__(self, file, protocol):
        super().__init__(file, protocol=protocol)
        self.storages = {}

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        key = next((k for k, s in self.storages.items() if s is obj), None)
        if key is None:
            key = str(len(self.storages))
            self.storages[key] = obj
        return ("storage", STORAGE_CLASSES[obj.dtype], key, "cpu", obj.numel)


def torch_pickle(obj, protocol=2):
    buf = io.BytesIO()
    p = TorchPickler(buf, protocol)
    p.dump(obj)
    return buf.getvalue(), p.storages


def _aligned_record(zf, name, data):
    """A stored record whose data starts on a 64-byte boundary (torch's 'FB' padding field)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    start = zf.fp.tell() + 30 + len(name.encode()) + 4
    pad = (-start) % ALIGNMENT
    info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
    zf.writestr(info, data)


def write_pth(path, obj, protocol=2, prefix="archive", byteorder="little", pickle_bytes=None, storages=None):
    if pickle_bytes is None:
        pickle_bytes, storages = torch_pickle(obj, protocol)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        _aligned_record(zf, f"{prefix}/data.pkl", pickle_bytes)
        _aligned_record(zf, f"{prefix}/.format_version", b"1")
        _aligned_record(zf, f"{prefix}/.storage_alignment", str(ALIGNMENT).encode())
        _aligned_record(zf, f"{prefix}/byteorder", byteorder.encode())
        for key, s in (storages or {}).items():
            data = s.data if byteorder == "little" else _swap(s.data, DTYPES[s.dtype][1])
            _aligned_record(zf, f"{prefix}/data/{key}", data)
        _aligned_record(zf, f"{prefix}/version", b"3\n")
        _aligned_record(zf, f"{prefix}/.data/serialization_id", b"1234567890123456789012345678901234567890")


def _swap(data, size):
    return b"".join(data[i:i + size][::-1] for i in range(0, len(data), size))


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.contiguous_bytes()
        header[name] = {"dtype": t.storage.dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack_from("<Q", raw)
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    tensors = collections.OrderedDict()
    for name, e in header.items():
        begin, end = e["data_offsets"]
        tensors[name] = FakeTensor(Storage(e["dtype"], raw[8 + n + begin:8 + n + end]), e["shape"])
    return tensors


def state_dict(tensors, prefix=""):
    """An OrderedDict with module-version _metadata, as nn.Module.state_dict() returns."""
    sd = collections.OrderedDict((prefix + k, v) for k, v in tensors.items())
    modules = sorted({k.rpartition(".")[0] for k in tensors})
    sd._metadata = collections.OrderedDict((m, {"version": 1}) for m in [""] + modules)
    return sd


# ---------- hand-assembled hostile pickles (Python's pickler would name posix.system, not os.system) ----------

def _unicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def hostile_pickle(kind, marker):
    cmd = f"touch '{marker}'"
    if kind == "os_system":
        return b"\x80\x02cos\nsystem\n" + _unicode(cmd) + b"\x85R."
    if kind == "builtins_eval":
        return b"\x80\x02cbuiltins\neval\n" + _unicode(f"__import__('os').system({cmd!r})") + b"\x85R."
    if kind == "subprocess_popen":
        return b"\x80\x02csubprocess\nPopen\n](" + _unicode("touch") + _unicode(marker) + b"e\x85R."
    if kind == "stack_global":  # protocol 4 spelling of os.system, inside a state-dict-like dict
        body = b"}\x94\x8c\x01w\x94\x8c\x02os\x94\x8c\x06system\x94\x93\x94" + _unicode(cmd) + b"\x85Rs."
        return b"\x80\x04\x95" + struct.pack("<Q", len(body)) + body
    if kind == "inst":  # protocol 0/1 INST: module and name after the opcode, arguments after a MARK
        return b"\x80\x02(" + _unicode(cmd) + b"ios\nsystem\n."
    raise ValueError(kind)


# ---------- fixtures ----------

def basic_tensors(rng):
    t = collections.OrderedDict()
    t["conv.weight"] = tensor("F32", (4, 3, 3, 3), rng, parameter=True)
    t["conv.bias"] = tensor("F32", (4,), rng)
    t["bn.running_mean"] = tensor("F32", (4,), rng)
    t["bn.num_batches_tracked"] = tensor("I64", (), rng)
    t["half"] = tensor("F16", (2, 3), rng)
    t["bf"] = tensor("BF16", (5,), rng)
    t["dbl"] = tensor("F64", (2, 2), rng)
    t["i64"] = tensor("I64", (3,), rng)
    t["i32"] = tensor("I32", (3,), rng)
    t["u8"] = tensor("U8", (4,), rng)
    t["i8"] = tensor("I8", (4,), rng)
    t["flags"] = tensor("BOOL", (3,), rng)
    t["empty"] = tensor("F32", (0, 3), rng)
    return t


def view_tensors(rng):
    """Several views over one 24-float storage, and an I64 storage viewed at an offset."""
    base = tensor("F32", (4, 6), rng)
    s = base.storage
    longs = tensor("I64", (10,), rng).storage
    t = collections.OrderedDict()
    t["full"] = base
    t["transposed"] = FakeTensor(s, (6, 4), (1, 6))
    t["window"] = FakeTensor(s, (2, 3), (6, 1), offset=7)
    t["strided"] = FakeTensor(s, (3,), (8,), offset=1)
    t["broadcast"] = FakeTensor(s, (3, 4), (0, 1), offset=2)
    t["scalar"] = FakeTensor(s, (), (), offset=23)
    t["tail"] = FakeTensor(longs, (2, 2), (2, 1), offset=6)
    return t


def fixtures(out, marker):
    os.makedirs(out, exist_ok=True)
    rng = random.Random(1234)
    basic = basic_tensors(rng)
    write_safetensors(os.path.join(out, "basic.safetensors"), basic)
    for protocol in (2, 3, 4, 5):
        name = "basic.pth" if protocol == 2 else f"basic_p{protocol}.pth"
        write_pth(os.path.join(out, name), state_dict(basic), protocol)
    write_pth(os.path.join(out, "prefix.pth"), state_dict(basic), prefix="resnet_weights")
    write_pth(os.path.join(out, "bigendian.pth"), state_dict(basic), byteorder="big")
    write_pth(os.path.join(out, "plaindict.pth"), dict(basic))
    write_pth(os.path.join(out, "nested.pth"), {"epoch": 7, "state_dict": state_dict(basic), "optimizer": {"lr": 0.1, "betas": (0.9, 0.999)}})
    write_pth(os.path.join(out, "dataparallel.pth"), {"model": state_dict(basic, prefix="module."), "arch": "net"})

    views = view_tensors(rng)
    write_safetensors(os.path.join(out, "views.safetensors"), views)
    write_pth(os.path.join(out, "views.pth"), state_dict(views))

    write_pth(os.path.join(out, "nontensor.pth"), collections.OrderedDict([("w", basic["conv.bias"]), ("step", 5)]))
    write_pth(os.path.join(out, "int16.pth"), collections.OrderedDict([("w", tensor("I16", (3,), rng))]))
    write_pth(os.path.join(out, "toplist.pth"), [basic["conv.bias"]])
    # Tensor views reaching past their storage: a forged stride, and a forged offset.
    s = basic["conv.bias"].storage
    write_pth(os.path.join(out, "outofrange.pth"), {"w": FakeTensor(s, (2, 2), (3, 1))})
    write_pth(os.path.join(out, "badoffset.pth"), {"w": FakeTensor(s, (2,), (1,), offset=3)})

    for kind in ("os_system", "builtins_eval", "subprocess_popen", "stack_global", "inst"):
        write_pth(os.path.join(out, f"hostile_{kind}.pth"), None, pickle_bytes=hostile_pickle(kind, marker), storages={})

    with open(os.path.join(out, "legacy.pth"), "wb") as f:  # torch < 1.6: magic, protocol version, sys info, ...
        for obj in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(obj, f, protocol=2)


def convert(src, dst, protocol=2):
    write_pth(dst, state_dict(read_safetensors(src)), protocol)


def unpickle(path):
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.endswith("/data.pkl"))
        obj = pickle.loads(zf.read(name))
    if hasattr(obj, "wait"):  # a Popen: let the child finish before reporting
        obj.wait()
    print("unpickled", type(obj).__name__)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "fixtures" and len(sys.argv) == 4:
        fixtures(sys.argv[2], sys.argv[3])
    elif mode == "convert" and len(sys.argv) in (4, 5):
        convert(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) == 5 else 2)
    elif mode == "unpickle" and len(sys.argv) == 3:
        unpickle(sys.argv[2])
    else:
        sys.exit(__doc__)
