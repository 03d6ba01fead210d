using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tora.Inference.Sampling;

/// <summary>
/// The element-wise float32 arithmetic of one DPM step, in the order torch evaluates diffusers' expressions:
/// each float64 coefficient is rounded to float32 once (torch casts a CPU scalar to the tensor's dtype), then
/// every multiply, subtract and add rounds to float32 separately (no fused multiply-add). Each kernel runs in
/// <see cref="ElementwiseLoop"/> (<see cref="Vector{T}"/> blocks, then a scalar tail); no allocation.
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
        switch (predictionType)
        {
            case "v_prediction":
                ElementwiseLoop.Run(new BinaryKernel<FromVelocity>(new(alphaProdT), sample, modelOutput, destination), destination.Length);
                break;
            case "epsilon":
                ElementwiseLoop.Run(new BinaryKernel<FromEpsilon>(new(alphaProdT), sample, modelOutput, destination), destination.Length);
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
        ElementwiseLoop.Run(new UpdateKernel(new Multipliers(c, secondOrder: false), sample, predOriginal, default, noise),
            sample.Length);
    }

    /// <summary>Second-order update in place: <c>D = m3·x0 − m4·x0_old</c>, <c>x ← (m1·x − m2·D) + mn·noise</c>.</summary>
    public static void SecondOrderUpdate(in DpmStepCoefficients c, Span<float> sample, ReadOnlySpan<float> predOriginal,
        ReadOnlySpan<float> oldPredOriginal, ReadOnlySpan<float> noise)
    {
        CheckLengths(sample.Length, predOriginal.Length, noise.Length);
        CheckLengths(sample.Length, oldPredOriginal.Length, noise.Length);
        if (c.Mult3 is null || c.Mult4 is null)
            throw new ArgumentException($"step {c.Index} has no second-order coefficients", nameof(c));
        ElementwiseLoop.Run(new UpdateKernel(new Multipliers(c, secondOrder: true), sample, predOriginal, oldPredOriginal, noise),
            sample.Length);
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
        if (c.SecondOrder) CheckLengths(sample.Length, oldPredOriginal.Length, noise.Length);
        var update = new UpdateKernel(new Multipliers(c, c.SecondOrder), sample, predOriginal, oldPredOriginal, noise);
        ElementwiseLoop.Run(new GuidedVelocityKernel(new ClassifierFreeGuidance.Blend(guidanceScale), uncond, cond,
            new FromVelocity(c.AlphaProdT), sample, predOriginal, update), sample.Length);
    }

    private static void CheckLengths(int a, int b, int c)
    {
        if (a != b || a != c) throw new ArgumentException($"tensor lengths differ: {a}, {b}, {c}");
    }

    /// <summary><c>x0 = √ᾱ·x − √(1−ᾱ)·v</c> from the sample and a v-prediction.</summary>
    private readonly struct FromVelocity(double alphaProdT) : IBinaryOperator
    {
        private readonly Coefficient _alpha = new(Math.Sqrt(alphaProdT)), _sigma = new(Math.Sqrt(1 - alphaProdT));

        public float Invoke(float x, float v) => _alpha.Scalar * x - _sigma.Scalar * v;

        public Vector<float> Invoke(Vector<float> x, Vector<float> v) => _alpha.Vector * x - _sigma.Vector * v;
    }

    /// <summary><c>x0 = (x − √(1−ᾱ)·ε) / √ᾱ</c> from the sample and an epsilon prediction.</summary>
    private readonly struct FromEpsilon(double alphaProdT) : IBinaryOperator
    {
        private readonly Coefficient _alpha = new(Math.Sqrt(alphaProdT)), _sigma = new(Math.Sqrt(1 - alphaProdT));

        public float Invoke(float x, float e) => (x - _sigma.Scalar * e) / _alpha.Scalar;

        public Vector<float> Invoke(Vector<float> x, Vector<float> e) => (x - _sigma.Vector * e) / _alpha.Vector;
    }

    /// <summary>A step's multipliers (<c>m3</c>, <c>m4</c> only for a second-order step) and the update they make.</summary>
    private readonly struct Multipliers(in DpmStepCoefficients c, bool secondOrder)
    {
        private readonly Coefficient _m1 = new(c.Mult1), _m2 = new(c.Mult2), _mn = new(c.MultNoise);
        private readonly Coefficient _m3 = new(secondOrder ? c.Mult3!.Value : 0), _m4 = new(secondOrder ? c.Mult4!.Value : 0);

        /// <summary>Whether the update corrects <c>x0</c> with the previous step's.</summary>
        public bool SecondOrder { get; } = secondOrder;

        /// <summary><c>D = m3·x0 − m4·x0_old</c>.</summary>
        public float Correct(float x0, float old) => _m3.Scalar * x0 - _m4.Scalar * old;

        /// <inheritdoc cref="Correct(float, float)"/>
        public Vector<float> Correct(Vector<float> x0, Vector<float> old) => _m3.Vector * x0 - _m4.Vector * old;

        /// <summary><c>x ← (m1·x − m2·D) + mn·noise</c>.</summary>
        public float Update(float x, float d, float noise) => _m1.Scalar * x - _m2.Scalar * d + _mn.Scalar * noise;

        /// <inheritdoc cref="Update(float, float, float)"/>
        public Vector<float> Update(Vector<float> x, Vector<float> d, Vector<float> noise) =>
            _m1.Vector * x - _m2.Vector * d + _mn.Vector * noise;
    }

    /// <summary>
    /// The sample update in place from <c>x0</c> (and, second order, the previous <c>x0</c>); also the tail of
    /// <see cref="GuidedVelocityKernel"/>, which hands it the <c>x0</c> it has just computed.
    /// </summary>
    private readonly ref struct UpdateKernel(Multipliers m, Span<float> sample, ReadOnlySpan<float> predOriginal,
        ReadOnlySpan<float> oldPredOriginal, ReadOnlySpan<float> noise) : IElementwiseKernel
    {
        private readonly ref float _s = ref MemoryMarshal.GetReference(sample);
        private readonly ref float _x0 = ref MemoryMarshal.GetReference(predOriginal);
        private readonly ref float _old = ref MemoryMarshal.GetReference(oldPredOriginal);
        private readonly ref float _e = ref MemoryMarshal.GetReference(noise);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Block(nuint i) => Block(i, Vector.LoadUnsafe(ref _s, i), Vector.LoadUnsafe(ref _x0, i));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Element(nuint i) => Element(i, Unsafe.Add(ref _s, i), Unsafe.Add(ref _x0, i));

        /// <summary>Updates block <paramref name="i"/>, whose sample is <paramref name="x"/>, from <paramref name="x0"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Block(nuint i, Vector<float> x, Vector<float> x0)
        {
            var d = m.SecondOrder ? m.Correct(x0, Vector.LoadUnsafe(ref _old, i)) : x0;
            m.Update(x, d, Vector.LoadUnsafe(ref _e, i)).StoreUnsafe(ref _s, i);
        }

        /// <summary>Updates element <paramref name="i"/>, whose sample is <paramref name="x"/>, from <paramref name="x0"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Element(nuint i, float x, float x0)
        {
            var d = m.SecondOrder ? m.Correct(x0, Unsafe.Add(ref _old, i)) : x0;
            Unsafe.Add(ref _s, i) = m.Update(x, d, Unsafe.Add(ref _e, i));
        }
    }

    /// <summary>Guidance, <c>x0</c> from the guided velocity (written out), then the sample update.</summary>
    private readonly ref struct GuidedVelocityKernel(ClassifierFreeGuidance.Blend guidance, ReadOnlySpan<float> uncond,
        ReadOnlySpan<float> cond, FromVelocity x0FromVelocity, Span<float> sample, Span<float> predOriginal, UpdateKernel update)
        : IElementwiseKernel
    {
        private readonly ref float _u = ref MemoryMarshal.GetReference(uncond);
        private readonly ref float _c = ref MemoryMarshal.GetReference(cond);
        private readonly ref float _s = ref MemoryMarshal.GetReference(sample);
        private readonly ref float _x0 = ref MemoryMarshal.GetReference(predOriginal);
        private readonly UpdateKernel _update = update; // a ref struct parameter can only be copied, not captured

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Block(nuint i)
        {
            var v = guidance.Invoke(Vector.LoadUnsafe(ref _u, i), Vector.LoadUnsafe(ref _c, i));
            var x = Vector.LoadUnsafe(ref _s, i);
            var x0 = x0FromVelocity.Invoke(x, v);
            x0.StoreUnsafe(ref _x0, i);
            _update.Block(i, x, x0);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Element(nuint i)
        {
            var v = guidance.Invoke(Unsafe.Add(ref _u, i), Unsafe.Add(ref _c, i));
            var x = Unsafe.Add(ref _s, i);
            var x0 = x0FromVelocity.Invoke(x, v);
            Unsafe.Add(ref _x0, i) = x0;
            _update.Element(i, x, x0);
        }
    }
}
