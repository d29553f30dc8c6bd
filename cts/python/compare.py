"""Compares the records run_ops.py wrote for two backends, case by case.

    compare.py REFERENCE CANDIDATE [--report FILE]

A case is `same` when both backends produced the same result, as strictly
as the op repeats itself: every case ran twice eagerly and twice under each
backend, seeded alike over differently dirtied memory. Where all those runs
were bitwise equal, the results must be bitwise equal (dtype, shape, the
strides of dimensions of two or more elements, every bit); where some
agreed only within OpInfo's tolerance (its toleranceOverride for the dtype,
else torch.testing's defaults), within that tolerance; where some differed
beyond it (random or uninitialised outputs, and the ops OpInfo calls "not
comparable"), in structure, shapes and dtypes. A case is also `same` when
the candidate's result is eager's, as strictly (ts_cpu returns weight
gradients in eager's layout, where LibTorch 1.13's in-tree backend returns
them transposed; the report says where). A case is `both fail` when
both backends raised or crashed, and `differ` when the results differ, only
one backend raised or crashed, only the candidate failed to repeat an op
that repeats bitwise everywhere else (unless the op gives random results
eagerly or in-tree in another case: then whether a case repeats depends on
the memory it gets), or the runners drew different inputs.

An op is `differ` if any of its cases differs, else `both fail` if any of
its cases failed under both backends, else `same`; `not run` if it has no
case (it supports none of the dtypes run on the CPU).

A backend with kernels of its own (ref_cpu) is compared with eager instead
(`eager_reference`, `Comparison(..., independent=True)`): every case within
tolerance, as no two implementations of a float sum agree bit for bit; a
case it refuses with UNIMPLEMENTED while eager runs it is `refused`, not
`differ`. Given the in-tree backend's records (`lazy=`), a case it fails
where the in-tree backend fails too (what the lazy core cannot do) is `both
fail`, and a result within tolerance of the in-tree backend's where eager's
differs (where the lazy core's graph is not eager's op) is `same`, and the
report says so. Such an op is `refused` if none of its cases differs.

Where the candidate goes through the host, whose kernels at the lazy core's
dispatch key fill its gaps (host/lazy_gap_kernels.cpp), a case the in-tree
backend fails and the candidate computes as eager does, within tolerance,
is `fixed`: an op `fixed` in some case and failing or differing in none
moved from `both fail` to working. A case of an op in-tree falls back to
eager for and the candidate does not, whose in-tree result is eager's bit
for bit, is `same` when the candidate's is within tolerance of it: a
decomposition need not round as the CPU kernel does.
"""
import argparse
import math
import struct
import sys
from collections import Counter

from run_ops import read_records, tensors_in

SAME, DIFFER, BOTH_FAIL, NOT_RUN = "same", "differ", "both fail", "not run"
REFUSED = "refused"
FIXED = "fixed"
AS_EAGER = "as eager, bit for bit; in-tree differs: "
AS_IN_TREE = "as the in-tree backend, within tolerance; eager differs: "
FIXED_DETAIL = "as eager, within tolerance; fails in-tree: "
DECOMPOSED = ("as eager, within tolerance, where in-tree runs eager's kernel (a fallback the "
              "host decomposes): ")


# -- recording tensors ----------------------------------------------------

class EncodedTensor:
    """A CPU tensor as dtype, shape, strides, layout and raw bytes: pickles
    for every dtype (complex32 included) and whatever wrapped the tensor."""

    def __init__(self, dtype, shape, strides, layout, data):
        self.dtype, self.shape, self.strides = dtype, shape, strides
        self.layout, self.data = layout, data


def encode(tensor):
    import torch
    layout = str(tensor.layout)
    strides = tuple(tensor.stride()) if tensor.layout == torch.strided else None
    if tensor.is_quantized:
        tensor, layout = tensor.int_repr(), "quantized"
    elif tensor.layout != torch.strided:
        tensor = tensor.to_dense()
    # A fresh copy: a result may have any strides, 0 included, even where
    # it counts as contiguous.
    flat = torch.empty(tensor.shape, dtype=tensor.dtype).copy_(tensor).reshape(-1)
    data = flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""
    return EncodedTensor(str(tensor.dtype).replace("torch.", ""), tuple(tensor.shape),
                         strides, layout, data)


def decode(value):
    """`value` with every EncodedTensor made a tensor again, its original
    strides in `ltc_strides`."""
    import torch
    import warnings
    if isinstance(value, EncodedTensor):
        dtype = getattr(torch, value.dtype)
        if not value.data:
            with warnings.catch_warnings():  # complex32 is "experimental"
                warnings.simplefilter("ignore")
                tensor = torch.empty(value.shape, dtype=dtype)
        else:
            tensor = torch.frombuffer(bytearray(value.data), dtype=torch.uint8)
            tensor = tensor.view(dtype).reshape(value.shape)
        tensor.ltc_strides = value.strides
        if value.layout != "torch.strided":
            tensor = LayoutTensor(tensor, value.layout)
        return tensor
    if isinstance(value, (list, tuple)):
        items = [decode(v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    return value


def strides_that_count(tensor):
    """The strides of the dimensions of two or more elements: the others
    never address memory."""
    strides = getattr(tensor, "ltc_strides", None)
    if strides is None or tensor.numel() == 0:
        return None
    return tuple(s for s, n in zip(strides, tensor.shape) if n >= 2)


class LayoutTensor:
    """A non-strided result (sparse, quantized) as its dense values and
    layout; equal only to one of the same layout."""

    def __init__(self, tensor, layout):
        self.tensor, self.layout = tensor, layout

    def __eq__(self, other):
        return (isinstance(other, LayoutTensor) and self.layout == other.layout
                and _same_bits(self.tensor, other.tensor))


# -- comparing values -----------------------------------------------------

def _same_bits(a, b):
    import torch
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if strides_that_count(a) != strides_that_count(b):
        return False
    if a.numel() == 0:
        return True
    a = a.contiguous().reshape(-1).view(torch.uint8)
    b = b.contiguous().reshape(-1).view(torch.uint8)
    return torch.equal(a, b)


def _float_bits(x):
    return struct.pack("<d", x)


def structural_walk(a, b, tensors, leaves):
    """True if a and b have the same structure (nested lists, tuples and
    dicts); `tensors(x, y)` decides each pair of tensors, `leaves(x, y)`
    each other pair of leaves, which have one type."""
    import torch
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
                and tensors(a, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(
            structural_walk(x, y, tensors, leaves) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(
            structural_walk(a[k], b[k], tensors, leaves) for k in a)
    return leaves(a, b)


def _same_leaf_bits(a, b):
    if isinstance(a, float):
        return _float_bits(a) == _float_bits(b)
    if isinstance(a, complex):
        return (_float_bits(a.real), _float_bits(a.imag)) == (_float_bits(b.real), _float_bits(b.imag))
    return a == b


def bitwise_equal(a, b):
    return structural_walk(a, b, _same_bits, _same_leaf_bits)


def close(a, b, tolerance=None):
    """Within `tolerance` ({dtype name: (atol, rtol)}, else torch.testing's
    defaults for the dtype), NaNs equal."""
    import torch

    def tensors(x, y):
        if x.dtype != y.dtype or x.shape != y.shape:
            return False
        atol, rtol = (tolerance or {}).get(str(x.dtype).replace("torch.", ""), (None, None))
        try:
            torch.testing.assert_close(x, y, atol=atol, rtol=rtol, equal_nan=True)
        except AssertionError:
            return False
        return True

    def leaves(x, y):
        if isinstance(x, float):
            return math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-8) or (
                math.isnan(x) and math.isnan(y))
        return x == y

    return structural_walk(a, b, tensors, leaves)


def same_shapes(a, b):
    def tensors(x, y):
        return x.dtype == y.dtype and x.shape == y.shape
    return structural_walk(a, b, tensors, lambda x, y: True)


AGREEMENTS = ("bitwise", "close", "random")


def agreement(first, second, tolerance=None):
    """How two seeded runs of one case agree: "bitwise", "close" (within
    tolerance) or "random". Either may be encoded (run_ops.to_cpu)."""
    first, second = decode(first), decode(second)
    if bitwise_equal(first, second):
        return "bitwise"
    if close(first, second, tolerance):
        return "close"
    return "random"


def weakest(*agreements):
    known = [a for a in agreements if a is not None]
    return max(known, key=AGREEMENTS.index) if known else "bitwise"


# -- comparing records ----------------------------------------------------

def compare_case(ref, cand, tolerance, not_comparable=False, erratic=False, independent=False):
    """(verdict, detail) for one case's two records (either may be None).
    `erratic`: the op gives random results eagerly or in-tree in some other
    case (it reads memory it never wrote, or draws random numbers), so
    whether a case repeats bitwise depends on what memory it happens to get
    (6 of 621 ops: the empty* ops, as_strided_scatter, rrelu).
    `independent`: the candidate's kernels are its own; values are compared
    within tolerance, and an UNIMPLEMENTED refusal is `refused`."""
    if ref is None or cand is None:
        missing = "in-tree" if ref is None else "candidate"
        return DIFFER, f"no result from {missing}"
    if ref["ok"] is None and cand["ok"] is None:
        return SAME, "not differentiable"
    if ref["ok"] and cand["ok"]:
        # As strictly as the op repeats itself: eagerly and under each
        # backend. A candidate that alone fails to repeat an op that repeats
        # bitwise everywhere else differs, unless the op is erratic: then
        # the values are compared as strictly as the candidate repeats.
        if (not not_comparable and not erratic and ref["eager"] in ("bitwise", None)
                and ref["lazy"] == "bitwise" and cand["lazy"] != "bitwise"):
            return DIFFER, f"repeats itself only {cand['lazy']} under the candidate"
        # An erratic op's bits depend on the memory it gets: only its
        # structure, shapes and dtypes can be compared.
        agreement = ("random" if not_comparable or erratic else
                     weakest(ref["eager"], ref["lazy"], cand["lazy"]))
        value_a, value_b = ref["value"], cand["value"]
        if agreement == "random":
            if same_shapes(value_a, value_b):
                return SAME, "random: shapes and dtypes equal"
            return DIFFER, "random op: shapes or dtypes differ"
        if bitwise_equal(value_a, value_b):
            return SAME, ""
        if (agreement == "close" or independent) and close(value_a, value_b, tolerance):
            return SAME, "within tolerance"
        eager_value = cand.get("eager_value")
        if eager_value is not None and bitwise_equal(eager_value, value_b):
            return SAME, AS_EAGER + describe_difference(value_a, value_b)
        return DIFFER, "results differ: " + describe_difference(value_a, value_b)
    if not ref["ok"] and not cand["ok"] and ref["ok"] is not None and cand["ok"] is not None:
        eagerly = "(fails eagerly too) " if ref.get("eager", "") is None else ""
        return BOTH_FAIL, eagerly + ref["error"]
    if ref["ok"]:
        if independent and "UNIMPLEMENTED" in str(cand["error"]):
            return REFUSED, str(cand["error"])
        return DIFFER, "fails only under the candidate: " + str(cand["error"])
    return DIFFER, "fails only in-tree: " + str(ref["error"])


def describe_difference(a, b):
    import torch
    a_tensors = list(tensors_in(a))
    b_tensors = list(tensors_in(b))
    if len(a_tensors) != len(b_tensors):
        return f"{len(a_tensors)} vs {len(b_tensors)} tensors"
    for i, (x, y) in enumerate(zip(a_tensors, b_tensors)):
        if x.dtype != y.dtype or x.shape != y.shape:
            return (f"tensor {i}: {x.dtype}{list(x.shape)} vs "
                    f"{y.dtype}{list(y.shape)}")
        if strides_that_count(x) != strides_that_count(y):
            return (f"tensor {i} ({x.dtype}{list(x.shape)}): strides "
                    f"{x.ltc_strides} vs {y.ltc_strides}")
        if not _same_bits(x, y):
            if x.dtype.is_floating_point or x.dtype.is_complex:
                diff = (x.to(torch.complex128 if x.is_complex() else torch.float64)
                        - y.to(torch.complex128 if y.is_complex() else torch.float64)).abs()
                diff = diff[~diff.isnan()]
                worst = diff.max().item() if diff.numel() else float("nan")
                return f"tensor {i} ({x.dtype}{list(x.shape)}): max abs diff {worst:.3g}"
            return f"tensor {i} ({x.dtype}{list(x.shape)}): values differ"
    return "non-tensor values differ"


def compare_op(ref, cand, independent=False, lazy=None):
    """`lazy`: for a backend compared with eager, the in-tree backend's
    record of the op: a case it fails too is the lazy core's failure, and a
    result within tolerance of its result is the lazy core's difference from
    eager, not the candidate's."""
    """(verdict, [(case, verdict, detail)]) for one op's two records."""
    rows = []
    ref_error, cand_error = ref.get("error"), cand.get("error")
    if ref_error or cand_error:
        if ref_error and cand_error:
            rows.append(("op", BOTH_FAIL, ref_error))
        elif cand_error:
            rows.append(("op", DIFFER, "candidate: " + cand_error))
        else:
            rows.append(("op", DIFFER, "in-tree: " + ref_error))
    if ref.get("samples") != cand.get("samples") and not (ref_error or cand_error):
        rows.append(("op", DIFFER, f"samples differ: {ref.get('samples')} vs "
                                   f"{cand.get('samples')}"))
    else:
        for dtype, samples in ref.get("samples", {}).items():
            if isinstance(samples, str):  # OpInfo could not generate them
                rows.append((f"{dtype}/samples", BOTH_FAIL, samples))
    erratic = any(case and case.get("ok") and "random" in (case.get("eager"), case.get("lazy"))
                  for case in [*ref["cases"].values(), *(lazy or {}).get("cases", {}).values()])
    for key in sorted(set(ref["cases"]) | set(cand["cases"])):
        if (ref_error or cand_error) and (key not in ref["cases"] or key not in cand["cases"]):
            continue  # the op-level row above says why
        inputs = key[:2]
        if ref.get("inputs", {}).get(inputs) != cand.get("inputs", {}).get(inputs):
            rows.append((key, DIFFER, "the runners drew different inputs: "
                                      "run_ops.py is not deterministic here"))
            continue
        tolerance = ref.get("tolerance", {})
        cand_case = cand["cases"].get(key)
        lazy_case = (lazy or {}).get("cases", {}).get(key)
        if lazy_case and lazy_case.get("ok") is False and cand_case and cand_case.get("ok") is False:
            rows.append((key, BOTH_FAIL, "the in-tree backend fails too: " + cand_case["error"]))
            continue
        verdict, detail = compare_case(ref["cases"].get(key), cand["cases"].get(key),
                                       tolerance, ref.get("not_comparable", False), erratic,
                                       independent)
        if verdict == DIFFER and not independent:
            verdict, detail = host_decomposition(ref, cand, key, tolerance, verdict, detail)
        if (verdict == DIFFER and lazy_case and lazy_case.get("ok") and cand_case
                and cand_case.get("ok") and lazy_case["lazy"] != "random" and not erratic
                and close(lazy_case["value"], cand_case["value"], tolerance)):
            verdict, detail = SAME, AS_IN_TREE + detail
        elif (verdict == DIFFER and lazy_case and lazy_case.get("ok") and cand_case
                and cand_case.get("ok") and (lazy_case["lazy"] == "random" or erratic)
                and same_shapes(lazy_case["value"], cand_case["value"])):
            verdict, detail = SAME, AS_IN_TREE + "random under both: shapes and dtypes equal"
        rows.append((key, verdict, detail))
    verdicts = {verdict for _, verdict, _ in rows}
    if not rows:
        return NOT_RUN, [("op", NOT_RUN, "supports none of the dtypes run, on the CPU")]
    if DIFFER in verdicts:
        return DIFFER, rows
    if REFUSED in verdicts:
        return REFUSED, rows
    if BOTH_FAIL in verdicts:
        return BOTH_FAIL, rows
    if FIXED in verdicts:
        return FIXED, rows
    return SAME, rows


def host_decomposition(ref, cand, key, tolerance, verdict, detail):
    """compare_op's verdict on a case that differs, where the candidate
    ran as eager thanks to one of the host's gap kernels (the docstring
    above)."""
    ref_case, cand_case = ref["cases"].get(key), cand["cases"].get(key)
    if not (ref_case and cand_case and cand_case.get("ok")):
        return verdict, detail
    eager_value = cand_case.get("eager_value")
    if eager_value is None or not close(eager_value, cand_case["value"], tolerance):
        return verdict, detail
    if ref_case.get("ok") is False:
        return FIXED, FIXED_DETAIL + ref_case["error"]
    decomposed = set(ref.get("fallbacks", ())) - set(cand.get("fallbacks", ()))
    if decomposed and ref_case.get("ok") and bitwise_equal(ref_case["value"], eager_value):
        return SAME, DECOMPOSED + ", ".join(sorted(decomposed)) + "; " + detail
    return verdict, detail


def load(path):
    records = {}
    for record in read_records(path):
        for case in record["cases"].values():
            for name in ("value", "eager_value"):
                if case.get(name) is not None:
                    case[name] = decode(case[name])
        records[record["op"]] = record
    return records


def eager_reference(records):
    """One run's records with eager's results in the place of the lazy
    ones: the reference for a backend with kernels of its own. Where the
    lazy run failed, run_ops.py kept only whether eager ran."""
    reference = {}
    for op, record in records.items():
        cases = {}
        for key, case in record["cases"].items():
            if case.get("ok") is None:
                cases[key] = dict(case)
            elif case.get("eager") is None:
                cases[key] = {"ok": False, "error": "fails eagerly", "eager": None, "lazy": None}
            else:
                cases[key] = {"ok": True, "value": case.get("eager_value"),
                              "eager": case["eager"], "lazy": case["eager"]}
        reference[op] = {**record, "cases": cases}
    return reference


class Comparison:
    def __init__(self, ref, cand, ref_name="intree", cand_name="ts_cpu", independent=False,
                 lazy=None):
        self.ref_name, self.cand_name = ref_name, cand_name
        self.independent = independent
        self.ops = {}
        self.ref, self.cand = ref, cand
        for op in sorted(set(ref) | set(cand)):
            if op not in ref or op not in cand:
                which = ref_name if op not in ref else cand_name
                self.ops[op] = (DIFFER, [("op", DIFFER, f"no record from {which}")])
            else:
                self.ops[op] = compare_op(ref[op], cand[op], independent,
                                          (lazy or {}).get(op))

    def ops_with(self, verdict):
        return [op for op, (v, _) in self.ops.items() if v == verdict]

    def ops_running(self):
        """The ops with a case the candidate ran and got right."""
        return [op for op, (_, rows) in self.ops.items()
                if any(verdict == SAME and key != "op" for key, verdict, _ in rows)]

    def case_counts(self):
        counts = Counter()
        for _, rows in self.ops.values():
            counts.update(verdict for _, verdict, _ in rows)
        return counts

    def coverage(self):
        """How many ops ran each kind of case (from the reference)."""
        ops_with = Counter()
        cases = Counter()
        for op, record in self.ref.items():
            tags = set()
            for key, case_tags in record.get("tags", {}).items():
                tags.update(case_tags)
                tags.add(key[2])
                tags.add(key[0])
                cases[key[2]] += 1
            ops_with.update(tags)
        return ops_with, cases

    def dtypes(self):
        """The dtypes that ran, in the order they first appear."""
        seen = {}
        for record in self.ref.values():
            for key in record.get("tags", {}):
                seen.setdefault(key[0], None)
        return list(seen)

    def table(self, header=""):
        counts = Counter(v for v, _ in self.ops.values())
        cases = self.case_counts()
        lines = []
        if header:
            lines.append(header)
        refused = (lambda n: f"{n:>9}") if self.independent else (lambda n: "")
        fixed = (lambda n: "") if self.independent else (lambda n: f"{n:>7}")
        lines.append(f"{'':<10}{'same':>8}" + fixed("fixed") + f"{'differ':>8}"
                     + refused("refused") + f"{'both fail':>11}{'not run':>9}{'total':>8}")
        lines.append(f"{'ops':<10}{counts[SAME]:>8}" + fixed(counts[FIXED])
                     + f"{counts[DIFFER]:>8}" + refused(counts[REFUSED])
                     + f"{counts[BOTH_FAIL]:>11}{counts[NOT_RUN]:>9}{len(self.ops):>8}")
        lines.append(f"{'cases':<10}{cases[SAME]:>8}" + fixed(cases[FIXED])
                     + f"{cases[DIFFER]:>8}" + refused(cases[REFUSED])
                     + f"{cases[BOTH_FAIL]:>11}{'':>9}{sum(cases.values()) - cases[NOT_RUN]:>8}")
        if not self.independent:
            lines.append("fixed: fails in-tree, runs as eager through the host's gap kernels "
                         "(moved from both fail)")
        if self.independent:
            lines.append(f"{self.cand_name} runs {len(self.ops_running())} ops "
                         "(some case right, within tolerance of eager)")
        ops_with, kinds = self.coverage()
        lines.append(
            "coverage: ops with fwd %d, bwd %d, 0-dim %d, zero-size %d, non-contiguous %d; "
            "dtypes: %s" % (
                ops_with["fwd"], ops_with["bwd"], ops_with["scalar"], ops_with["zero-size"],
                ops_with["non-contiguous"],
                ", ".join(f"{d} {ops_with[d]}" for d in self.dtypes())))
        differ = self.ops_with(DIFFER)
        if differ:
            lines.append(f"ops that differ ({len(differ)}): " + ", ".join(differ))
        moved = self.ops_with(FIXED)
        if moved:
            lines.append(f"ops fixed by the host ({len(moved)}): " + ", ".join(moved))
        both = self.ops_with(BOTH_FAIL)
        if both:
            lines.append(f"ops failing under both ({len(both)}): " + ", ".join(both))
        not_run = self.ops_with(NOT_RUN)
        if not_run:
            lines.append(f"ops not run ({len(not_run)}): " + ", ".join(not_run))
        as_eager = sorted({op for op, (_, rows) in self.ops.items()
                           if any(detail.startswith(AS_EAGER) for _, _, detail in rows)})
        if as_eager:
            lines.append(f"ops the same as eager, not as in-tree, in some case "
                         f"({len(as_eager)}): " + ", ".join(as_eager))
        as_in_tree = sorted({op for op, (_, rows) in self.ops.items()
                             if any(detail.startswith(AS_IN_TREE) for _, _, detail in rows)})
        if as_in_tree:
            lines.append(f"ops the same as in-tree, not as eager, in some case "
                         f"({len(as_in_tree)}): " + ", ".join(as_in_tree))
        return "\n".join(lines)

    def report(self, header=""):
        lines = [self.table(header), ""]
        for verdict in (DIFFER, REFUSED, BOTH_FAIL, FIXED, NOT_RUN, SAME):
            lines.append(f"== {verdict} ==")
            for op in self.ops_with(verdict):
                _, rows = self.ops[op]
                record = self.ref.get(op) or self.cand.get(op)
                fallbacks = sorted(record.get("fallbacks", ())) if record else []
                seconds = [r.get("seconds") for r in (self.ref.get(op), self.cand.get(op)) if r]
                timing = " ".join(f"{s:.1f}s" if s is not None else "-" for s in seconds)
                lines.append(f"{op}  [{timing}]" + (
                    "  eager fallback: " + " ".join(fallbacks) if fallbacks else ""))
                for key, case_verdict, detail in rows:
                    if verdict == SAME and case_verdict == SAME and not detail:
                        continue
                    name = key if isinstance(key, str) else "/".join(key)
                    lines.append(f"    {name:<24} {case_verdict:<10} {detail}")
            lines.append("")
        return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("candidate")
    parser.add_argument("--report", help="write the full per-case report here")
    args = parser.parse_args(argv)
    comparison = Comparison(load(args.reference), load(args.candidate))
    print(comparison.table())
    if args.report:
        with open(args.report, "w") as stream:
            stream.write(comparison.report())
    return 1 if comparison.ops_with(DIFFER) else 0


if __name__ == "__main__":
    # Records hold compare.EncodedTensor: use that module, not __main__.
    import compare
    sys.exit(compare.main())
