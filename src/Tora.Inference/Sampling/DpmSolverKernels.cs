using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tora.Inference.Sampling;

/// <summary>
/// The element-wise float32 arithmetic of one DPM step, in the order torch evaluates diffusers' expressions:
/// each float64 coefficient is rounded to float32 once (torch casts a CPU scalar to the tensor's dtype), then
/// every multiply, subtract and add rounds to float32 separately (no fused multiply-add). Vectorised with
/// <see cref="Vector{T}"/>; no allocation.
/// </summary>
public static class DpmSolverKernels
{
    /// <summary>
    /// <c>x0</c> from the model output: v-prediction <c>√ᾱ·x − √(1−ᾱ)·v</c>, epsilon <c>(x − √(1−ᾱ)·ε) / √ᾱ</c>,
    /// sample <c>= output</c>.
    /// </summary>
    public static void PredictOriginalSample(string predictionType, double alphaProdT, ReadOnlySpan<float> sample,
        ReadOnlySpan<float> modelOutput, Span<float> destination)
    {
        CheckLengths(sample.Length, modelOutput.Length, destination.Length);
        var sqrtAlpha = (float)Math.Sqrt(alphaProdT);
        var sqrtBeta = (float)Math.Sqrt(1 - alphaProdT);
        switch (predictionType)
        {
            case "v_prediction":
                Linear2(sqrtAlpha, sample, sqrtBeta, modelOutput, destination);
                break;
            case "epsilon":
                for (var i = 0; i < destination.Length; i++) destination[i] = (sample[i] - sqrtBeta * modelOutput[i]) / sqrtAlpha;
                break;
            case "sample":
                modelOutput.CopyTo(destination);
                break;
            default:
                throw new ArgumentException($"prediction type '{predictionType}' is not supported", nameof(predictionType));
        }
    }

    /// <summary>First-order update in place: <c>x ← (m1·x − m2·x0) + mn·noise</c>.</summary>
    public static void FirstOrderUpdate(in DpmStepCoefficients c, Span<float> sample, ReadOnlySpan<float> predOriginal,
        ReadOnlySpan<float> noise)
    {
        CheckLengths(sample.Length, predOriginal.Length, noise.Length);
        Update((float)c.Mult1, (float)c.Mult2, (float)c.MultNoise, sample, predOriginal, noise);
    }

    /// <summary>Second-order update in place: <c>D = m3·x0 − m4·x0_old</c>, <c>x ← (m1·x − m2·D) + mn·noise</c>.</summary>
    public static void SecondOrderUpdate(in DpmStepCoefficients c, Span<float> sample, ReadOnlySpan<float> predOriginal,
        ReadOnlySpan<float> oldPredOriginal, ReadOnlySpan<float> noise)
    {
        CheckLengths(sample.Length, predOriginal.Length, noise.Length);
        CheckLengths(sample.Length, oldPredOriginal.Length, noise.Length);
        if (c.Mult3 is not { } m3d || c.Mult4 is not { } m4d)
            throw new ArgumentException($"step {c.Index} has no second-order coefficients", nameof(c));
        float m1 = (float)c.Mult1, m2 = (float)c.Mult2, m3 = (float)m3d, m4 = (float)m4d, mn = (float)c.MultNoise;
        var n = sample.Length;
        ref var s = ref MemoryMarshal.GetReference(sample);
        ref var x = ref MemoryMarshal.GetReference(predOriginal);
        ref var o = ref MemoryMarshal.GetReference(oldPredOriginal);
        ref var e = ref MemoryMarshal.GetReference(noise);
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var w = Vector<float>.Count;
            Vector<float> v1 = new(m1), v2 = new(m2), v3 = new(m3), v4 = new(m4), vn = new(mn);
            for (; i <= n - w; i += w)
            {
                var d = v3 * Vector.LoadUnsafe(ref x, (nuint)i) - v4 * Vector.LoadUnsafe(ref o, (nuint)i);
                var r = v1 * Vector.LoadUnsafe(ref s, (nuint)i) - v2 * d + vn * Vector.LoadUnsafe(ref e, (nuint)i);
                r.StoreUnsafe(ref s, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            var d = m3 * Unsafe.Add(ref x, i) - m4 * Unsafe.Add(ref o, i);
            Unsafe.Add(ref s, i) = m1 * Unsafe.Add(ref s, i) - m2 * d + mn * Unsafe.Add(ref e, i);
        }
    }

    /// <summary>
    /// Guidance and a v-prediction step in one pass over memory, bit-identical to
    /// <see cref="ClassifierFreeGuidance.Combine"/> followed by <see cref="PredictOriginalSample"/> and
    /// <see cref="FirstOrderUpdate"/> / <see cref="SecondOrderUpdate"/> (the same float32 operations per element,
    /// without writing and re-reading the guided prediction). <paramref name="oldPredOriginal"/> is read only when
    /// the step is second order; <paramref name="predOriginal"/> receives <c>x0</c>.
    /// </summary>
    public static void GuidedVelocityStep(in DpmStepCoefficients c, ReadOnlySpan<float> uncond, ReadOnlySpan<float> cond,
        double guidanceScale, Span<float> sample, Span<float> predOriginal, ReadOnlySpan<float> oldPredOriginal,
        ReadOnlySpan<float> noise)
    {
        CheckLengths(sample.Length, uncond.Length, cond.Length);
        CheckLengths(sample.Length, predOriginal.Length, noise.Length);
        var second = c.SecondOrder;
        if (second) CheckLengths(sample.Length, oldPredOriginal.Length, noise.Length);
        float g = (float)guidanceScale, a = (float)Math.Sqrt(c.AlphaProdT), b = (float)Math.Sqrt(1 - c.AlphaProdT);
        float m1 = (float)c.Mult1, m2 = (float)c.Mult2, mn = (float)c.MultNoise;
        float m3 = second ? (float)c.Mult3!.Value : 0f, m4 = second ? (float)c.Mult4!.Value : 0f;
        var n = sample.Length;
        ref var u = ref MemoryMarshal.GetReference(uncond);
        ref var t = ref MemoryMarshal.GetReference(cond);
        ref var s = ref MemoryMarshal.GetReference(sample);
        ref var x = ref MemoryMarshal.GetReference(predOriginal);
        ref var o = ref MemoryMarshal.GetReference(oldPredOriginal);
        ref var e = ref MemoryMarshal.GetReference(noise);
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var w = Vector<float>.Count;
            Vector<float> vg = new(g), va = new(a), vb = new(b), v1 = new(m1), v2 = new(m2), v3 = new(m3), v4 = new(m4), vn = new(mn);
            for (; i <= n - w; i += w)
            {
                var vu = Vector.LoadUnsafe(ref u, (nuint)i);
                var v = vu + vg * (Vector.LoadUnsafe(ref t, (nuint)i) - vu);
                var vs = Vector.LoadUnsafe(ref s, (nuint)i);
                var x0 = va * vs - vb * v;
                x0.StoreUnsafe(ref x, (nuint)i);
                var d = second ? v3 * x0 - v4 * Vector.LoadUnsafe(ref o, (nuint)i) : x0;
                (v1 * vs - v2 * d + vn * Vector.LoadUnsafe(ref e, (nuint)i)).StoreUnsafe(ref s, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            var vu = Unsafe.Add(ref u, i);
            var v = vu + g * (Unsafe.Add(ref t, i) - vu);
            var vs = Unsafe.Add(ref s, i);
            var x0 = a * vs - b * v;
            Unsafe.Add(ref x, i) = x0;
            var d = second ? m3 * x0 - m4 * Unsafe.Add(ref o, i) : x0;
            Unsafe.Add(ref s, i) = m1 * vs - m2 * d + mn * Unsafe.Add(ref e, i);
        }
    }

    private static void Update(float m1, float m2, float mn, Span<float> sample, ReadOnlySpan<float> x0, ReadOnlySpan<float> noise)
    {
        var n = sample.Length;
        ref var s = ref MemoryMarshal.GetReference(sample);
        ref var x = ref MemoryMarshal.GetReference(x0);
        ref var e = ref MemoryMarshal.GetReference(noise);
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var w = Vector<float>.Count;
            Vector<float> v1 = new(m1), v2 = new(m2), vn = new(mn);
            for (; i <= n - w; i += w)
            {
                var r = v1 * Vector.LoadUnsafe(ref s, (nuint)i) - v2 * Vector.LoadUnsafe(ref x, (nuint)i)
                    + vn * Vector.LoadUnsafe(ref e, (nuint)i);
                r.StoreUnsafe(ref s, (nuint)i);
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref s, i) = m1 * Unsafe.Add(ref s, i) - m2 * Unsafe.Add(ref x, i) + mn * Unsafe.Add(ref e, i);
    }

    /// <summary><c>dst = a·x − b·y</c>.</summary>
    private static void Linear2(float a, ReadOnlySpan<float> xs, float b, ReadOnlySpan<float> ys, Span<float> dst)
    {
        var n = dst.Length;
        ref var x = ref MemoryMarshal.GetReference(xs);
        ref var y = ref MemoryMarshal.GetReference(ys);
        ref var d = ref MemoryMarshal.GetReference(dst);
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var w = Vector<float>.Count;
            Vector<float> va = new(a), vb = new(b);
            for (; i <= n - w; i += w)
                (va * Vector.LoadUnsafe(ref x, (nuint)i) - vb * Vector.LoadUnsafe(ref y, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref d, i) = a * Unsafe.Add(ref x, i) - b * Unsafe.Add(ref y, i);
    }

    private static void CheckLengths(int a, int b, int c)
    {
        if (a != b || a != c) throw new ArgumentException($"tensor lengths differ: {a}, {b}, {c}");
    }
}
