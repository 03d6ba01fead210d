using System.Numerics;
using Tora.Inference.Noise;
using Tora.Inference.Sampling;

namespace Tora.Inference.Tests.Sampling;

/// <summary>
/// Every vectorised step kernel against a plain scalar loop of the same float32 operations, bit for bit, on lengths
/// that leave a scalar tail after the vector part (and on lengths shorter than one vector).
/// </summary>
public class ElementwiseKernelTests
{
    private static readonly CogVideoXDpmScheduler Scheduler = new(CogVideoXSchedulerConfig.CogVideoX5B, 50);

    public static TheoryData<int> Lengths() =>
        [1, 7, Vector<float>.Count + 5, 3 * Vector<float>.Count + 1, 1001];

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Guidance_matches_the_scalar_loop(int n)
    {
        var (u, c) = (Random(n, 1), Random(n, 2));
        const double scale = 4.755880591967707;
        var actual = new float[n];
        ClassifierFreeGuidance.Combine(u, c, scale, actual);

        var s = (float)scale;
        var expected = new float[n];
        for (var i = 0; i < n; i++) expected[i] = u[i] + s * (c[i] - u[i]);
        AssertBits(expected, actual);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Guidance_in_place_on_the_batch_matches_the_scalar_loop(int n)
    {
        var batch = Random(2 * n, 3);
        var expected = new float[n];
        var s = (float)1.5;
        for (var i = 0; i < n; i++) expected[i] = batch[i] + s * (batch[n + i] - batch[i]);
        var guided = ClassifierFreeGuidance.CombineBatched(batch, 1.5);
        AssertBits(expected, guided.ToArray());
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Each_prediction_type_matches_the_scalar_loop(int n)
    {
        var (x, v) = (Random(n, 4), Random(n, 5));
        const double alpha = 0.64;
        float a = (float)Math.Sqrt(alpha), b = (float)Math.Sqrt(1 - alpha);

        var velocity = new float[n];
        var epsilon = new float[n];
        var sample = new float[n];
        DpmSolverKernels.PredictOriginalSample("v_prediction", alpha, x, v, velocity);
        DpmSolverKernels.PredictOriginalSample("epsilon", alpha, x, v, epsilon);
        DpmSolverKernels.PredictOriginalSample("sample", alpha, x, v, sample);

        var expectedVelocity = new float[n];
        var expectedEpsilon = new float[n];
        for (var i = 0; i < n; i++)
        {
            expectedVelocity[i] = a * x[i] - b * v[i];
            expectedEpsilon[i] = (x[i] - b * v[i]) / a;
        }
        AssertBits(expectedVelocity, velocity);
        AssertBits(expectedEpsilon, epsilon);
        AssertBits(v, sample);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void The_first_and_second_order_updates_match_the_scalar_loop(int n)
    {
        foreach (var step in new[] { 0, 25 })
        {
            var c = Scheduler.Step(step);
            Assert.Equal(step > 0, c.SecondOrder);
            var (x, x0, old, e) = (Random(n, 9), Random(n, 10), Random(n, 11), Random(n, 12));
            var actual = (float[])x.Clone();
            if (c.SecondOrder) DpmSolverKernels.SecondOrderUpdate(c, actual, x0, old, e);
            else DpmSolverKernels.FirstOrderUpdate(c, actual, x0, e);

            float m1 = (float)c.Mult1, m2 = (float)c.Mult2, mn = (float)c.MultNoise;
            var expected = new float[n];
            for (var i = 0; i < n; i++)
            {
                var d = c.SecondOrder ? (float)c.Mult3!.Value * x0[i] - (float)c.Mult4!.Value * old[i] : x0[i];
                expected[i] = m1 * x[i] - m2 * d + mn * e[i];
            }
            AssertBits(expected, actual);
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void The_fused_guided_step_matches_the_scalar_loop_at_first_and_second_order(int n)
    {
        foreach (var step in new[] { 0, 25, 49 })
        {
            var c = Scheduler.Step(step);
            var (u, t, x, old, e) = (Random(n, 13), Random(n, 14), Random(n, 15), Random(n, 16), Random(n, 17));
            const double scale = 3.25;
            var sample = (float[])x.Clone();
            var x0 = new float[n];
            DpmSolverKernels.GuidedVelocityStep(c, u, t, scale, sample, x0, c.SecondOrder ? old : [], e);

            float g = (float)scale, a = (float)Math.Sqrt(c.AlphaProdT), b = (float)Math.Sqrt(1 - c.AlphaProdT);
            float m1 = (float)c.Mult1, m2 = (float)c.Mult2, mn = (float)c.MultNoise;
            var expectedSample = new float[n];
            var expectedX0 = new float[n];
            for (var i = 0; i < n; i++)
            {
                var v = u[i] + g * (t[i] - u[i]);
                var p = a * x[i] - b * v;
                expectedX0[i] = p;
                var d = c.SecondOrder ? (float)c.Mult3!.Value * p - (float)c.Mult4!.Value * old[i] : p;
                expectedSample[i] = m1 * x[i] - m2 * d + mn * e[i];
            }
            AssertBits(expectedX0, x0);
            AssertBits(expectedSample, sample);
        }
    }

    private static float[] Random(int n, int seed)
    {
        var values = new float[n];
        new TorchGenerator((ulong)seed).Randn(values);
        return values;
    }

    private static void AssertBits(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"element {i} of {expected.Length}: expected {expected[i]:R}, got {actual[i]:R}");
    }
}
