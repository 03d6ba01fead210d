using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace Tora.Inference.Pipeline;

/// <summary>
/// Proves the CUDA device computes before any model session is created: a 3 × 3 Conv of ones over ones (9)
/// run on the CUDA provider with the CPU fallback disabled. ONNX Runtime loads cuDNN only when a kernel first
/// needs it, so appending the provider succeeds on a machine without cuDNN and the first job would fail;
/// this run loads it (docs/gpu.md).
/// </summary>
internal static class CudaProbe
{
    private const float Expected = 9f;

    /// <summary>
    /// Runs the probe with <paramref name="options"/> (on CUDA: the provider appended and the CPU fallback
    /// disabled, so the Conv cannot quietly run on the CPU); null when it computed 9, else why not.
    /// </summary>
    public static string? Run(SessionOptions options)
    {
        using var session = new InferenceSession(ConvModel(), options);
        var ones = Enumerable.Repeat(1f, 9).ToArray();
        using var x = OrtValue.CreateTensorValueFromMemory(ones, [1, 1, 3, 3]);
        using var w = OrtValue.CreateTensorValueFromMemory((float[])ones.Clone(), [1, 1, 3, 3]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, ["x", "w"], [x, w], ["y"]);
        var y = results[0].GetTensorDataAsSpan<float>();
        return y.Length == 1 && y[0] == Expected ? null : $"a 3x3 Conv on the device gave {(y.Length == 1 ? y[0] : float.NaN)} instead of {Expected}";
    }

    /// <summary>The probe graph (opset 17): y = Conv(x, w), x and w float [1, 1, 3, 3] inputs, y [1, 1, 1, 1].</summary>
    internal static byte[] ConvModel()
    {
        // ONNX protobuf field numbers (onnx.proto): ModelProto ir_version 1, graph 7, opset_import 8;
        // GraphProto node 1, name 2, input 11, output 12; NodeProto input 1, output 2, name 3, op_type 4.
        var node = Message(w =>
        {
            String(w, 1, "x");
            String(w, 1, "w");
            String(w, 2, "y");
            String(w, 3, "cuda_probe_conv");
            String(w, 4, "Conv");
        });
        var graph = Message(w =>
        {
            Bytes(w, 1, node);
            String(w, 2, "cuda_probe");
            Bytes(w, 11, FloatTensorInfo("x", 1, 1, 3, 3));
            Bytes(w, 11, FloatTensorInfo("w", 1, 1, 3, 3));
            Bytes(w, 12, FloatTensorInfo("y", 1, 1, 1, 1));
        });
        var opset = Message(w =>
        {
            String(w, 1, "");
            Int(w, 2, 17);
        });
        return Message(w =>
        {
            Int(w, 1, 8);
            Bytes(w, 7, graph);
            Bytes(w, 8, opset);
        });
    }

    /// <summary>ValueInfoProto (name 1, type 2) of a float tensor: TypeProto.tensor_type 1 → elem_type 1 (FLOAT), shape 2 → dim 1 → dim_value 1.</summary>
    private static byte[] FloatTensorInfo(string name, params long[] dims)
    {
        var shape = Message(w =>
        {
            foreach (var d in dims) Bytes(w, 1, Message(dim => Int(dim, 1, d)));
        });
        var tensor = Message(w =>
        {
            Int(w, 1, 1);
            Bytes(w, 2, shape);
        });
        return Message(w =>
        {
            String(w, 1, name);
            Bytes(w, 2, Message(type => Bytes(type, 1, tensor)));
        });
    }

    private static byte[] Message(Action<CodedOutputStream> write)
    {
        using var buffer = new MemoryStream();
        using (var w = new CodedOutputStream(buffer, leaveOpen: true)) write(w);
        return buffer.ToArray();
    }

    private static void String(CodedOutputStream w, int field, string value) => Bytes(w, field, System.Text.Encoding.UTF8.GetBytes(value));

    private static void Bytes(CodedOutputStream w, int field, byte[] value)
    {
        w.WriteTag(field, WireFormat.WireType.LengthDelimited);
        w.WriteBytes(ByteString.CopyFrom(value));
    }

    private static void Int(CodedOutputStream w, int field, long value)
    {
        w.WriteTag(field, WireFormat.WireType.Varint);
        w.WriteInt64(value);
    }
}
