using System.Numerics;

namespace Tora.Inference.Sampling;

/// <summary>
/// Classifier-free guidance as the original pipelines apply it (docs/model.md §5.3): the transformer runs on
/// the batch <c>[uncond, cond]</c>, and the guided prediction is <c>uncond + s·(cond − uncond)</c> in float32
/// (three separately rounded operations, <c>s</c> rounded to float32 once), with the dynamic scale computed from
/// the timestep value.
/// </summary>
/// <param name="GuidanceScale">The scale <c>s</c> (6 by default); at or below 1 guidance is off (no uncond pass).</param>
/// <param name="UseDynamicCfg">Whether the scale follows the original dynamic schedule.</param>
public sealed record ClassifierFreeGuidance(double GuidanceScale = 6.0, bool UseDynamicCfg = true)
{
    /// <summary>Whether the uncond pass runs (diffusers: <c>guidance_scale &gt; 1</c>).</summary>
    public bool Enabled => GuidanceScale > 1.0;

    /// <summary>
    /// The scale at timestep value <paramref name="timestep"/>: constant, or with dynamic CFG
    /// <c>1 + s·(1 − cos(π·((n − t)/n)⁵))/2</c> where <c>t</c> is the timestep value (999 … 19), not the step
    /// index, exactly as both original pipelines compute it; the result jumps between 1 and 1 + s.
    /// </summary>
    public double ScaleAt(int timestep, int numInferenceSteps)
    {
        if (!UseDynamicCfg) return GuidanceScale;
        var n = (double)numInferenceSteps;
        return 1 + GuidanceScale * ((1 - Math.Cos(Math.PI * Math.Pow((n - timestep) / n, 5.0))) / 2);
    }

    /// <summary><c>destination = uncond + scale·(cond − uncond)</c>; <paramref name="destination"/> may be
    /// <paramref name="uncond"/> itself.</summary>
    public static void Combine(ReadOnlySpan<float> uncond, ReadOnlySpan<float> cond, double scale, Span<float> destination)
    {
        if (uncond.Length != cond.Length || destination.Length != uncond.Length)
            throw new ArgumentException($"uncond {uncond.Length}, cond {cond.Length} and destination {destination.Length} values differ");
        ElementwiseLoop.Run(new BinaryKernel<Blend>(new Blend(scale), uncond, cond, destination), destination.Length);
    }

    /// <summary>
    /// Guides the batched prediction <c>[uncond, cond]</c> (batch first, two equal halves) in place and returns
    /// the first half, which then holds the guided prediction.
    /// </summary>
    public static Span<float> CombineBatched(Span<float> batchedPrediction, double scale)
    {
        if (batchedPrediction.Length % 2 != 0)
            throw new ArgumentException($"a [uncond, cond] batch has an even length, not {batchedPrediction.Length}");
        var half = batchedPrediction.Length / 2;
        var uncond = batchedPrediction[..half];
        Combine(uncond, batchedPrediction[half..], scale, uncond);
        return uncond;
    }

    /// <summary>The guided prediction <c>u + s·(c − u)</c> with <c>s</c> rounded to float32 once.</summary>
    internal readonly struct Blend(double scale) : IBinaryOperator
    {
        private readonly Coefficient _s = new(scale);

        /// <summary><c>uncond + s·(cond − uncond)</c>.</summary>
        public float Invoke(float uncond, float cond) => uncond + _s.Scalar * (cond - uncond);

        /// <inheritdoc cref="Invoke(float, float)"/>
        public Vector<float> Invoke(Vector<float> uncond, Vector<float> cond) => uncond + _s.Vector * (cond - uncond);
    }
}
