using Tora.Models.Checkpoints;
using Tora.Models.Graph;

namespace Tora.Models.Architectures;

/// <summary>Module-level building blocks shared by the architectures (torch module → ONNX nodes).</summary>
internal static class Layers
{
    /// <summary><c>nn.Linear</c>: x·Wᵀ (+ b), the weight stored transposed for MatMul.</summary>
    public static Value Linear(this GraphBuilder g, Checkpoint ckpt, string prefix, Value x, long inFeatures, long outFeatures, bool bias = true)
    {
        using var _ = g.Scope(prefix);
        var w = g.Weight(prefix + ".weight", new TransposedWeight(ckpt.Tensor(prefix + ".weight", outFeatures, inFeatures)));
        var y = g.MatMul(x, w);
        return bias ? g.Add(y, g.Weight(prefix + ".bias", ckpt.Tensor(prefix + ".bias", outFeatures))) : y;
    }

    /// <summary><c>nn.LayerNorm</c> over the last axis with affine weight and bias.</summary>
    public static Value LayerNorm(this GraphBuilder g, Checkpoint ckpt, string prefix, Value x, long dim, float eps)
    {
        using var _ = g.Scope(prefix);
        return g.LayerNorm(x, g.Weight(prefix + ".weight", ckpt.Tensor(prefix + ".weight", dim)),
            g.Weight(prefix + ".bias", ckpt.Tensor(prefix + ".bias", dim)), eps);
    }

    /// <summary>
    /// <c>nn.Conv2d</c> with a square kernel, stride 1 unless given, symmetric zero padding. In a bfloat16
    /// graph it is a float32 island: ONNX Runtime's convolution kernels are float32/float16 only.
    /// </summary>
    public static Value Conv2d(this GraphBuilder g, Checkpoint ckpt, string prefix, Value x, long inChannels, long outChannels, long kernel, long padding, long stride = 1)
    {
        using var _ = g.Scope(prefix);
        bool island = g.ComputeType == ElementType.BFloat16;
        var type = island ? ElementType.Float32 : g.ComputeType;
        var w = g.Weight(prefix + ".weight", ckpt.Tensor(prefix + ".weight", outChannels, inChannels, kernel, kernel), type);
        var b = g.Weight(prefix + ".bias", ckpt.Tensor(prefix + ".bias", outChannels), type);
        var y = g.Conv(island ? g.Cast(x, ElementType.Float32) : x, w, b, [kernel, kernel], [padding, padding, padding, padding], [stride, stride]);
        return island ? g.Cast(y, ElementType.BFloat16) : y;
    }
}
