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
    /// accurate to the input (torch uses a Welford cascade in float32; InstanceNormalization sums over the whole
    /// group in float32, which at 4 × 9 × 64 × 96 values per group drifts by ~1e-5 relative), then
    /// <c>y = x·scale + bias</c> in the compute type with <c>scale = rstd·γ</c>, <c>bias = β − scale·mean</c> per
    /// channel, as the kernel applies it. The statistics are two-level: means over the last axis (one row of at most
    /// a frame's width, exact to ~1e-7 in float32), then the rows of a group averaged in float64 (every row has the
    /// same length, so the mean of row means is the group mean); the variance is taken the same way over the
    /// centred values. No float64 copy of the activation is made: at 480 × 720 one was 6.4 GB per copy
    /// (bench/README.md, real geometry on the CPU provider).
    /// </summary>
    public Value GroupNormAccurate(Value x, int channels, int groups, Value gamma, Value beta, float epsilon)
    {
        const long Float64 = 11;
        Value GroupMean(Value v)
        {
            var rows = Node("ReduceMean", [v], Attr.Ints("axes", [-1]), Attr.Int("keepdims", 1));
            var grouped = Reshape(Node("Cast", [rows], Attr.Int("to", Float64)), 0, groups, -1);
            return Node("ReduceMean", [grouped], Attr.Ints("axes", [2]), Attr.Int("keepdims", 1));
        }
        Value PerChannel(Value v) =>
            Reshape(Node("Expand", Cast(v, ComputeType), Int64s(1, groups, channels / groups)), 1, channels, 1, 1, 1);
        var mean = GroupMean(x);
        var centered = Sub(x, PerChannel(mean));
        var variance = GroupMean(Mul(centered, centered));
        var eps = Node("Cast", [ConstantFloat32([epsilon], 1)], Attr.Int("to", Float64));
        var rstd = Node("Reciprocal", Sqrt(Add(variance, eps)));
        var scale = Mul(PerChannel(rstd), gamma);
        var bias = Sub(beta, Mul(scale, PerChannel(mean)));
        return Add(Mul(x, scale), bias);
    }

    /// <summary>
    /// Every frame of [1, C, T, h, w] repeated <paramref name="factor"/> times → [1, C, T·r, h, w] (torch's
    /// <c>F.interpolate(mode="nearest")</c> in time): a Resize with constant scales (asymmetric coordinates,
    /// floor), exact copies for any h and w, so one VAE graph serves whole frames and tiles (docs/vae-tiling.md).
    /// </summary>
    public Value RepeatFrames(Value x, int factor) => factor == 1 ? x
        : Node("Resize", [x, null, ConstantFloat32([1f, 1f, factor, 1f, 1f], 5)],
            Attr.String("mode", "nearest"), Attr.String("coordinate_transformation_mode", "asymmetric"), Attr.String("nearest_mode", "floor"));

    /// <summary>
    /// Every pixel of [1, C, T, h, w] repeated <paramref name="factor"/> × <paramref name="factor"/> times →
    /// [1, C, T, h·s, w·s] (nearest upsampling in space) for any h and w: [C, T, h, w] with s² copies concatenated
    /// on T, then DepthToSpace (DCR) puts copy (i, j) at offset (i, j) of each s × s block. Copies only, exact;
    /// a 5-D nearest Resize, the other shape-free form, was measured slower on the CPU provider (bench/README.md).
    /// </summary>
    public Value RepeatPixels(Value x, int factor)
    {
        if (factor == 1) return x;
        var frames = Node("Squeeze", x, Int64s(0));
        var copies = Concat(1, Enumerable.Repeat(frames, factor * factor).ToArray());
        var blocks = Node("DepthToSpace", [copies], Attr.Int("blocksize", factor), Attr.String("mode", "DCR"));
        return Unsqueeze(blocks, 0);
    }

    /// <summary>
    /// The mean of each pair of consecutive frames of [1, C, 2T, h, w] → [1, C, T, h, w] (an AveragePool of
    /// kernel and stride 2 in time: (a + b) / 2 in the input type), independent of the spatial size.
    /// </summary>
    public Value AverageFramePairs(Value x) =>
        Node("AveragePool", [x], Attr.Ints("kernel_shape", 2, 1, 1), Attr.Ints("strides", 2, 1, 1));

    /// <summary>The shape of <paramref name="x"/> as int64 [rank].</summary>
    public Value Shape(Value x) => Node("Shape", x);

    /// <summary>x[start:end] along <paramref name="axis"/> with computed (int64 [1]) bounds.</summary>
    public Value Slice(Value x, long axis, Value start, Value end) => Node("Slice", x, start, end, Int64s(axis));

}
