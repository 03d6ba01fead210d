namespace Tora.Models.Graph;

/// <summary>Op helpers: thin wrappers over ONNX opset 17 and the com.microsoft contrib ops.</summary>
public sealed partial class GraphBuilder
{
    /// <summary>Element-wise a + b (broadcasting).</summary>
    public Value Add(Value a, Value b) => Node("Add", a, b);

    /// <summary>Element-wise a − b.</summary>
    public Value Sub(Value a, Value b) => Node("Sub", a, b);

    /// <summary>Element-wise a · b.</summary>
    public Value Mul(Value a, Value b) => Node("Mul", a, b);

    /// <summary>Element-wise a / b.</summary>
    public Value Div(Value a, Value b) => Node("Div", a, b);

    /// <summary>Matrix product with NumPy broadcasting.</summary>
    public Value MatMul(Value a, Value b) => Node("MatMul", a, b);

    /// <summary>−x.</summary>
    public Value Neg(Value x) => Node("Neg", x);

    /// <summary>√x.</summary>
    public Value Sqrt(Value x) => Node("Sqrt", x);

    /// <summary>sin x.</summary>
    public Value Sin(Value x) => Node("Sin", x);

    /// <summary>cos x.</summary>
    public Value Cos(Value x) => Node("Cos", x);

    /// <summary>max(x, 0).</summary>
    public Value Relu(Value x) => Node("Relu", x);

    /// <summary>x · sigmoid(x).</summary>
    public Value Silu(Value x) => Mul(x, Node("Sigmoid", x));

    /// <summary>GELU, tanh approximation (torch <c>approximate="tanh"</c>, T5 <c>gelu_new</c>), as the fused contrib op.</summary>
    public Value GeluTanh(Value x) => Node("FastGelu", [x], 1, "com.microsoft")[0];

    /// <summary>Casts to <paramref name="type"/>.</summary>
    public Value Cast(Value x, ElementType type) => Node("Cast", [x], Attr.Int("to", (long)type));

    /// <summary>Reshape (0 copies the input dimension, −1 is inferred).</summary>
    public Value Reshape(Value x, params long[] shape) => Node("Reshape", x, Int64s(shape));

    /// <summary>Transpose with the given permutation.</summary>
    public Value Transpose(Value x, params long[] perm) => Node("Transpose", [x], Attr.Ints("perm", perm));

    /// <summary>Concatenation along <paramref name="axis"/>.</summary>
    public Value Concat(long axis, params Value[] parts) => Node("Concat", parts, Attr.Int("axis", axis));

    /// <summary>x[start:end] along <paramref name="axis"/>.</summary>
    public Value Slice(Value x, long axis, long start, long end) => Node("Slice", x, Int64s(start), Int64s(end), Int64s(axis));

    /// <summary>Splits along <paramref name="axis"/> into the given sizes.</summary>
    public Value[] Split(Value x, long axis, params long[] sizes) =>
        Node("Split", [x, Int64s(sizes)], sizes.Length, "", Attr.Int("axis", axis));

    /// <summary>Inserts size-1 axes.</summary>
    public Value Unsqueeze(Value x, params long[] axes) => Node("Unsqueeze", x, Int64s(axes));

    /// <summary>Mean over <paramref name="axes"/>, keeping them.</summary>
    public Value ReduceMean(Value x, params long[] axes) => Node("ReduceMean", [x], Attr.Ints("axes", axes), Attr.Int("keepdims", 1));

    /// <summary>Rows of <paramref name="table"/> at <paramref name="indices"/>.</summary>
    public Value Gather(Value table, Value indices) => Node("Gather", [table, indices], Attr.Int("axis", 0));

    /// <summary>Edge (replicate) padding: <paramref name="pads"/> as ONNX begins then ends.</summary>
    public Value PadEdge(Value x, params long[] pads) => Node("Pad", [x, Int64s(pads)], Attr.String("mode", "edge"));

    /// <summary>LayerNormalization over the last axis (opset 17), statistics in float32.</summary>
    public Value LayerNorm(Value x, Value scale, Value? bias, float epsilon) =>
        Node("LayerNormalization", [x, scale, bias], Attr.Int("axis", -1), Attr.Float("epsilon", epsilon), Attr.Int("stash_type", 1));

    /// <summary>Convolution (NCHW / NCW) with symmetric padding.</summary>
    public Value Conv(Value x, Value weight, Value? bias, long[] kernel, long[] pads, long[]? strides = null) =>
        Node("Conv", [x, weight, bias], Attr.Ints("kernel_shape", kernel), Attr.Ints("pads", pads),
            Attr.Ints("strides", strides ?? kernel.Select(_ => 1L).ToArray()));

    /// <summary>Inference-mode BatchNormalization with running statistics.</summary>
    public Value BatchNorm(Value x, Value scale, Value bias, Value mean, Value variance, float epsilon) =>
        Node("BatchNormalization", [x, scale, bias, mean, variance], Attr.Float("epsilon", epsilon));

    /// <summary>
    /// Fused multi-head attention (<c>com.microsoft.MultiHeadAttention</c>): q, k, v as [B, S, heads·dim];
    /// softmax(q·kᵀ·scale + bias)·v without materialising the score matrix where the provider has a fused
    /// kernel. <paramref name="attentionBias"/> is [1 or B, heads, S, S] (T5's relative position bias).
    /// </summary>
    public Value MultiHeadAttention(Value q, Value k, Value v, int heads, float scale, Value? attentionBias = null)
    {
        Value?[] inputs = attentionBias is null ? [q, k, v] : [q, k, v, null, null, attentionBias];
        return Node("MultiHeadAttention", inputs, 1, "com.microsoft", Attr.Int("num_heads", heads), Attr.Float("scale", scale))[0];
    }
}
