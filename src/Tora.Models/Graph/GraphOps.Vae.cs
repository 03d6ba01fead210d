namespace Tora.Models.Graph;

/// <summary>Op helpers the 3D VAE needs: group norm, nearest upsampling, shape arithmetic.</summary>
public sealed partial class GraphBuilder
{
    /// <summary>
    /// <c>nn.GroupNorm</c> on an [N, C, …] tensor: statistics per (sample, group) over the group's channels and
    /// every position, then the per-channel affine. Expressed as InstanceNormalization over [N, groups, −1]
    /// (ORT's contrib GroupNorm is NHWC 4-D only; onnx-and-performance.md §1.2) followed by Mul/Add with
    /// <paramref name="gamma"/> and <paramref name="beta"/> shaped [C, 1, …] to broadcast.
    /// </summary>
    public Value GroupNorm(Value x, int groups, Value gamma, Value beta, float epsilon)
    {
        var shape = Shape(x);
        var grouped = Reshape(x, 0, groups, -1);
        var ones = Constant(Enumerable.Repeat(1f, groups).ToArray(), groups);
        var zeros = Constant(new float[groups], groups);
        var normed = Node("InstanceNormalization", [grouped, ones, zeros], Attr.Float("epsilon", epsilon));
        return Add(Mul(Node("Reshape", normed, shape), gamma), beta);
    }

    /// <summary>
    /// Nearest-neighbour upsampling of [1, C, T, h, w] by integer factors: every frame repeated
    /// <paramref name="timeFactor"/> times and every pixel <paramref name="spaceFactor"/> × <paramref name="spaceFactor"/>
    /// times → [1, C, T·r, h·s, w·s]: torch's <c>F.interpolate(mode="nearest")</c> with integer factors, as
    /// Reshape/Expand copies (about 3× faster than a 5-D nearest Resize on the CPU provider), every tensor of rank ≤ 6.
    /// </summary>
    public Value RepeatNearest(Value x, int channels, int height, int width, int timeFactor, int spaceFactor)
    {
        if (timeFactor > 1)
        {
            var t = Node("Expand", Reshape(x, 0, 0, 0, 1, (long)height * width), Int64s(1, 1, 1, timeFactor, 1));
            x = Reshape(t, 0, 0, -1, height, width);
        }
        if (spaceFactor > 1)
        {
            var t = Node("Expand", Reshape(x, 0, -1, height, 1, width, 1), Int64s(1, 1, 1, spaceFactor, 1, spaceFactor));
            x = Reshape(t, 0, channels, -1, (long)height * spaceFactor, (long)width * spaceFactor);
        }
        return x;
    }

    /// <summary>The shape of <paramref name="x"/> as int64 [rank].</summary>
    public Value Shape(Value x) => Node("Shape", x);

    /// <summary>Dimension <paramref name="axis"/> of <paramref name="x"/> as int64 [1].</summary>
    public Value Dimension(Value x, long axis) => Node("Slice", Shape(x), Int64s(axis), Int64s(axis + 1), Int64s(0));

    /// <summary>x[start:end] along <paramref name="axis"/> with computed (int64 [1]) bounds.</summary>
    public Value Slice(Value x, long axis, Value start, Value end) => Node("Slice", x, start, end, Int64s(axis));

    /// <summary>Integer remainder (int64).</summary>
    public Value Mod(Value a, Value b) => Node("Mod", a, b);

    /// <summary>Mean over <paramref name="axes"/>, dropping them.</summary>
    public Value ReduceMeanDrop(Value x, params long[] axes) => Node("ReduceMean", [x], Attr.Ints("axes", axes), Attr.Int("keepdims", 0));
}
