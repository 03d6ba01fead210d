using Tora.Motion.IO;
using Tora.Inference.Noise;
using Tora.Inference.Sampling;
using Tora.TestSupport;

namespace Tora.Inference.Tests.Sampling;

/// <summary>
/// The host side of the tiny text-to-video reference loop (4 DPM steps, CFG 6, dynamic CFG): the stored guided
/// predictions stand in for the transformer; the noise comes from seed 42, so the generator, the draw order and
/// the scheduler are checked together against the original pipeline's latents.
/// </summary>
public class TinyReferenceLoopTests
{
    private static readonly Dictionary<string, NpyArray> Loop =
        NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/t2v_loop_4steps.npz"));

    private static readonly int[] LatentShape = [1, 13, 16, 8, 12];
    private static readonly int[] FlowShape = [1, 16, 13, 8, 12];

    [Fact]
    public void Seed_42_with_the_stored_predictions_reproduces_every_step_and_the_final_latents()
    {
        var scheduler = new CogVideoXDpmScheduler(
            CogVideoXSchedulerConfig.Load(TestData.Path("fixtures/tiny-tora-t2v/scheduler/scheduler_config.json")), 4);
        Assert.Equal(Loop["timesteps"].ToInt64s().Select(t => (int)t), scheduler.Timesteps.ToArray());

        var noise = new SeededNoiseSource(42);
        noise.Skip(FlowShape, NoiseConsumer.FlowPosterior);
        var latents = new float[LatentShape.Aggregate(1, (a, b) => a * b)];
        noise.Draw(LatentShape, latents, NoiseConsumer.InitialLatents); // init_noise_sigma = 1
        var stepper = new DpmSolverStepper(scheduler, LatentShape);
        for (var k = 0; k < 4; k++)
        {
            stepper.Step(k, Loop[$"noise_pred_guided_step_{k:D2}"].ToFloats(), latents, noise);
            DpmStepGoldenTests.AssertClose(Loop[$"pred_original_sample_step_{k:D2}"].ToFloats(), stepper.PredictedOriginalSample, 1e-5, $"x0 {k}");
            var key = k < 3 ? $"latents_after_step_{k:D2}" : "final_latents";
            DpmStepGoldenTests.AssertClose(Loop[key].ToFloats(), latents, 1e-5, key);
        }
        Assert.Equal(8, noise.DrawCount);
    }

    [Fact]
    public void Guidance_scales_and_combined_predictions_match_the_reference()
    {
        var guidance = new ClassifierFreeGuidance(6.0, UseDynamicCfg: true);
        var timesteps = Loop["timesteps"].ToInt64s();
        var scales = Loop["guidance_scales"].ToDoubles();
        for (var k = 0; k < 4; k++)
            CogVideoXDpmSchedulerTests.AssertRelative(scales[k], guidance.ScaleAt((int)timesteps[k], 4), 1e-12, $"scale {k}");
        foreach (var k in new[] { 0, 3 })
        {
            var raw = Loop[$"noise_pred_raw_step_{k:D2}"].ToFloats();
            var guided = ClassifierFreeGuidance.CombineBatched(raw, scales[k]);
            DpmStepGoldenTests.AssertClose(Loop[$"noise_pred_guided_step_{k:D2}"].ToFloats(), guided, 1e-6, $"guided {k}");
        }
    }
}

public class DenoisingLoopTests
{
    private static readonly Dictionary<string, NpyArray> Loop =
        NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/t2v_loop_4steps.npz"));

    private static readonly int[] LatentShape = [1, 13, 16, 8, 12];

    /// <summary>Stands in for the transformer: returns the reference's guided prediction of each step as both
    /// halves of the batch, so that guidance gives it back exactly (u + s·0 = u).</summary>
    private sealed class ReplayedDenoiser : IDenoiser
    {
        public List<(int Timestep, bool Guided)> Calls { get; } = [];

        public ReadOnlySpan<float> Predict(ReadOnlySpan<float> latents, int step, int timestep, bool guided)
        {
            var k = Calls.Count;
            Assert.Equal(k, step);
            Calls.Add((timestep, guided));
            var v = Loop[$"noise_pred_guided_step_{k:D2}"].ToFloats();
            if (!guided) return v;
            var prediction = new float[2 * v.Length];
            v.CopyTo(prediction, 0);
            v.CopyTo(prediction, v.Length);
            return prediction;
        }
    }

    private sealed class Recorder : IProgress<GenerationProgress>
    {
        public List<GenerationProgress> Reports { get; } = [];
        public void Report(GenerationProgress value) => Reports.Add(value);
    }

    [Theory]
    [InlineData(6.0)]
    [InlineData(1.0)]
    public void The_loop_from_seed_42_reproduces_the_reference_final_latents(double guidanceScale)
    {
        var scheduler = new CogVideoXDpmScheduler(CogVideoXSchedulerConfig.CogVideoX5B, 4);
        var loop = new DenoisingLoop(scheduler, new ClassifierFreeGuidance(guidanceScale), LatentShape);
        var noise = new SeededNoiseSource(42);
        noise.Skip([1, 16, 13, 8, 12], NoiseConsumer.FlowPosterior);
        var latents = new float[loop.LatentLength];
        loop.DrawInitialLatents(noise, latents);
        var denoiser = new ReplayedDenoiser();
        var progress = new Recorder();
        loop.Run(latents, denoiser, noise, progress);

        DpmStepGoldenTests.AssertClose(Loop["final_latents"].ToFloats(), latents, 1e-5, "final latents");
        DpmStepGoldenTests.AssertClose(Loop["pred_original_sample_step_03"].ToFloats(), loop.Stepper.PredictedOriginalSample, 1e-5, "last x0");
        Assert.Equal([(999, guidanceScale > 1), (749, guidanceScale > 1), (499, guidanceScale > 1), (249, guidanceScale > 1)], denoiser.Calls);
        Assert.Equal([1, 2, 3, 4], progress.Reports.Select(r => r.Step));
        Assert.All(progress.Reports, r => Assert.Equal(4, r.TotalSteps));
        Assert.Equal(8, noise.DrawCount);
    }

    [Fact]
    public void Cancellation_stops_between_steps()
    {
        var scheduler = new CogVideoXDpmScheduler(CogVideoXSchedulerConfig.CogVideoX5B, 4);
        var loop = new DenoisingLoop(scheduler, new ClassifierFreeGuidance(), LatentShape);
        using var cts = new CancellationTokenSource();
        var denoiser = new ReplayedDenoiser();
        var progress = new CancelAfter(2, cts);
        var latents = new float[loop.LatentLength];
        Assert.Throws<OperationCanceledException>(() => loop.Run(latents, denoiser, new SeededNoiseSource(1), progress, cts.Token));
        Assert.Equal(2, denoiser.Calls.Count);
        Assert.Throws<ArgumentException>(() => loop.Run(new float[3], denoiser, new SeededNoiseSource(1)));
    }

    private sealed class CancelAfter(int steps, CancellationTokenSource cts) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value)
        {
            if (value.Step == steps) cts.Cancel();
        }
    }
}
