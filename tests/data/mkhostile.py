#!/usr/bin/env python3
"""
mkhostile.py - make the hand-crafted model files of tests/data once:

  hostile-*.hgqm   corrupt or lying models (formats/hgqm.md section 5), each
                   with a correct checksum where the lie is past the
                   checksums, so that the reader's later checks are reached
  edge-*.hgqm      valid models at the format's numeric limits, with
                   edge-*.npy inputs and edge-*.ok expected outputs
                   (mantissas, as `hgq-sim --raw` prints them), computed
                   here with exact rational arithmetic from the semantics
                   of DESIGN.md, independently of libhgq

Run from the top of the tree:  python3 tests/data/mkhostile.py
The tests only read the files; they never run this script.  The list of
files, what each one is and the message the programs give is in
tests/data/README.
"""
import gzip
import os
import random
import struct
import zlib
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLES = os.path.join(ROOT, "formats", "examples")

REQUIRED, DEFLATE = 1, 2


def align8(n):
    return (n + 7) & ~7


def pad8(b):
    return b + bytes(align8(len(b)) - len(b))


# ---------------------------------------------------------------------
# reading and writing whole files as (header fields, chunk list)
# ---------------------------------------------------------------------

def parse(path):
    d = open(path, "rb").read()
    assert d[:4] == b"HGQM"
    hlen, n = struct.unpack_from("<II", d, 8)
    chunks = []
    for j in range(n):
        e = hlen + 32 * j
        cid = d[e:e + 4]
        flags, off, ln = struct.unpack_from("<IQQ", d, e + 4)
        chunks.append({"id": cid, "flags": flags,
                       "data": bytearray(d[off:off + ln])})
    return chunks


def build(chunks, major=1, minor=0, header_crc=None, hextra=b""):
    """A file from chunks: offsets and CRCs computed unless a chunk says
    otherwise ("len", "off", "crc" override the TOC entry, "stored" the
    bytes written); hextra: header fields after the first 16 bytes."""
    hlen = 16 + len(hextra)
    n = len(chunks)
    t = hlen + 32 * n
    off = align8(t + 4)
    toc = b""
    body = b""
    pos = t + 4
    for c in chunks:
        data = bytes(c["data"])
        ln = c.get("len", len(data))
        crc = c.get("crc", zlib.crc32(data))
        toc += c["id"] + struct.pack("<IQQII", c["flags"], c.get("off", off),
                                     ln, crc, 0)
        body += bytes(align8(pos) - pos) + data
        pos = align8(pos) + len(data)
        off = align8(off + len(data))
    head = (b"HGQM" + struct.pack("<HHII", major, minor, hlen, n) + hextra +
            toc)
    crc = zlib.crc32(head) if header_crc is None else header_crc
    return head + struct.pack("<I", crc) + body


def chunk(chunks, cid):
    for c in chunks:
        if c["id"] == cid:
            return c
    raise KeyError(cid)


# ---------------------------------------------------------------------
# building models from a description
# ---------------------------------------------------------------------

def inpt(n_raw, index_map, task=0, norm=0, offset=None, scale=None):
    b = struct.pack("<IIII", task, n_raw, norm, len(index_map))
    b = pad8(b + struct.pack("<%dI" % len(index_map), *index_map))
    if norm:
        b += pad8(struct.pack("<%dd" % n_raw, *offset))
        b += pad8(struct.pack("<%dd" % n_raw, *scale))
    return b


def grph(layers):
    b = struct.pack("<II", len(layers), 0)
    for l in layers:
        if l["kind"] == 1:
            par = bytes([l["round"], l["overflow"], 2, 0, 0, 0, 0, 0])
            b += struct.pack("<IIII", 1, l["n"], l["n"], 8) + par
        else:
            par = bytes([l["act"], 0, 0, 0, 0, 0, 0, 0])
            b += struct.pack("<IIII", 2, l["n_in"], l["n_out"], 8) + par
    return b


def fixp(layers):
    b = struct.pack("<II", len(layers), 0)
    for l in layers:
        if l["kind"] == 1:
            for a in ("k", "i", "f"):
                b += pad8(struct.pack("<%db" % l["n"], *l[a]))
        else:
            w_m = [x for row in l["w_m"] for x in row]
            w_f = [x for row in l["w_f"] for x in row]
            b += pad8(struct.pack("<%di" % len(w_m), *w_m))
            b += pad8(struct.pack("<%db" % len(w_f), *w_f))
            b += pad8(struct.pack("<%di" % l["n_out"], *l["b_m"]))
            b += pad8(struct.pack("<%db" % l["n_out"], *l["b_f"]))
    return b


def model_bytes(n_raw, layers):
    return build([
        {"id": b"INPT", "flags": REQUIRED,
         "data": inpt(n_raw, list(range(layers[0]["n"])))},
        {"id": b"GRPH", "flags": REQUIRED, "data": grph(layers)},
        {"id": b"FIXP", "flags": REQUIRED, "data": fixp(layers)},
    ])


# the semantics (DESIGN.md "The JSON dump"), exactly, on Fractions

def floor_frac(x):
    return x.numerator // x.denominator


def quant(x, k, i, f, rnd, ovf):
    """the mantissa of x quantized to (k, i, f)"""
    w = k + i + f
    if w <= 0:
        return 0
    v = x * Fraction(2) ** f
    m = floor_frac(v + Fraction(1, 2)) if rnd == 0 else floor_frac(v)
    if ovf == 0:                                    # WRAP
        m %= 1 << w
        if k and m >= 1 << (w - 1):
            m -= 1 << w
        return m
    hi = (1 << (i + f)) - 1
    lo = -k * (1 << (i + f)) if ovf == 1 else -k * hi
    return max(lo, min(hi, m))


def run(layers, row):
    q = layers[0]
    a = [Fraction(quant(Fraction(x), q["k"][j], q["i"][j], q["f"][j],
                        q["round"], q["overflow"])) * Fraction(2) ** -q["f"][j]
         for j, x in enumerate(row)]
    for li in range(1, len(layers), 2):
        d, q = layers[li], layers[li + 1]
        y = []
        for j in range(d["n_out"]):
            s = Fraction(d["b_m"][j]) * Fraction(2) ** -d["b_f"][j]
            for i in range(d["n_in"]):
                s += a[i] * d["w_m"][i][j] * Fraction(2) ** -d["w_f"][i][j]
            if d["act"] == 1 and s < 0:
                s = Fraction(0)
            y.append(s)
        m = [quant(y[j], q["k"][j], q["i"][j], q["f"][j], q["round"],
                   q["overflow"]) for j in range(q["n"])]
        a = [Fraction(m[j]) * Fraction(2) ** -q["f"][j]
             for j in range(q["n"])]
    return m


def write_npy(path, rows):
    cols = len(rows[0])
    hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }" \
        % (len(rows), cols)
    total = (10 + len(hdr) + 1 + 63) // 64 * 64
    hdr = hdr + " " * (total - 10 - len(hdr) - 1) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) +
                hdr.encode())
        for r in rows:
            f.write(struct.pack("<%dd" % cols, *r))


def put(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------------
# the edge models
# ---------------------------------------------------------------------

def Q(n, k, i, f, rnd=0, ovf=1):
    return {"kind": 1, "n": n, "k": k, "i": i, "f": f, "round": rnd,
            "overflow": ovf}


def D(w_m, w_f, b_m, b_f, act=0):
    return {"kind": 2, "n_in": len(w_m), "n_out": len(w_m[0]), "w_m": w_m,
            "w_f": w_f, "b_m": b_m, "b_f": b_f, "act": act}


P62 = 2.0 ** 62


def edge_wide(out_ovf):
    """six inputs at the corners of the format (width 32, |i| or |f| 62,
    width 1, width 0), one dense layer whose accumulators come within a
    few units of 2^62, outputs of width 32 with shifts of 0, 20 and 31"""
    q0 = Q(6, k=[1, 0, 0, 1, 1, 0], i=[31, 32, -30, 62, 62, 62],
           f=[0, 0, 62, -31, -62, -62], rnd=0, ovf=1)
    d1 = D(w_m=[[-(1 << 30), 0, 1],
                [(1 << 29) - 1, 0, 0],
                [0, 3, 0],
                [0, -5, 0],
                [0, 0, (1 << 31) - 1],
                [0, 0, -(1 << 31)]],
           w_f=[[0, 0, -30],
                [0, 0, 0],
                [0, -62, 0],
                [0, 31, 0],
                [0, 0, 62],
                [0, 0, 62]],
           b_m=[-(1 << 31), -7, (1 << 30) - 1], b_f=[0, -10, -30])
    q2 = Q(3, k=[1, 1, 1], i=[31, 51, 62], f=[0, -20, -31], rnd=0,
           ovf=out_ovf)
    return [q0, d1, q2]


def edge_wide_inputs():
    cols = [
        [0.0, 2147483647.0, -2147483648.0, 1e300, -1e300, 2147483647.5,
         -2147483648.5, 0.5, -0.5, 5e-324, -5e-324, 123456789.25],
        [0.0, 4294967295.0, 4294967296.0, -1.0, 1e300, 4294967294.5, 1.5,
         2.0 ** -1074],
        [0.0, 2.0 ** -30 - 2.0 ** -62, 2.0 ** -62, 2.0 ** -63, 1.0, -1.0,
         3 * 2.0 ** -64, 2.0 ** -31],
        [0.0, P62 - 2.0 ** 31, -P62, 1e300, -1e300, 2.0 ** 30, -2.0 ** 30,
         -(2.0 ** 30) * 3],
        [0.0, -P62, P62, -(2.0 ** 61), 2.0 ** 61, -1e300, -3 * 2.0 ** 60],
        [0.0, 1e300, -1e300, 12345.0],
    ]
    rows = [[c[1] for c in cols], [c[2] for c in cols], [c[0] for c in cols]]
    rng = random.Random(8)
    for _ in range(61):
        rows.append([rng.choice(c) for c in cols])
    return rows


def edge_fine():
    """fractions at +62 (values of 2^-62), i at -62, WRAP of a sum"""
    q0 = Q(3, k=[1, 0, 1], i=[-31, -30, -38], f=[62, 62, 62], rnd=1,
           ovf=0)
    d1 = D(w_m=[[1, 3, -1], [-1, 1, 0], [1, 0, 7]],
           w_f=[[0, 0, 0], [0, 0, 0], [0, 0, 0]],
           b_m=[1, -1, 0], b_f=[62, 62, 0], act=0)
    q2 = Q(3, k=[1, 0, 1], i=[-31, -62, -40], f=[62, 62, 62], rnd=0,
           ovf=0)
    return [q0, d1, q2]


def edge_fine_inputs():
    cols = [
        [0.0, 2.0 ** -31 - 2.0 ** -62, -(2.0 ** -31), 2.0 ** -62,
         -(2.0 ** -62), 2.0 ** -63, 1.0, -1.0, 3 * 2.0 ** -64],
        [0.0, 2.0 ** -30 - 2.0 ** -62, 2.0 ** -62, 5 * 2.0 ** -63, 2.0,
         -(2.0 ** -62)],
        [0.0, 2.0 ** -39 - 2.0 ** -62, -(2.0 ** -39), 2.0 ** -38,
         7 * 2.0 ** -63],
    ]
    rows = [[c[1] for c in cols], [c[2] for c in cols], [c[0] for c in cols]]
    rng = random.Random(9)
    for _ in range(45):
        rows.append([rng.choice(c) for c in cols])
    return rows


def write_edge(name, layers, rows):
    put(name + ".hgqm", model_bytes(len(rows[0]), layers))
    write_npy(os.path.join(HERE, name + ".npy"), rows)
    n_out = layers[-1]["n"]
    with open(os.path.join(HERE, name + ".ok"), "w") as f:
        f.write("#" + "\t".join("y%d" % j for j in range(n_out)) + "\n")
        for r in rows:
            f.write("\t".join(str(m) for m in run(layers, r)) + "\n")


# models the engine must refuse: accumulators that need 63 bits or more
def edge_refused():
    # |w| * max|a| = 2^31 * 2^31 = 2^62: one term already reaches 2^62
    acc = [Q(1, k=[1], i=[31], f=[0]),
           D(w_m=[[-(1 << 31)]], w_f=[[0]], b_m=[0], b_f=[0]),
           Q(1, k=[1], i=[31], f=[0])]
    put("edge-acc62.hgqm", model_bytes(1, acc))
    # each term fits, the sum of two does not: 2 * (2^31-1) * 2^31 > 2^62
    acc2 = [Q(2, k=[1, 1], i=[31, 31], f=[0, 0]),
            D(w_m=[[(1 << 31) - 1], [(1 << 31) - 1]], w_f=[[0], [0]],
              b_m=[0], b_f=[0]),
            Q(1, k=[1], i=[31], f=[0])]
    put("edge-acc-sum.hgqm", model_bytes(2, acc2))
    # a fine input (f = 62) and a fine weight (f = 62) put the accumulator
    # at 2^-124; aligning the coarse bias there needs a 124-bit shift
    sh = [Q(1, k=[1], i=[-31], f=[62]),
          D(w_m=[[1]], w_f=[[62]], b_m=[1], b_f=[0]),
          Q(1, k=[1], i=[31], f=[0])]
    put("edge-shift.hgqm", model_bytes(1, sh))


# valid models whose sums fit in a few bits although an accumulator for
# the whole layer, or one sized from the formats alone, would not
def edge_mixed_exp():
    """one column at 2^-60, the other at 2^20: a common accumulator
    position for the layer needs 80 more bits; output 1's exact range
    fits its SAT format, output 0's does not (both sides clip)"""
    q0 = Q(3, k=[1, 1, 1], i=[7, 7, 7], f=[0, 0, 0], rnd=1, ovf=1)
    d1 = D(w_m=[[1, 5], [-1, -3], [3, 7]],
           w_f=[[60, -20], [60, -20], [58, -20]],
           b_m=[0, 3], b_f=[0, -25])
    q2 = Q(2, k=[1, 1], i=[-50, 31], f=[60, -10], rnd=0, ovf=1)
    return [q0, d1, q2]


def edge_dead_f60():
    """a zero-width output with f = 60 beside live outputs at f 0 and 1"""
    q0 = Q(2, k=[1, 1], i=[15, 15], f=[0, 0], rnd=1, ovf=1)
    d1 = D(w_m=[[3, 5, 1], [-7, 2, 1]], w_f=[[0, 0, 0], [0, 0, 0]],
           b_m=[1, 0, 0], b_f=[0, 0, 0])
    q2 = Q(3, k=[1, 0, 1], i=[20, -60, 17], f=[0, 60, 1], rnd=0, ovf=1)
    return [q0, d1, q2]


def edge_narrow_chain():
    """a 32-bit quantizer that only ever holds 0..3, times 2^31 - 1: the
    formats alone allow 2^62, the exact ranges 3 * (2^31 - 1)"""
    q0 = Q(1, k=[0], i=[2], f=[0], rnd=1, ovf=1)
    d1 = D(w_m=[[1]], w_f=[[0]], b_m=[0], b_f=[0])
    q2 = Q(1, k=[1], i=[31], f=[0], rnd=1, ovf=1)
    d3 = D(w_m=[[(1 << 31) - 1]], w_f=[[0]], b_m=[-5], b_f=[1])
    q4 = Q(1, k=[0], i=[33], f=[-2], rnd=0, ovf=1)
    return [q0, d1, q2, d3, q4]


def edge_ranges_inputs(n_cols, seed):
    col = [0.0, -128.7, -128.0, 127.0, 127.9, 1e300, -1e300, 0.5, -0.5,
           2.0, 3.0, 3.5, -1.0, 64.25, 32767.0, -32768.0, 40000.0,
           -12345.0]
    rng = random.Random(seed)
    rows = [[col[3]] * n_cols, [col[2]] * n_cols, [col[0]] * n_cols]
    for _ in range(37):
        rows.append([rng.choice(col) for _ in range(n_cols)])
    return rows


# ---------------------------------------------------------------------
# the hostile models
# ---------------------------------------------------------------------

def hostile():
    tiny = os.path.join(EXAMPLES, "tiny.hgqm")
    train = os.path.join(EXAMPLES, "tiny-train.hgqm")
    defl = os.path.join(EXAMPLES, "tiny-deflate.hgqm")
    good = open(tiny, "rb").read()

    def t():
        return parse(tiny)

    def tr():
        return parse(train)

    def patched(chs, cid, at, fmt, *vals):
        struct.pack_into(fmt, chunk(chs, cid)["data"], at, *vals)
        return chs

    # header
    put("hostile-magic.hgqm", b"\x89PNG" + good[4:])
    put("hostile-major2.hgqm", build(t(), major=2))
    put("hostile-hlen.hgqm", good[:8] + struct.pack("<I", 0xfffffff8) +
        good[12:])
    put("hostile-nchunks.hgqm", good[:12] + struct.pack("<I", 0xffffffff) +
        good[16:])
    put("hostile-header-crc.hgqm", build(t(), header_crc=0x12345678))
    # chunk table
    c = t()
    c[0]["len"] = 1 << 40
    put("hostile-toc-1tib.hgqm", build(c))
    c = t()
    c[2]["len"] = 1 << 31
    put("hostile-toc-2gib.hgqm", build(c))
    c = t()
    c[1]["off"] = 1 << 50
    put("hostile-toc-offset.hgqm", build(c))
    c = t()
    c.append({"id": b"ZZZZ", "flags": REQUIRED, "data": b"12345678"})
    put("hostile-unknown-required.hgqm", build(c))
    c = t()
    put("hostile-duplicate.hgqm", build([c[0], c[1], c[1], c[2]]))
    c = t()
    put("hostile-no-grph.hgqm", build([c[0], c[2]]))
    c = t()
    put("hostile-order.hgqm", build([c[1], c[0], c[2]]))
    # counts inside chunks (CRCs correct): terabytes, or far more than
    # the bytes that follow
    put("hostile-inpt-nraw.hgqm",
        build(patched(t(), b"INPT", 4, "<I", 0xffffffff)))
    put("hostile-inpt-nmap.hgqm",
        build(patched(t(), b"INPT", 12, "<I", 1 << 24)))
    put("hostile-grph-layers.hgqm",
        build(patched(t(), b"GRPH", 0, "<I", 0xffffffff)))
    put("hostile-grph-shape.hgqm",
        build(patched(t(), b"GRPH", 8 + 24 + 4, "<II", 1 << 24, 1 << 24)))
    # a consistent chain q(4) -> dense 4 x 2^24 -> q(2^24) -> dense
    # 2^24 x 1 -> q(1): the structure passes, FIXP's count is the lie
    c = t()
    for at, n_in, n_out in ((8, 4, 4), (8 + 24, 4, 1 << 24),
                            (8 + 48, 1 << 24, 1 << 24),
                            (8 + 72, 1 << 24, 1)):
        patched(c, b"GRPH", at + 4, "<II", n_in, n_out)
    put("hostile-fixp-weights.hgqm", build(c))
    put("hostile-grph-kind.hgqm",
        build(patched(t(), b"GRPH", 8 + 24, "<I", 3)))
    put("hostile-calb-count.hgqm",
        build(patched(tr(), b"CALB", 0, "<I", 0xffffffff)))
    put("hostile-trns-count.hgqm",
        build(patched(tr(), b"TRNS", 56, "<I", 0xffffffff)))
    put("hostile-trns-tensor.hgqm",
        build(patched(tr(), b"TRNS", 64 + 8, "<I", 1 << 26)))
    put("hostile-meta-value.hgqm",
        build(patched(tr(), b"META", 12, "<I", 0xffffffff)))
    put("hostile-meta-16mib.hgqm",
        build(patched(tr(), b"META", 12, "<I", 1 << 24)))
    c = parse(defl)
    struct.pack_into("<Q", chunk(c, b"FIXP")["data"], 0, 1 << 40)
    put("hostile-deflate-1tib.hgqm", build(c))
    c = parse(defl)
    fx = chunk(c, b"FIXP")["data"]
    fx[20] ^= 0x55
    put("hostile-deflate-garbage.hgqm", build(c))
    c = parse(defl)
    fx = chunk(c, b"FIXP")["data"]
    struct.pack_into("<Q", fx, 0, 1032 * (len(fx) - 8))
    put("hostile-deflate-short.hgqm", build(c))
    # invariants of the model (hgq_model_validate)
    #   FIXP layout: 8 + layer 0 (k, i, f: 8 each) + layer 1 (48) +
    #   layer 2 (24) + layer 3 (32) + layer 4: k at 128, i at 136, f at 144
    #   (layer 4 is k=1 i=1 f=3: i = 29 makes the width 33)
    put("hostile-width33.hgqm",
        build(patched(t(), b"FIXP", 136, "<b", 29)))
    put("hostile-i63.hgqm",
        build(patched(t(), b"FIXP", 16, "<bb", 63, 5)))
    put("hostile-weight-f63.hgqm",
        build(patched(t(), b"FIXP", 8 + 24 + 16, "<b", 63)))
    put("hostile-k2.hgqm", build(patched(t(), b"FIXP", 8, "<b", 2)))
    put("hostile-index-map.hgqm",
        build(patched(t(), b"INPT", 16, "<II", 1, 0)))
    put("hostile-round-mode.hgqm",
        build(patched(t(), b"GRPH", 8 + 16, "<B", 7)))
    c = t()
    chunk(c, b"INPT")["data"] += bytes(8)
    put("hostile-trailing.hgqm", build(c))
    nan = float("nan")
    c = t()
    chunk(c, b"INPT")["data"] = bytearray(inpt(2, [0, 1], norm=1,
                                               offset=[0.0, 0.0],
                                               scale=[1.0, nan]))
    put("hostile-norm-nan.hgqm", build(c))
    spec_rules(t, tr, patched)


def deflated(data):
    """a DEFLATE chunk's stored bytes, as the writer makes them"""
    z = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY)
    return struct.pack("<Q", len(data)) + z.compress(bytes(data)) + z.flush()


def spec_rules(t, tr, patched):
    """the rules formats/hgqm.md states where it once left a choice open:
    hostile-* must be refused, good-* read (tests/unit/check_format.c)"""
    nan = float("nan")
    # a model file is one model: nothing after its last chunk
    put("hostile-after-last.hgqm", build(t()) + bytes(8))
    # files of minor 0, 1 and 2 have the 16-byte header (no header field
    # is defined up to 1.2); a later minor may have more
    conv = os.path.join(EXAMPLES, "conv2d.hgqm")
    put("hostile-hlen24-minor0.hgqm", build(t(), hextra=bytes(8)))
    put("hostile-hlen24-minor1.hgqm",
        build(parse(conv), minor=1, hextra=bytes(8)))
    put("hostile-hlen24-minor2.hgqm",
        build(parse(conv), minor=2, hextra=bytes(8)))
    put("good-hlen24-minor3.hgqm",
        build(parse(conv), minor=3, hextra=b"\xa5" * 8))
    # CALB: finite ranges with min <= max (layer 0: min at 16, max at 32)
    put("hostile-calb-nan.hgqm",
        build(patched(tr(), b"CALB", 16, "<d", nan)))
    put("hostile-calb-inverted.hgqm",
        build(patched(tr(), b"CALB", 24, "<d", 5.0)))
    # TRNS: lr_scale finite and positive; progress only with has_state
    put("hostile-trns-lr-nan.hgqm",
        build(patched(tr(), b"TRNS", 48, "<d", nan)))
    put("hostile-trns-progress.hgqm",
        build(patched(tr(), b"TRNS", 0, "<I", 0)))
    # a moment without its tensor: layer 1's weight record (role 1, 4
    # floats, at 184) is dropped, its moments 0x101 and 0x201 stay
    c = tr()
    d = chunk(c, b"TRNS")["data"]
    rec = 16 + 4 * 4                    # role 1 of layer 1: 4 floats
    del d[184:184 + rec]
    struct.pack_into("<I", d, 56, struct.unpack_from("<I", d, 56)[0] - 1)
    put("hostile-trns-moment.hgqm", build(c))
    # "scale" normalisation: offsets 0 (of either sign), scales as before
    c = t()
    chunk(c, b"INPT")["data"] = bytearray(inpt(2, [0, 1], norm=1,
                                               offset=[0.0, 0.5],
                                               scale=[1.0, 2.0]))
    put("hostile-norm-scale-offset.hgqm", build(c))
    c = t()
    chunk(c, b"INPT")["data"] = bytearray(inpt(2, [0, 1], norm=1,
                                               offset=[-0.0, 0.0],
                                               scale=[0.5, 2.0]))
    put("good-scale-negzero.hgqm", build(c))
    # empty optional chunks (no entries, no state) read as absent ones
    c = t()
    c.append({"id": b"CALB", "flags": 0, "data": struct.pack("<II", 0, 0)})
    c.append({"id": b"TRNS", "flags": 0,
              "data": struct.pack("<IIQ4QdII", 0, 0, 0, 0, 0, 0, 0, 1.0,
                                  0, 0)})
    c.append({"id": b"META", "flags": 0, "data": struct.pack("<II", 0, 0)})
    c.append({"id": b"XTRA", "flags": 0, "data": b""})
    put("good-empty-chunks.hgqm", build(c))
    # DEFLATE on the chunks the writer stores plain
    c = tr()
    for ch in c:
        ch["data"] = bytearray(deflated(ch["data"]))
        ch["flags"] |= DEFLATE
    put("good-deflate-all.hgqm", build(c))
    # an unknown optional chunk first
    c = t()
    put("good-unknown-first.hgqm",
        build([{"id": b"XTRA", "flags": 0, "data": b"12345678"}] + c))


# ---------------------------------------------------------------------
# hostile data files (npy) for a model of 6 raw inputs and 4 classes
# ---------------------------------------------------------------------

def npy(name, descr, shape, payload, fortran=False, raw_header=None):
    if raw_header is None:
        hdr = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
            descr, "True" if fortran else "False",
            "(%s)" % "".join("%d, " % d for d in shape) if len(shape) == 1
            else "(%s)" % ", ".join("%d" % d for d in shape))
        total = (10 + len(hdr) + 1 + 63) // 64 * 64
        hdr = hdr + " " * (total - 10 - len(hdr) - 1) + "\n"
    else:
        hdr = raw_header
    put(name, b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) +
        hdr.encode() + payload)


def f8(*v):
    return struct.pack("<%dd" % len(v), *v)


def hostile_data():
    nan, inf = float("nan"), float("inf")
    row = [0.5, -1.0, 2.0, 0.0, 1.5, -0.25]
    npy("data-nan.npy", "<f8", (2, 6), f8(*row) + f8(*row[:3], nan, *row[4:]))
    npy("data-inf.npy", "<f8", (2, 6), f8(*row) + f8(inf, *row[1:]))
    npy("data-ninf.npy", "<f4", (1, 6),
        struct.pack("<6f", 0, 0, 0, 0, 0, -inf))
    npy("data-3d.npy", "<f8", (2, 3, 2), f8(*row) + f8(*row))
    npy("data-cut.npy", "<f8", (100, 6), f8(*row) * 3)
    npy("data-huge.npy", "<f8", (1 << 40, 1 << 20), f8(*row))
    npy("data-huge-rows.npy", "<f8", (1 << 40, 6), f8(*row))
    npy("labels-huge.npy", "<i8", (1 << 40,), struct.pack("<2q", 0, 1))
    npy("data-overflow.npy", "<f8", (1 << 62, 1 << 62), f8(*row))
    npy("data-fortran.npy", "<f8", (2, 6), f8(*row) * 2, fortran=True)
    npy("data-object.npy", "|O", (2, 6), bytes(96))
    npy("data-bad-header.npy", None, None, f8(*row),
        raw_header="{'descr': '<f8', 'shape': (1, 6) " + " " * 40 + "\n")
    npy("labels-neg.npy", "<i8", (2,), struct.pack("<2q", 0, -1))
    npy("labels-big.npy", "<i8", (2,), struct.pack("<2q", 3, 4))
    npy("labels-frac.npy", "<f8", (2,), f8(1.0, 2.5))
    npy("labels-nan.npy", "<f8", (2,), f8(1.0, nan))
    npy("labels-2col.npy", "<i8", (2, 2), struct.pack("<4q", 0, 1, 2, 3))
    npy("data-good.npy", "<f8", (2, 6), f8(*row) * 2)


def edge_wide_input():
    """2^20 raw columns, of which the model reads the first and the last:
    the inputs come as a gzip'ed npy of uint8 (3 MiB, 3 KiB compressed)"""
    n_raw, rows = 1 << 20, 3
    layers = [Q(2, k=[1, 1], i=[3, 3], f=[2, 2]),
              D(w_m=[[1, -1], [3, 1]], w_f=[[0, 0], [1, 0]], b_m=[1, 0],
                b_f=[0, 0]),
              Q(2, k=[1, 1], i=[6, 6], f=[2, 2])]
    put("edge-wide-input.hgqm", build([
        {"id": b"INPT", "flags": REQUIRED,
         "data": inpt(n_raw, [0, n_raw - 1])},
        {"id": b"GRPH", "flags": REQUIRED, "data": grph(layers)},
        {"id": b"FIXP", "flags": REQUIRED, "data": fixp(layers)},
    ]))
    data = bytearray(rows * n_raw)
    used = []
    for r in range(rows):
        data[r * n_raw] = r + 1
        data[r * n_raw + n_raw - 1] = 2 * r
        used.append([r + 1, 2 * r])
    hdr = "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, %d), }" \
        % (rows, n_raw)
    total = (10 + len(hdr) + 1 + 63) // 64 * 64
    hdr = hdr + " " * (total - 10 - len(hdr) - 1) + "\n"
    raw = (b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) +
           hdr.encode() + bytes(data))
    put("edge-wide-input.npy.gz", gzip.compress(raw, 9, mtime=0))
    with open(os.path.join(HERE, "edge-wide-input.ok"), "w") as f:
        f.write("#y0\ty1\n")
        for r in used:
            f.write("\t".join(str(m) for m in run(layers, r)) + "\n")


# ---------------------------------------------------------------------
# hostile shaped models (format 1.1, hgqm.md 4.3.3): one per graph rule,
# from formats/examples/conv2d.hgqm (q [4,4,1] conv2d 3x3 -> q [2,2,2]
# maxpool 2x2 -> q [1,1,2] flatten -> q [2] dense -> q [2]) and
# conv1d.hgqm (q [6,2] conv1d -> q [3,2] avgpool 2 -> q [2,2] ...)
# ---------------------------------------------------------------------

def rec(j):
    """payload offset of GRPH record j of the 1.1 examples (16 + 56
    bytes per record: one input reference)"""
    return 8 + 72 * j


# offsets inside a 1.1 record
R_NIN, R_NOUT, R_PLEN, R_RANK, R_SHAPE, R_NINPUTS = 4, 8, 12, 24, 28, 40
R_KERNEL, R_STRIDE, R_INPUTS = 48, 56, 64


def hostile_shaped():
    c2 = os.path.join(EXAMPLES, "conv2d.hgqm")
    c1 = os.path.join(EXAMPLES, "conv1d.hgqm")

    def g(path, *patches):
        c = parse(path)
        for (j, at, fmt, vals) in patches:
            struct.pack_into(fmt, chunk(c, b"GRPH")["data"], rec(j) + at,
                             *vals)
        return build(c, minor=1)

    put("hostile-conv-zero-dim.hgqm",
        g(c2, (1, R_SHAPE, "<III", (2, 0, 2))))
    put("hostile-conv-huge-dims.hgqm",
        g(c2, (1, R_SHAPE, "<III", (1 << 24, 1 << 24, 2))))
    put("hostile-conv-kernel.hgqm",
        g(c2, (1, R_KERNEL, "<II", (5, 5))))
    put("hostile-conv-stride.hgqm",
        g(c2, (1, R_STRIDE, "<II", (0, 1))))
    put("hostile-conv-out-shape.hgqm",
        g(c2, (1, R_SHAPE, "<III", (1, 4, 2))))
    put("hostile-conv-quant-shape.hgqm",
        g(c2, (2, R_SHAPE, "<III", (2, 1, 4))))
    # a consistent lie: 2^24 channels in, 2^24 filters out of a 1x1
    # kernel, 2^48 weights
    put("hostile-conv-weights.hgqm",
        g(c2, (0, R_NIN, "<II", (1 << 24, 1 << 24)),
          (0, R_SHAPE, "<III", (1, 1, 1 << 24)),
          (1, R_NIN, "<II", (1 << 24, 1 << 24)),
          (1, R_SHAPE, "<III", (1, 1, 1 << 24)),
          (1, R_KERNEL, "<II", (1, 1))))
    # 2^14 positions x 64 channels x 512 filters = 2^29 multiplications
    put("hostile-conv-work.hgqm",
        g(c2, (0, R_NIN, "<II", (1 << 20, 1 << 20)),
          (0, R_SHAPE, "<III", (1, 1 << 14, 64)),
          (1, R_NIN, "<II", (1 << 20, 1 << 23)),
          (1, R_SHAPE, "<III", (1, 1 << 14, 512)),
          (1, R_KERNEL, "<II", (1, 1))))
    put("hostile-conv-forward-ref.hgqm",
        g(c2, (2, R_INPUTS, "<I", (5,))))
    put("hostile-conv-input-ref.hgqm",
        g(c2, (2, R_INPUTS, "<I", (0x80000000,))))
    put("hostile-conv-alternation.hgqm",
        g(c2, (2, R_INPUTS, "<I", (0,))))
    put("hostile-conv-rank.hgqm", g(c2, (1, R_RANK, "<I", (7,))))
    put("hostile-conv-ninputs.hgqm",
        g(c2, (1, R_NINPUTS, "<I", (0xffffffff,))))
    put("hostile-conv-plen.hgqm", g(c2, (0, R_PLEN, "<I", (48,))))
    # average pooling over 1x3: pool [1, 3] on [3, 2] gives [1, 2]
    put("hostile-avgpool-area.hgqm",
        g(c1, (3, R_NOUT, "<I", (2,)), (3, R_SHAPE, "<III", (1, 2, 0)),
          (3, R_KERNEL, "<II", (1, 3)), (3, R_STRIDE, "<II", (1, 1))))


def later_minor():
    """tiny.hgqm as a 1.1 file: every 1.0 record (24 bytes, 8 of
    parameters) rewritten as a 1.1 record (72 bytes: rank 1, shape
    [n_out], one input reference to the layer before)"""
    c = parse(os.path.join(EXAMPLES, "tiny.hgqm"))
    g = chunk(c, b"GRPH")
    old = g["data"]
    n = struct.unpack_from("<I", old, 0)[0]
    new = bytearray(old[:8])
    for j in range(n):
        r = old[8 + 24 * j: 8 + 24 * (j + 1)]
        rec = bytearray(72)
        rec[0:24] = r
        struct.pack_into("<I", rec, R_PLEN, 56)
        struct.pack_into("<I", rec, R_RANK, 1)
        rec[R_SHAPE:R_SHAPE + 4] = r[8:12]
        struct.pack_into("<I", rec, R_NINPUTS, 1)
        struct.pack_into("<I", rec, R_INPUTS,
                         0x80000000 if j == 0 else j - 1)
        new += rec
    g["data"] = bytes(new)
    put("minor1.hgqm", build(c, minor=1))


# ---------------------------------------------------------------------
# hostile graphs (format 1.2, hgqm.md 4.3.3 and 4.8): one per rule, from
# formats/examples/graph.hgqm (q0 x_a [2], q1 x_b [1], dense 2 <- 0,
# q3, dense 4 <- 1, q5, add 6 <- 3 5, q7 "sum", lut tanh 8 <- 7, q9,
# concatenate 10 <- 7 9, q11 "y") and graph-train.hgqm (its mask)
# ---------------------------------------------------------------------

def grph_records(data):
    """the 1.1/1.2 records of a GRPH payload as dicts"""
    n = struct.unpack_from("<I", data, 0)[0]
    at, out = 8, []
    for _ in range(n):
        kind, n_in, n_out, plen = struct.unpack_from("<IIII", data, at)
        par = data[at + 16:at + 24]
        rank = struct.unpack_from("<I", data, at + R_RANK)[0]
        shape = list(struct.unpack_from("<III", data, at + R_SHAPE))
        k = struct.unpack_from("<I", data, at + R_NINPUTS)[0]
        win = list(struct.unpack_from("<4I", data, at + R_KERNEL))
        refs = list(struct.unpack_from("<%dI" % k, data, at + R_INPUTS))
        out.append({"kind": kind, "n_in": n_in, "n_out": n_out,
                    "par": bytearray(par), "rank": rank, "shape": shape,
                    "win": win, "refs": refs})
        at += 16 + plen
    return out


def grph_bytes(recs):
    b = struct.pack("<II", len(recs), 0)
    for r in recs:
        k = len(r["refs"])
        refs = pad8(struct.pack("<%dI" % k, *r["refs"]))
        b += struct.pack("<IIII", r["kind"], r["n_in"], r["n_out"],
                         48 + len(refs))
        b += bytes(r["par"]) + struct.pack("<I3III4I", r["rank"],
                                            *r["shape"], k, 0, *r["win"])
        b += refs
    return b


def fixp_offsets(recs):
    """payload offset of each layer's arrays in FIXP (quantizer: k, then
    i and f 1 * align8(n) apart; dense: the weight mantissas first)"""
    at, offs = 8, []
    for r in recs:
        offs.append(at)
        if r["kind"] == 1:
            at += 3 * align8(r["n_out"])
        elif r["kind"] == 2:
            nw = r["n_in"] * r["n_out"]
            at += align8(4 * nw) + align8(nw) + align8(4 * r["n_out"]) + \
                align8(r["n_out"])
    return offs


def port_bytes(inputs, outputs):
    b = struct.pack("<II", len(inputs), len(outputs))
    for layer, name in inputs + outputs:
        b += struct.pack("<IB3x", layer, len(name)) + \
            name.encode().ljust(32, b"\0")
    return b


G_IN = [(0, "x_a"), (1, "x_b")]
G_OUT = [(7, "sum"), (11, "y")]


def hostile_graph():
    gpath = os.path.join(EXAMPLES, "graph.hgqm")
    tpath = os.path.join(EXAMPLES, "graph-train.hgqm")

    def g(edit=None, ports=None, path=gpath, minor=2):
        c = parse(path)
        gr = chunk(c, b"GRPH")
        recs = grph_records(gr["data"])
        if edit:
            edit(recs)
        gr["data"] = grph_bytes(recs)
        if ports is not None:
            chunk(c, b"PORT")["data"] = port_bytes(*ports)
        return c, recs

    def put_g(name, *args, **kw):
        c, _ = g(*args, **kw)
        put(name, build(c, minor=kw.get("minor", 2)))

    def refs(j, *v):
        def f(recs):
            recs[j]["refs"] = list(v)
        return f

    IN = 0x80000000
    put_g("hostile-g-forward-ref.hgqm", refs(3, 4))
    put_g("hostile-g-dangling-ref.hgqm", refs(9, 99))
    put_g("hostile-g-input-to-op.hgqm", refs(2, IN))
    # the lookup table's quantizer reads the add: the add has 2 readers
    put_g("hostile-g-two-readers.hgqm", refs(9, 6))
    # the concatenation reads the sum twice: q9 is read by nothing
    put_g("hostile-g-unused.hgqm", refs(10, 7, 7))
    put_g("hostile-g-dup-name.hgqm", ports=(G_IN, [(7, "sum"), (11, "sum")]))
    put_g("hostile-g-bad-name.hgqm", ports=([(0, "x_a"), (1, "2b")], G_OUT))
    put_g("hostile-g-port-layer.hgqm", ports=(G_IN, [(7, "sum"), (99, "y")]))

    def func(recs):
        recs[8]["par"][0] = 9
    put_g("hostile-g-bad-func.hgqm", func)
    # the add reads q1 ([1]) beside q3 ([2])
    put_g("hostile-g-add-shape.hgqm", refs(6, 3, 1))

    def sub3(recs):
        recs[6]["kind"] = 9
        recs[6]["refs"] = [3, 5, 3]
    put_g("hostile-g-sub3.hgqm", sub3)

    def axis(recs):
        recs[10]["par"][0] = 1
    put_g("hostile-g-concat-axis.hgqm", axis)

    # the concatenation (and its quantizer) of 5 elements from 2 + 2
    def dims(recs):
        for j in (10, 11):
            recs[j]["shape"][0] = 5
            recs[j]["n_out"] = 5
        recs[11]["n_in"] = 5
    c, recs = g(dims)
    fx = chunk(c, b"FIXP")["data"]
    o = fixp_offsets(recs)[11]
    # q11 of 5 elements: k, i, f of 8 bytes each (4 of them were used)
    chunk(c, b"FIXP")["data"] = fx[:o] + bytes(24)
    put("hostile-g-concat-dims.hgqm", build(c, minor=2))
    # PORT in a version 1.1 file (whose records are 1.1's)
    put_g("hostile-g-port-minor1.hgqm", minor=1)
    # a classifier with two outputs
    c, _ = g()
    struct.pack_into("<I", chunk(c, b"INPT")["data"], 0, 0)
    put("hostile-g-classify-2out.hgqm", build(c, minor=2))
    # the table's input q7: element 0 of width 13 (k 1, i 6, f 6)
    c, recs = g()
    fx = chunk(c, b"FIXP")["data"]
    o = fixp_offsets(recs)[7]
    fx[o] = 1
    fx[o + 8] = 6
    fx[o + 16] = 6
    put("hostile-g-lut-width.hgqm", build(c, minor=2))
    # masks (graph-train.hgqm: layer 2's mask is [1, 0, 1, 1])
    c, recs = g(path=tpath)
    tr = chunk(c, b"TRNS")["data"]
    at = mask_at(tr)
    struct.pack_into("<f", tr, at, 0.5)
    put("hostile-g-mask-value.hgqm", build(c, minor=2))
    c, recs = g(path=tpath)
    fx = chunk(c, b"FIXP")["data"]
    struct.pack_into("<i", fx, fixp_offsets(recs)[2] + 4, 3)
    put("hostile-g-mask-weight.hgqm", build(c, minor=2))


def mask_at(tr):
    """payload offset of the data of the mask (role 12) in TRNS"""
    n = struct.unpack_from("<I", tr, 56)[0]
    at = 64
    for _ in range(n):
        layer, role, cnt = struct.unpack_from("<III", tr, at)
        if role == 12:
            return at + 16
        at += 16 + align8(4 * cnt)
    raise KeyError("no mask")


def main():
    hostile()
    hostile_graph()
    hostile_shaped()
    hostile_data()
    write_edge("edge-wide-sat", edge_wide(1), edge_wide_inputs())
    write_edge("edge-wide-wrap", edge_wide(0), edge_wide_inputs())
    write_edge("edge-fine", edge_fine(), edge_fine_inputs())
    edge_refused()
    edge_wide_input()
    write_edge("edge-mixed-exp", edge_mixed_exp(), edge_ranges_inputs(3, 21))
    write_edge("edge-dead-f60", edge_dead_f60(), edge_ranges_inputs(2, 22))
    write_edge("edge-narrow-chain", edge_narrow_chain(),
               edge_ranges_inputs(1, 23))
    later_minor()


if __name__ == "__main__":
    main()
