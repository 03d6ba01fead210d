using Tora.Motion.IO;
using Tora.Inference.Noise;
using Tora.Inference.Sampling;
using Tora.TestSupport;

namespace Tora.Inference.Tests.Sampling;

public class DpmStepGoldenTests
{
    private static readonly CogVideoXDpmScheduler Scheduler = new(CogVideoXSchedulerConfig.CogVideoX5B, 50);

    [Theory]
    [InlineData("step0", 0)]
    [InlineData("step1", 1)]
    [InlineData("step25", 25)]
    public void A_single_step_matches_diffusers_with_explicit_noise(string name, int index)
    {
        var z = NpzFile.Read(TestData.Path($"golden/sampler/scheduler_{name}.npz"));
        var c = Scheduler.Step(index);
        var sample = z["sample"].ToFloats();
        var x0 = new float[sample.Length];
        DpmSolverKernels.PredictOriginalSample("v_prediction", c.AlphaProdT, sample, z["model_output_v"].ToFloats(), x0);
        if (c.SecondOrder)
            DpmSolverKernels.SecondOrderUpdate(c, sample, x0, z["old_pred_original_sample"].ToFloats(), z["noise2"].ToFloats());
        else
            DpmSolverKernels.FirstOrderUpdate(c, sample, x0, z["noise1"].ToFloats());
        AssertClose(z["pred_original_sample"].ToFloats(), x0, 1e-5, $"{name} pred_original_sample");
        AssertClose(z["prev_sample"].ToFloats(), sample, 1e-5, $"{name} prev_sample");
    }

    [Fact]
    public void The_fifty_step_toy_loop_with_dynamic_guidance_matches_every_step()
    {
        var z = NpzFile.Read(TestData.Path("golden/sampler/toy_loop_diffusers.npz"));
        var noises = z["noises"];
        var shape = noises.Shape[1..];
        var length = shape.Aggregate(1, (a, b) => a * b);
        var all = noises.ToFloats();
        var draws = new Dictionary<string, NpyArray>();
        for (var k = 0; k < noises.Shape[0]; k++)
            draws[$"noise_{k:D3}"] = NpyArray.FromFloats(all.AsSpan(k * length, length), shape);
        var noise = new ReplayNoiseSource(draws);
        var expected = z["latents_after_each_step"].ToFloats();

        var guidance = new ClassifierFreeGuidance(6.0, UseDynamicCfg: true);
        var stepper = new DpmSolverStepper(Scheduler, shape);
        var latents = z["x_init"].ToFloats();
        var batch = new float[2 * length];
        for (var i = 0; i < 50; i++)
        {
            var t = Scheduler.Timesteps[i];
            ToyModel(latents, t, batch);
            var guided = ClassifierFreeGuidance.CombineBatched(batch, guidance.ScaleAt(t, 50));
            stepper.Step(i, guided, latents, noise);
            AssertClose(expected.AsSpan(i * length, length), latents, 1e-5, $"latents after step {i}");
        }
        Assert.Equal(98, noise.DrawCount);
    }

    [Theory]
    [InlineData("v_prediction")]
    [InlineData("epsilon")]
    public void The_fused_guided_step_equals_guidance_then_step_bit_for_bit(string predictionType)
    {
        var z = NpzFile.Read(TestData.Path("golden/sampler/toy_loop_diffusers.npz"));
        var shape = z["noises"].Shape[1..];
        var scheduler = new CogVideoXDpmScheduler(CogVideoXSchedulerConfig.CogVideoX5B with { PredictionType = predictionType }, 50);
        var guidance = new ClassifierFreeGuidance();
        var fused = new DpmSolverStepper(scheduler, shape);
        var plain = new DpmSolverStepper(scheduler, shape);
        var fusedNoise = new SeededNoiseSource(3);
        var plainNoise = new SeededNoiseSource(3);
        var a = z["x_init"].ToFloats();
        var b = (float[])a.Clone();
        var batch = new float[2 * a.Length];
        for (var i = 0; i < 50; i++)
        {
            var t = scheduler.Timesteps[i];
            var scale = guidance.ScaleAt(t, 50);
            ToyModel(a, t, batch);
            fused.GuidedStep(i, batch, scale, a, fusedNoise);
            ToyModel(b, t, batch);
            plain.Step(i, ClassifierFreeGuidance.CombineBatched(batch, scale), b, plainNoise);
            TorchGeneratorTests.AssertBitwiseEqual(b, a, $"{predictionType} step {i}");
            TorchGeneratorTests.AssertBitwiseEqual(plain.PredictedOriginalSample, fused.PredictedOriginalSample, $"{predictionType} x0 {i}");
        }
        Assert.Equal(98, fusedNoise.DrawCount);
        Assert.Throws<ArgumentException>(() => fused.GuidedStep(50, new float[3], 6, a, fusedNoise));
    }

    [Fact]
    public void Noise_prepared_ahead_gives_the_same_steps_and_consumes_the_same_draws()
    {
        int[] shape = [1, 2, 16, 4, 6];
        var ahead = new DpmSolverStepper(Scheduler, shape);
        var inline = new DpmSolverStepper(Scheduler, shape);
        var aheadNoise = new SeededNoiseSource(8);
        var inlineNoise = new SeededNoiseSource(8);
        var a = new float[ahead.Length];
        new TorchGenerator(9).Randn(a);
        var b = (float[])a.Clone();
        var batch = new float[2 * a.Length];
        for (var i = 0; i < 50; i++)
        {
            ToyModel(a, Scheduler.Timesteps[i], batch);
            ahead.PrepareNoise(i, aheadNoise);
            ahead.PrepareNoise(i, aheadNoise); // idempotent
            ahead.GuidedStep(i, batch, 3.0, a, aheadNoise);
            inline.GuidedStep(i, batch, 3.0, b, inlineNoise);
            TorchGeneratorTests.AssertBitwiseEqual(b, a, $"step {i}");
        }
        Assert.Equal(98, aheadNoise.DrawCount);
        Assert.Throws<InvalidOperationException>(() => ahead.PrepareNoise(50, aheadNoise));
        ahead.Reset();
        Assert.Throws<InvalidOperationException>(() => ahead.PrepareNoise(3, aheadNoise));
    }

    /// <summary>sampler.json toy_loop: v_uncond = 0.6·tanh(x); v_text = 0.8·tanh(x) + 0.05·sin(t/100), batched [uncond, cond].</summary>
    private static void ToyModel(ReadOnlySpan<float> x, int t, Span<float> batch)
    {
        var n = x.Length;
        var shift = 0.05f * MathF.Sin(t / 100f);
        for (var i = 0; i < n; i++)
        {
            var th = MathF.Tanh(x[i]);
            batch[i] = 0.6f * th;
            batch[n + i] = 0.8f * th + shift;
        }
    }

    [Fact]
    public void Steps_must_run_in_order()
    {
        var stepper = new DpmSolverStepper(Scheduler, [1, 2, 16, 4, 6]);
        var latents = new float[stepper.Length];
        var e = Assert.Throws<InvalidOperationException>(() => stepper.Step(1, latents, latents, new SeededNoiseSource(0)));
        Assert.Contains("next step is 0", e.Message);
        Assert.Throws<ArgumentException>(() => stepper.Step(0, new float[3], latents, new SeededNoiseSource(0)));
    }

    [Fact]
    public void Guidance_combines_uncond_and_cond_in_float32_as_torch()
    {
        float[] batch = [1f, -2f, 0.5f, 3f, 0.1f, 7f, 4f, -1f, 2f, 1f, 2.5f, -3f, 0.3f, -7f, 4.5f, -1.25f, 0.75f, 1.5f];
        var half = batch.Length / 2;
        var expected = new float[half];
        var s = (float)4.755880591967707;
        for (var i = 0; i < half; i++) expected[i] = batch[i] + s * (batch[half + i] - batch[i]);
        var guided = ClassifierFreeGuidance.CombineBatched(batch, 4.755880591967707);
        TorchGeneratorTests.AssertBitwiseEqual(expected, guided, "guided");
        Assert.Throws<ArgumentException>(() => ClassifierFreeGuidance.CombineBatched(new float[3], 2.0));
    }

    internal static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0;
        var at = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            var d = Math.Abs((double)expected[i] - actual[i]);
            if (!(d <= max)) { max = d; at = i; }
        }
        Assert.True(max <= tolerance, $"{what}: max abs difference {max:E3} at {at} (expected {expected[at]:R}, got {actual[at]:R})");
    }
}
