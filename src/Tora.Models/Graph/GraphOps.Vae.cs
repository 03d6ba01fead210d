namespace Tora.Models.Graph;

/// <summary>Op helpers the 3D VAE needs: group norm, nearest upsampling, slices with host-computed bounds.</summary>
public sealed partial class GraphBuilder
{
    /// <summary>
    /// <c>nn.GroupNorm</c> on an [N, C, …] tensor: statistics per (sample, group) over the group's channels and
    /// every position, then the per-channel affine. Expressed as InstanceNormalization over [N, groups, −1]
    /// (ORT's contrib GroupNorm is NHWC 4-D only; docs/model.md §6.2) followed by Mul/Add with
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
    /// <c>nn.GroupNorm</c> as torch's CPU kernel evaluates it on a [1, C, …] tensor: per-group mean and variance
    /// accurate to the input (computed here in float64; torch uses a Welford cascade in float32, InstanceNormalization
    /// sums over the whole group in float32, which at 4 × 9 × 64 × 96 values per group drifts by ~1e-5 relative),
    /// then <c>y = x·scale + bias</c> in the compute type with <c>scale = rstd·γ</c>, <c>bias = β − scale·mean</c>
    /// per channel, as the kernel applies it.
    /// </summary>
    public Value GroupNormAccurate(Value x, int channels, int groups, Value gamma, Value beta, float epsilon)
    {
        const long Float64 = 11;
        var grouped = Node("Cast", [Reshape(x, 0, groups, -1)], Attr.Int("to", Float64));
        var mean = Node("ReduceMean", [grouped], Attr.Ints("axes", [2]), Attr.Int("keepdims", 1));
        var centered = Sub(grouped, mean);
        var variance = Node("ReduceMean", [Mul(centered, centered)], Attr.Ints("axes", [2]), Attr.Int("keepdims", 1));
        var eps = Node("Cast", [ConstantFloat32([epsilon], 1)], Attr.Int("to", Float64));
        var rstd = Node("Reciprocal", Sqrt(Add(variance, eps)));
        Value PerChannel(Value v) =>
            Reshape(Node("Expand", Cast(v, ComputeType), Int64s(1, groups, channels / groups)), 1, channels, 1, 1, 1);
        var scale = Mul(PerChannel(rstd), gamma);
        var bias = Sub(beta, Mul(scale, PerChannel(mean)));
        return Add(Mul(x, scale), bias);
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

    /// <summary>x[start:end] along <paramref name="axis"/> with computed (int64 [1]) bounds.</summary>
    public Value Slice(Value x, long axis, Value start, Value end) => Node("Slice", x, start, end, Int64s(axis));

    /// <summary>Mean over <paramref name="axes"/>, dropping them.</summary>
    public Value ReduceMeanDrop(Value x, params long[] axes) => Node("ReduceMean", [x], Attr.Ints("axes", axes), Attr.Int("keepdims", 0));
}
